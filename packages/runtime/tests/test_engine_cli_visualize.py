"""enhancenet_runtime.engine.cli (shared verbs, exit codes, one-line errors) and .visualize (box checks, crops,
the Fig. 1 picture)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_core.datasets import dataset_info
from enhancenet_runtime.engine.cli import (
    FrameworkCommands,
    UsageError,
    build_parser,
    parse_boxes,
    resolve_config,
    run_cli,
)
from enhancenet_runtime.engine.visualize import (
    MPII_SKELETON,
    check_boxes,
    crop_person_boxes,
    draw_pose_figure,
    predict_picture,
    skeleton_for,
)


class Calls:
    def __init__(self) -> None:
        self.seen: list[tuple[str, argparse.Namespace]] = []

    def handler(self, name: str, result: int | None = 0, error: BaseException | None = None):
        def run(args: argparse.Namespace) -> int | None:
            self.seen.append((name, args))
            if error is not None:
                raise error
            return result

        return run


class FrameworkError(RuntimeError):
    pass


def _parser(calls: Calls, **errors: BaseException) -> argparse.ArgumentParser:
    cmds = FrameworkCommands(
        train=calls.handler("train", None, errors.get("train")),
        evaluate=calls.handler("eval", 3, errors.get("eval")),
        predict=calls.handler("predict"),
        export=calls.handler("export", 0, errors.get("export")),
        export_formats=("native", "onnx"),
        extra_errors=(FrameworkError,),
    )
    return build_parser("enhancenet-dummy", "test", cmds)


def test_handlers_get_the_resolved_config_and_boxes(tmp_path: Path) -> None:
    calls = Calls()
    p = _parser(calls)
    assert run_cli(p, ["train", "synthetic_quick", "--set", "train.epochs=7", "--max-steps", "3", "--no-val"]) == 0
    name, args = calls.seen[-1]
    assert name == "train" and args.cfg.train.epochs == 7 and args.max_steps == 3 and args.no_val
    assert run_cli(p, ["eval", "synthetic_quick", "ck.pt"]) == 3  # the handler's status is returned
    assert not calls.seen[-1][1].cfg.test.check_pycocotools  # our evaluator alone by default
    assert run_cli(p, ["eval", "synthetic_quick", "ck.pt", "--check-pycocotools",
                       "--set", "test.check_pycocotools=false"]) == 3  # the flag wins over --set
    assert calls.seen[-1][1].cfg.test.check_pycocotools
    img = tmp_path / "img.png"
    img.write_bytes(cv2.imencode(".png", np.zeros((20, 30, 3), np.uint8))[1].tobytes())
    assert run_cli(p, ["predict", "synthetic_quick", "ck.pt", str(img), "--boxes", "1,2,3,4", "5,6,7.5,8"]) == 0
    assert calls.seen[-1][1].boxes == [(1.0, 2.0, 3.0, 4.0), (5.0, 6.0, 7.5, 8.0)]
    assert run_cli(p, ["export", "synthetic_quick", "ck.pt", "out"]) == 0
    assert calls.seen[-1][1].format == "native"  # the first format is the default
    assert run_cli(p, ["export", "synthetic_quick", "ck.pt", "out", "--format", "onnx"]) == 0
    assert calls.seen[-1][1].format == "onnx"
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text(shipped_config_path("synthetic_quick").read_text())
    assert run_cli(p, ["eval", str(cfg_file), "ck.pt"]) == 3
    assert calls.seen[-1][1].cfg == load_config(cfg_file)


def _fail(capsys, parser, argv, *words) -> str:
    assert run_cli(parser, argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"enhancenet-dummy {argv[0]}: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for word in words:
        assert word in err, err
    return err


def test_bad_input_is_one_line_and_status_2(tmp_path: Path, capsys) -> None:
    calls = Calls()
    p = _parser(calls)
    _fail(capsys, p, ["train", str(tmp_path / "nope.yaml")], "nope.yaml", "not found")
    _fail(capsys, p, ["train", "synthetic_quick", "--set", "model.head.upscale=0"], "upscale")
    _fail(capsys, p, ["train", "synthetic_quick", "--set", "train.no_such=1"], "no_such")
    _fail(capsys, p, ["predict", "synthetic_quick", "c", "i", "--boxes", "1,2,3"], "x,y,w,h", "'1,2,3'")
    _fail(capsys, p, ["predict", "synthetic_quick", "c", "i", "--boxes", "1,2,0,4"], "positive")
    _fail(capsys, p, ["predict", "synthetic_quick", "c", "i", "--boxes", "1,2,nan,4"], "four numbers")
    assert not calls.seen  # no handler ran on bad input


def test_step_counts_checked_before_anything_runs(tmp_path: Path, capsys) -> None:
    """``--max-steps -1`` used to exit 0 having trained nothing; now it (and 0, and a negative
    ``--checkpoint-every``) is refused up front, before the config is even read."""
    calls = Calls()
    p = _parser(calls)
    for argv, words in (
        (["train", "synthetic_quick", "--max-steps", "-1"], ("--max-steps", ">= 1", "got -1")),
        (["train", "synthetic_quick", "--max-steps", "0"], ("--max-steps", "got 0")),
        (["train", "synthetic_quick", "--checkpoint-every", "-5"], ("--checkpoint-every", ">= 0", "got -5")),
        (["train", str(tmp_path / "nope.yaml"), "--max-steps", "-1"], ("--max-steps",)),
    ):
        _fail(capsys, p, argv, *words)
    assert not calls.seen
    assert run_cli(p, ["train", "synthetic_quick", "--max-steps", "1", "--checkpoint-every", "0"]) == 0
    assert calls.seen[-1][1].max_steps == 1


def test_hostile_config_files_one_line(tmp_path: Path, capsys) -> None:
    calls = Calls()
    p = _parser(calls)
    garbage = tmp_path / "garbage.yaml"
    garbage.write_bytes(bytes(range(256)) * 4)
    nested = tmp_path / "nested.yaml"
    nested.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    dup = tmp_path / "dup.yaml"
    dup.write_text("train:\n  epochs: 3\n  epochs: 4\n", encoding="utf-8")
    _fail(capsys, p, ["train", str(garbage)], "garbage.yaml", "UTF-8")
    _fail(capsys, p, ["train", str(nested)], "nested.yaml", "nested deeper")
    _fail(capsys, p, ["train", str(dup)], "dup.yaml", "duplicate key 'epochs'", "line 3")
    _fail(capsys, p, ["train", "synthetic_quick", "--set", f"train.seed={2**40}"], "train.seed", "4294967295")
    _fail(capsys, p, ["train", "x" * 5000 + ".yaml"], "File name too long")
    assert not calls.seen
    p = _parser(calls, eval=ValueError("weights w.safetensors: 2 tensor(s) do not fit"),
                export=FrameworkError("exporter says no"))
    _fail(capsys, p, ["eval", "synthetic_quick", "ck"], "w.safetensors", "2 tensor(s)")
    _fail(capsys, p, ["export", "synthetic_quick", "ck", "out"], "exporter says no")
    with pytest.raises(SystemExit) as info:  # argparse's own usage errors keep its status 2
        run_cli(p, ["export", "synthetic_quick", "ck", "out", "--format", "tflite"])
    assert info.value.code == 2
    p = _parser(calls, train=RuntimeError("a bug"))
    with pytest.raises(RuntimeError, match="a bug"):  # not bad input: the traceback is kept
        run_cli(p, ["train", "synthetic_quick"])


def test_synth_verb_and_help(tmp_path: Path, capsys) -> None:
    p = _parser(Calls())
    root = tmp_path / "synth"
    assert run_cli(p, ["synth", str(root), "--num-images", "2", "--width", "48", "--height", "40", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "train:" in out and (root / "annotations" / "person_keypoints_train.json").is_file()
    _fail(capsys, p, ["synth", str(root), "--num-images", "2", "--no-progress"], "already exists")
    help_text = p.format_help()
    for verb in ("train", "eval", "predict", "export", "synth"):
        assert verb in help_text


def test_parse_boxes_and_resolve_config(tmp_path: Path) -> None:
    assert parse_boxes(["0,0,1,1"]) == [(0.0, 0.0, 1.0, 1.0)]
    with pytest.raises(UsageError, match="at least one box"):
        parse_boxes([])
    with pytest.raises(FileNotFoundError, match=r"missing\.yaml"):
        resolve_config(str(tmp_path / "missing.yaml"))
    assert resolve_config("synthetic_quick", ["train.lr=0.5"]).train.lr == 0.5


def test_check_boxes_errors_name_the_box_and_image() -> None:
    ok = check_boxes([[-5, -5, 20, 20], [90, 50, 30, 30]], 100, 60)  # partly outside: kept
    assert ok.shape == (2, 4) and ok.dtype == np.float64
    with pytest.raises(ValueError, match=r"box #1 \[100\.0, 0\.0, 5\.0, 5\.0\] lies outside the image \(100x60 pixels\)"):
        check_boxes([[0, 0, 5, 5], [100, 0, 5, 5]], 100, 60)
    with pytest.raises(ValueError, match=r"box #0 .*lies outside"):
        check_boxes([[-10, 0, 10, 5]], 100, 60)  # ends exactly at the left edge: no overlap
    with pytest.raises(ValueError, match=r"box #0 \[0\.0, 0\.0, -1\.0, 5\.0\]: expected finite x, y and positive w, h"):
        check_boxes([[0, 0, -1, 5]], 100, 60)
    with pytest.raises(ValueError, match=r"box #0 .*expected finite"):
        check_boxes([[np.inf, 0, 1, 5]], 100, 60)


def test_skeletons() -> None:
    coco = skeleton_for(17)
    assert len(coco) == 19 and all(0 <= a < 17 and 0 <= b < 17 for a, b in coco)
    assert skeleton_for(16) == MPII_SKELETON and skeleton_for(15) == ()
    assert skeleton_for(14) == dataset_info("crowdpose").skeleton  # the shipped CrowdPose row (K = 14)


def _cfg():
    return load_config(shipped_config_path("synthetic_quick"), ["model.input_size=[32,64]"])


def test_crops_center_the_box() -> None:
    cfg = _cfg()
    image = np.zeros((60, 80, 3), np.uint8)
    image[20:40, 30:50] = 255  # a white square, boxed exactly
    crops = crop_person_boxes(image, np.array([[30.0, 20.0, 20.0, 20.0]]), cfg)
    assert crops["patches"].shape == (1, 64, 32, 3) and crops["inputs"].shape == (1, 3, 64, 32)
    assert crops["inputs"].dtype == np.float32
    np.testing.assert_allclose(crops["center"], [[40.0, 30.0]], atol=1e-9)  # HRNet _box2cs: x + w/2, y + h/2
    patch = crops["patches"][0, ..., 0]
    assert patch[32, 16] == 255 and patch[0, 0] == 0  # the square sits in the middle, with margin around it


def test_draw_pose_figure_and_predict_picture(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    cfg = _cfg()
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)
    boxes = np.array([[10.0, 5.0, 30.0, 45.0]])
    maps = {"lr": rng.random((1, 17, 16, 8), np.float32), "hr": rng.random((1, 17, 64, 32), np.float32)}
    preds = {k: np.concatenate([rng.random((1, 17, 2)) * 40, np.ones((1, 17, 1))], axis=2) for k in maps}
    out = tmp_path / "fig.png"
    written = draw_pose_figure(image, boxes, rng.integers(0, 255, (1, 64, 32, 3), dtype=np.uint8), maps, preds,
                               out, 17, joint=3, image_name="img.jpg")
    assert written == [out, out.with_suffix(".json")]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 1000
    kps = json.loads(out.with_suffix(".json").read_text())
    assert kps["image"] == "img.jpg" and np.allclose(kps["keypoints_hr"], preds["hr"])
    with pytest.raises(ValueError, match=r"--joint: expected a keypoint index in \[0, 16\], got 17"):
        draw_pose_figure(image, boxes, np.zeros((1, 64, 32, 3), np.uint8), maps, preds, out, 17, joint=17)

    import cv2

    img_file = tmp_path / "img.png"
    cv2.imwrite(str(img_file), image[..., ::-1])  # stored BGR -> read back as this RGB image
    seen = []

    def infer(inputs: np.ndarray) -> dict[str, np.ndarray]:
        seen.append(inputs.shape)
        return {"lr": maps["lr"]}

    written = predict_picture(cfg, img_file, [[10, 5, 30, 45]], tmp_path / "p.png", infer)
    assert seen == [(1, 3, 64, 32)]
    kps = json.loads((tmp_path / "p.json").read_text())
    assert kps["keypoints_hr"] is None and len(kps["keypoints_lr"][0]) == 17
    with pytest.raises(ValueError, match="outside the image"):
        predict_picture(cfg, img_file, [[500, 5, 30, 45]], tmp_path / "q.png", infer)
    with pytest.raises(FileNotFoundError, match=r"none\.png"):
        predict_picture(cfg, tmp_path / "none.png", [[10, 5, 30, 45]], tmp_path / "q.png", infer)
    assert len(seen) == 1 and not (tmp_path / "q.png").exists()
    predict_picture(cfg, img_file, None, tmp_path / "w.png", infer)  # no boxes: the whole image is one person
    assert json.loads((tmp_path / "w.json").read_text())["boxes"] == [[0.0, 0.0, 80.0, 60.0]]
