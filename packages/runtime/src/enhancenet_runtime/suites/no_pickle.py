"""No file a user passes is unpickled: every loader path refuses a crafted pickle with one line, its payload unrun.

Each payload (:mod:`enhancenet_runtime.testing_pickle`) would create a marker file if anything unpickled it; the
formats are a plain pickle (``paddle.save``'s) and torch's zip archive, under the framework's pickle suffixes and
disguised as ``.safetensors``. The paths: ``eval``, ``predict``, ``export``, resuming ``train`` (a pickle where the
checkpoint should be, and an earlier version's pickled ``checkpoint_last``), ``enhancenet-convert`` (front end and
the framework's back end), the framework's weight readers and a ``model.base.pretrained`` backbone.
``--trust-pickle`` is the only way in, and even it cannot run a payload (a restricted unpickler refuses the
callable, in one line). For frameworks whose back end reads pickles (torch, paddle); MindSpore, which never
unpickles, tests its refusals in its own ``test_no_pickle.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import pytest

from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_core.safetensors_io import PickleRefusedError
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


class Binding(Protocol):
    """What :class:`NoPickleSuite` needs from a framework."""

    #: the program name in error messages ("enhancenet-torch") and the CLI entry point
    cli_prog: str
    cli_main: Callable[[Sequence[str]], int]
    build_model: Callable[[Any], Any]
    #: the suffixes a user might give the framework's pickles ((".pt", ".pth") for torch)
    pickle_suffixes: tuple[str, ...]
    #: the suffix of an earlier version's pickled training checkpoint (".pt", ".pdckpt")
    legacy_checkpoint_suffix: str
    #: the suffix ``--trust-pickle`` opens in the back end (".pt", ".pdparams")
    trusted_pickle_suffix: str
    #: the converter back end (``enhancenet_torch.convert.main``) and its error prefix
    convert_backend: Callable[[Sequence[str]], int]
    convert_backend_prog: str

    def pickle_readers(self, model: Any) -> list[Callable[[Path], Any]]:
        """The framework's weight readers, each ``path -> ...`` (``read_state_dict``, ``load_hrnet_checkpoint``)."""


def _refused(capsys: pytest.CaptureFixture[str], code: int, path: Path, marker: Path, prog: str) -> None:
    line = assert_cli_error(code, capsys.readouterr().err, prog, path.name)
    assert_refused(line, path, marker)


class NoPickleSuite:
    """eval / predict / export, resume, the converters and the weight readers refuse pickles."""

    @pytest.fixture(scope="class")
    def synth(self, binding: Binding, tmp_path_factory: pytest.TempPathFactory) -> Path:
        root = tmp_path_factory.mktemp("nopickle") / "synth"
        assert binding.cli_main(synth_argv(root, 4)) == 0
        return root

    @pytest.fixture
    def payloads(self, binding: Binding, tmp_path: Path) -> tuple[list[Path], Path]:
        marker = tmp_path / "PWNED"
        return payload_files(tmp_path / "payloads", binding.pickle_suffixes, marker), marker

    def test_eval_predict_export_refuse_pickles(self, binding: Binding, synth: Path, payloads, tmp_path: Path,
                                                capsys) -> None:
        files, marker = payloads
        main, prog = binding.cli_main, binding.cli_prog
        image = sorted((synth / "images" / "val").iterdir())[0]
        for path in files:
            _refused(capsys, main(eval_argv(path, tmp_path / "ev", synth)), path, marker, prog)
            _refused(capsys, main(predict_argv(path, image, ["1,1,30,30"], tmp_path / "p.png", synth)), path, marker,
                     prog)
            _refused(capsys, main(["export", "synthetic_quick", str(path), str(tmp_path / "m.onnx"),
                                   *set_args(synth)]), path, marker, prog)  # fmt: skip
        assert not (tmp_path / "ev").exists() and not (tmp_path / "p.png").exists()

    @pytest.mark.parametrize("kind", ["plain", "zip"])
    def test_resume_refuses_a_pickle_checkpoint(self, binding: Binding, synth: Path, tmp_path: Path, kind: str,
                                                capsys) -> None:
        marker = tmp_path / "PWNED"
        run = tmp_path / "run"
        run.mkdir()
        disguised = write_payload(run / "checkpoint_last.safetensors", marker, kind)
        _refused(capsys, binding.cli_main(train_argv(synth, run)), disguised, marker, binding.cli_prog)
        disguised.unlink()
        old = write_payload(run / f"checkpoint_last{binding.legacy_checkpoint_suffix}", marker, kind)  # an earlier
        _refused(capsys, binding.cli_main(train_argv(synth, run)), old, marker, binding.cli_prog)  # version's run
        assert not (run / "checkpoint_last.safetensors").exists()

    def test_converter_refuses_pickles_unless_trusted(self, binding: Binding, payloads, tmp_path: Path,
                                                      capsys) -> None:
        files, marker = payloads
        dst = tmp_path / "w.safetensors"
        for path in files:
            _refused(capsys, convert_main([str(path), str(dst), "--config", "synthetic_quick"]), path, marker,
                     "enhancenet-convert:")
            code = binding.convert_backend(["convert", str(path), str(dst)])
            _refused(capsys, code, path, marker, binding.convert_backend_prog)
            assert not dst.exists()
        # even the opt-in cannot run the payload: the restricted unpickler refuses the callable it names, in one line
        trusted = next(p for p in files if p.suffix == binding.trusted_pickle_suffix)
        assert binding.convert_backend(["convert", str(trusted), str(dst), "--trust-pickle"]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and str(trusted) in err
        assert not marker.exists() and not dst.exists()

    def test_weight_readers_refuse_pickles(self, binding: Binding, synth: Path, payloads, capsys) -> None:
        files, marker = payloads
        model = binding.build_model(load_config(shipped_config_path("synthetic_quick")).model)
        for path in files:
            for load in binding.pickle_readers(model):
                with pytest.raises(PickleRefusedError) as info:
                    load(path)
                assert_refused(str(info.value), path, marker)
            argv = ["train", "synthetic_quick", "--out", str(path.parent / "r"), "--no-progress",
                    *set_args(synth, f"model.base.pretrained={path}")]  # fmt: skip
            _refused(capsys, binding.cli_main(argv), path, marker, binding.cli_prog)
