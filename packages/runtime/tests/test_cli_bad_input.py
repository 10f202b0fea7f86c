"""Bad input through the shared command line: exit status 2, exactly one line on stderr naming the file or
field, no handler run, no output written or replaced; --version on every CLI; missing extras named."""

from __future__ import annotations

import argparse
import importlib.util
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from enhancenet_runtime.engine.cli import FrameworkCommands, build_parser, guard_main, run_cli
from enhancenet_runtime.engine.inputs import MAX_IMAGE_PIXELS, check_image_file, image_header_size


def _png_header_only(w: int, h: int) -> bytes:
    """A PNG whose IHDR claims w x h pixels, with a tiny (wrong) IDAT."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b"")


class Recorder:
    def __init__(self) -> None:
        self.ran: list[str] = []

    def __call__(self, name: str, error: BaseException | None = None):
        def run(args: argparse.Namespace) -> int:
            self.ran.append(name)
            if error is not None:
                raise error
            return 0
        return run


def _parser(rec: Recorder, export_error: BaseException | None = None) -> argparse.ArgumentParser:
    return build_parser("enhancenet-dummy", "test", FrameworkCommands(
        train=rec("train"), evaluate=rec("eval"), predict=rec("predict"), export=rec("export", export_error)))


def _refused(capsys, parser, argv, *words) -> str:
    assert run_cli(parser, argv) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert err.count("\n") == 1 and err.startswith(f"{parser.prog} {argv[0]}: error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in err, err
    return err


@pytest.fixture()
def image(tmp_path: Path) -> Path:
    p = tmp_path / "person.png"
    p.write_bytes(cv2.imencode(".png", np.full((60, 40, 3), 128, np.uint8))[1].tobytes())
    return p


def test_predict_refuses_empty_and_oversized_images_before_any_handler(tmp_path, capsys):
    rec = Recorder()
    p = _parser(rec)
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    _refused(capsys, p, ["predict", "synthetic_quick", "ck.pt", str(empty), "--boxes", "0,0,5,5"], str(empty), "empty")
    huge = tmp_path / "huge.png"
    huge.write_bytes(_png_header_only(100_000, 100_000))
    _refused(capsys, p, ["predict", "synthetic_quick", "ck.pt", str(huge), "--boxes", "0,0,5,5"],
             str(huge), "100000x100000", f"{MAX_IMAGE_PIXELS:,}")
    garbage = tmp_path / "garbage.png"
    garbage.write_bytes(b"not an image at all")
    assert check_image_file(garbage) is None  # unknown header: left to the decoder, which refuses it by name
    assert rec.ran == [] and not list(tmp_path.glob("*.pose.*"))


def test_header_sizes_of_common_formats(tmp_path):
    img = np.zeros((37, 53, 3), np.uint8)
    for ext in (".png", ".jpg", ".bmp", ".webp"):
        ok, buf = cv2.imencode(ext, img)
        assert ok
        assert image_header_size(buf.tobytes()[:65536]) == (53, 37), ext
    assert image_header_size(_png_header_only(7, 9)) == (7, 9)


def test_read_image_turns_decoder_errors_into_one_named_line(tmp_path):
    from enhancenet_runtime.data.image import read_image

    for name, data in (("empty.png", b""), ("huge.png", _png_header_only(100_000, 100_000)), ("bad.jpg", b"\xff\xd8xx")):
        f = tmp_path / name
        f.write_bytes(data)
        with pytest.raises(ValueError) as info:
            read_image(f)
        assert str(f) in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("box, words", [
    ("0,0,1e308,10", ["box #1", "times the image"]),
    ("0,0,10,1e308", ["box #1", "times the image"]),
    ("500,0,10,10", ["lies outside the image (40x60 pixels)"]),
    ("0,0,inf,10", ["four numbers"]),
    ("0,0,-3,10", ["positive"]),
])
def test_predict_boxes_are_checked_against_the_image_up_front(image, capsys, box, words, monkeypatch):
    from enhancenet_runtime.engine.cli import default_predict_out

    rec = Recorder()
    monkeypatch.chdir(image.parent)
    out = default_predict_out(image)
    assert out == Path("runs") / "predict" / f"{image.stem}.pose.png"  # under runs/, not beside the image
    out.parent.mkdir(parents=True)
    out.write_bytes(b"previous output")
    _refused(capsys, _parser(rec), ["predict", "synthetic_quick", "ck.pt", str(image), "--boxes", "0,0,10,10", box],
             "--boxes", *words)
    assert rec.ran == [] and out.read_bytes() == b"previous output"


def test_predict_without_boxes_takes_the_whole_image(image, capsys):
    rec = Recorder()
    seen = []
    parser = build_parser("enhancenet-dummy", "test", FrameworkCommands(
        train=rec("train"), evaluate=rec("eval"), predict=lambda args: seen.append(args.boxes) or 0,
        export=rec("export")))
    assert run_cli(parser, ["predict", "synthetic_quick", "ck.pt", str(image)]) == 0
    assert seen == [None]  # predict_picture then crops the whole image (test_engine_cli_visualize)


def test_predict_never_writes_over_its_input_image(image, capsys):
    rec = Recorder()
    before = image.read_bytes()
    _refused(capsys, _parser(rec), ["predict", "synthetic_quick", "ck.pt", str(image), "--boxes", "0,0,10,10",
                                    "--out", str(image)], "--out", "input image")
    assert rec.ran == [] and image.read_bytes() == before


def test_missing_matplotlib_names_the_plot_extra(image, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises ImportError
    rec = Recorder()
    err = _refused(capsys, _parser(rec), ["predict", "synthetic_quick", "ck.pt", str(image), "--boxes", "0,0,10,10"],
                   "matplotlib", "pip install 'enhancenet-dummy[plot]'")
    assert rec.ran == [], err


def test_missing_onnx_in_a_handler_names_the_onnx_extra(capsys):
    missing = ModuleNotFoundError("No module named 'onnx'", name="onnx")
    _refused(capsys, _parser(Recorder(), export_error=missing), ["export", "synthetic_quick", "ck", "out.onnx"],
             "onnx is not installed", "pip install 'enhancenet-dummy[onnx]'")
    paddle_style = ImportError("export_onnx needs paddle2onnx: pip install paddle2onnx")
    _refused(capsys, _parser(Recorder(), export_error=paddle_style), ["export", "synthetic_quick", "ck", "o"],
             "paddle2onnx", "[onnx]")
    other = ModuleNotFoundError("No module named 'enhancenet_nothing'", name="enhancenet_nothing")
    with pytest.raises(ModuleNotFoundError):  # not an optional extra: a broken install keeps its traceback
        run_cli(_parser(Recorder(), export_error=other), ["export", "synthetic_quick", "ck", "o"])


def test_guard_main_prints_multi_line_messages_on_one_line(capsys):
    def body() -> int:
        raise ValueError("w.safetensors: 2 tensor(s) do not fit the model:\n  missing a\n  wrong shape b")
    assert guard_main("enhancenet-x eval", body) == 2
    err = capsys.readouterr().err
    assert err == "enhancenet-x eval: error: w.safetensors: 2 tensor(s) do not fit the model: missing a; wrong shape b\n"
    assert guard_main("enhancenet-x eval", lambda: (_ for _ in ()).throw(RecursionError("deep"))) == 2
    assert guard_main("enhancenet-x eval", lambda: (_ for _ in ()).throw(IsADirectoryError(21, "Is a directory", "d"))) == 2


def test_argparse_refusals_are_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        run_cli(_parser(Recorder()), ["predict", "synthetic_quick"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error: the following arguments are required" in err and "--help" in err


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as info:
        run_cli(_parser(Recorder()), ["--version"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("enhancenet-dummy ") and "enhancenet-runtime" in out and "enhancenet-core" in out


CLIS = [
    ("enhancenet_runtime.cli", "enhancenet-spec"),
    ("enhancenet_runtime.convert", "enhancenet-convert"),
    ("enhancenet_torch.cli", "enhancenet-torch"),
    ("enhancenet_paddle.cli", "enhancenet-paddle"),
    ("enhancenet_mindspore.cli", "enhancenet-mindspore"),
]


@pytest.mark.parametrize("module, prog", CLIS, ids=[p for _, p in CLIS])
def test_every_cli_has_version(module, prog):
    top = module.split(".")[0]
    framework = {"enhancenet_torch": "torch", "enhancenet_paddle": "paddle", "enhancenet_mindspore": "mindspore"}.get(top)
    if importlib.util.find_spec(top) is None or (framework and importlib.util.find_spec(framework) is None):
        pytest.skip(f"{top} is not usable in this interpreter")
    proc = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(prog if prog in ("enhancenet-spec", "enhancenet-convert") else f"{prog} ")
    assert "0." in proc.stdout
