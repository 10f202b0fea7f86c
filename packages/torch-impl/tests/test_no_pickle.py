"""No file a user passes is unpickled: every loader path refuses a crafted pickle with one line, its payload unrun.

Each payload (:mod:`enhancenet_runtime.testing_pickle`) would create a marker file if anything unpickled it; the
formats are a plain pickle and torch's zip archive, under ``.pt`` / ``.pth`` names and disguised as
``.safetensors``. The paths: ``eval``, ``predict``, ``export``, resuming ``train`` (a pickle where the checkpoint
should be, and an old ``checkpoint_last.pt``), ``enhancenet-convert`` (front end and torch back end),
``read_state_dict`` / ``load_hrnet_checkpoint`` / a ``model.base.pretrained`` backbone. ``--trust-pickle`` is the
only way in, and even it cannot run a payload (a restricted unpickler refuses the callable, in one line).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from enhancenet_runtime.convert import main as convert_main
from enhancenet_runtime.testing import (
    assert_cli_error,
    eval_argv,
    predict_argv,
    set_args,
    synth_argv,
    train_argv,
)
from enhancenet_runtime.testing_pickle import assert_refused, payload_files, write_payload
from enhancenet_torch.cli import main
from enhancenet_torch.convert import main as backend_main
from enhancenet_torch.models import build_model
from enhancenet_torch.weights import load_hrnet_checkpoint, read_state_dict

PROG = "enhancenet-torch"


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("nopickle") / "synth"
    assert main(synth_argv(root, 4)) == 0
    return root


@pytest.fixture
def payloads(tmp_path: Path) -> tuple[list[Path], Path]:
    marker = tmp_path / "PWNED"
    return payload_files(tmp_path / "payloads", (".pt", ".pth"), marker), marker


def _refused(capsys: pytest.CaptureFixture[str], code: int, path: Path, marker: Path, prog: str = PROG) -> None:
    line = assert_cli_error(code, capsys.readouterr().err, prog, path.name)
    assert_refused(line, path, marker)


def test_eval_predict_export_refuse_pickles(synth: Path, payloads, tmp_path: Path, capsys) -> None:
    files, marker = payloads
    image = sorted((synth / "images" / "val").iterdir())[0]
    for path in files:
        _refused(capsys, main(eval_argv(path, tmp_path / "ev", synth)), path, marker)
        _refused(capsys, main(predict_argv(path, image, ["1,1,30,30"], tmp_path / "p.png", synth)), path, marker)
        _refused(capsys, main(["export", "synthetic_quick", str(path), str(tmp_path / "m.onnx"),
                               *set_args(synth)]), path, marker)  # fmt: skip
    assert not (tmp_path / "ev").exists() and not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("kind", ["plain", "zip"])
def test_resume_refuses_a_pickle_checkpoint(synth: Path, tmp_path: Path, kind: str, capsys) -> None:
    marker = tmp_path / "PWNED"
    run = tmp_path / "run"
    run.mkdir()
    disguised = write_payload(run / "checkpoint_last.safetensors", marker, kind)
    _refused(capsys, main(train_argv(synth, run)), disguised, marker)
    disguised.unlink()
    old = write_payload(run / "checkpoint_last.pt", marker, kind)  # an earlier version's run directory
    _refused(capsys, main(train_argv(synth, run)), old, marker)
    assert not (run / "checkpoint_last.safetensors").exists()


def test_converter_refuses_pickles_unless_trusted(payloads, tmp_path: Path, capsys) -> None:
    files, marker = payloads
    dst = tmp_path / "w.safetensors"
    for path in files:
        _refused(capsys, convert_main([str(path), str(dst), "--config", "synthetic_quick"]), path, marker,
                 "enhancenet-convert:")
        code = backend_main(["convert", str(path), str(dst)])
        _refused(capsys, code, path, marker, "enhancenet_torch.convert:")
        assert not dst.exists()
    # even the opt-in cannot run the payload: the restricted unpickler refuses the callable it names, in one line
    trusted = next(p for p in files if p.suffix == ".pt")
    assert backend_main(["convert", str(trusted), str(dst), "--trust-pickle"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and str(trusted) in err
    assert not marker.exists() and not dst.exists()


def test_weight_readers_refuse_pickles(synth: Path, payloads, capsys) -> None:
    files, marker = payloads
    from enhancenet_core.config import load_config, shipped_config_path
    from enhancenet_core.safetensors_io import PickleRefusedError

    cfg = load_config(shipped_config_path("synthetic_quick"))
    model = build_model(cfg.model)
    for path in files:
        for load in (lambda p: read_state_dict(p), lambda p: load_hrnet_checkpoint(model, p)):
            with pytest.raises(PickleRefusedError) as info:
                load(path)
            assert_refused(str(info.value), path, marker)
        argv = ["train", "synthetic_quick", "--out", str(path.parent / "r"), "--no-progress",
                *set_args(synth, f"model.base.pretrained={path}")]  # fmt: skip
        _refused(capsys, main(argv), path, marker)
