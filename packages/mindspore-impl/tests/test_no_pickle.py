"""MindSpore never unpickles (``.ckpt`` is protobuf, the state JSON), and a pickle passed to it gets the same
one-line refusal as in the other frameworks, naming ``.safetensors`` and ``--trust-pickle``, its payload unrun:
``eval``, ``predict``, resuming ``train`` (a pickle where ``checkpoint_last.ckpt`` should be), the weight readers
and a ``model.base.pretrained`` backbone."""

from __future__ import annotations

from pathlib import Path

import pytest

from enhancenet_mindspore.cli import main
from enhancenet_mindspore.weights import read_state_dict
from enhancenet_runtime.testing import (
    assert_cli_error,
    eval_argv,
    predict_argv,
    set_args,
    synth_argv,
    train_argv,
)
from enhancenet_runtime.testing_pickle import assert_refused, payload_files, write_payload

PROG = "enhancenet-mindspore"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nopickle") / "synth"
    assert main(synth_argv(root, 4)) == 0
    return root


def _refused(capsys: pytest.CaptureFixture[str], code: int, path: Path, marker: Path) -> None:
    assert_refused(assert_cli_error(code, capsys.readouterr().err, PROG, path.name), path, marker)


def test_cli_paths_refuse_pickles(synth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "PWNED"
    files = payload_files(tmp_path / "payloads", (".pt", ".pdparams", ".ckpt"), marker)
    image = sorted((synth / "images" / "val").iterdir())[0]
    for path in files:
        _refused(capsys, main(eval_argv(path, tmp_path / "ev", synth)), path, marker)
        with pytest.raises(ValueError) as info:
            read_state_dict(path)
        assert_refused(str(info.value), path, marker)
    path = files[0]
    _refused(capsys, main(predict_argv(path, image, ["1,1,30,30"], tmp_path / "p.png", synth)), path, marker)
    argv = ["train", "synthetic_quick", "--out", str(tmp_path / "r"), "--no-progress",
            *set_args(synth, f"model.base.pretrained={path}")]  # fmt: skip
    _refused(capsys, main(argv), path, marker)


def test_resume_refuses_a_pickle_checkpoint(synth: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    marker = tmp_path / "PWNED"
    run = tmp_path / "run"
    run.mkdir()
    for kind in ("plain", "zip"):
        disguised = write_payload(run / "checkpoint_last.ckpt", marker, kind)
        _refused(capsys, main(train_argv(synth, run)), disguised, marker)
