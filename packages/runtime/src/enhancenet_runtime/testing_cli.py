"""Test helpers for the framework CLIs (``enhancenet-<framework>``) on a tiny synthetic set: argument lists, the
bad-input cases each verb must refuse with one line, and checks of what the verbs write. Re-exported by
:mod:`enhancenet_runtime.testing`."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def _check(ok: bool | np.bool_, message: str) -> None:
    if not ok:
        raise AssertionError(message)


# ---------------------------------------------------------------------------------------------------------------
# The command line (enhancenet-<framework>), on a tiny synthetic set
# ---------------------------------------------------------------------------------------------------------------

#: The verbs every framework's CLI offers (``--help`` lists them).
CLI_VERBS = ("train", "eval", "predict", "export", "synth")

#: ``--set`` overrides that make ``synthetic_quick`` tiny: 64x64 patches, 16 channels, batches of 4 / 8, GT boxes.
TINY_OVERRIDES = (
    "model.input_size=[64,64]", "model.base.deconv_channels=16", "model.head.channels=16",
    "train.batch_size=4", "train.epochs=1", "test.batch_size=8", "test.use_gt_bbox=true",
)  # fmt: skip

#: ``(argv, words)``: a command line and the words its one-line error must contain.
Case = tuple[list[str], tuple[str, ...]]


def set_args(root: Path, *extra: str) -> list[str]:
    """``--set`` arguments: the data root, :data:`TINY_OVERRIDES`, then ``extra``."""
    return [a for s in (f"data.root={root}", *TINY_OVERRIDES, *extra) for a in ("--set", s)]


def synth_argv(root: Path, num_images: int) -> list[str]:
    """``synth`` of ``num_images`` 64x64 images into ``root``."""
    return ["synth", str(root), "--num-images", str(num_images), "--width", "64", "--height", "64", "--no-progress"]


def train_argv(root: Path, run: Path) -> list[str]:
    """``train synthetic_quick`` on the tiny set at ``root`` into ``run``: one step on the CPU."""
    return ["train", "synthetic_quick", "--out", str(run), *set_args(root), "--max-steps", "1", "--no-progress",
            "--device", "cpu"]


def eval_argv(checkpoint: Path, out: Path, root: Path) -> list[str]:
    """``eval synthetic_quick CHECKPOINT`` on the tiny set's test split, on the CPU, results into ``out``."""
    return ["eval", "synthetic_quick", str(checkpoint), "--out", str(out), "--device", "cpu", "--no-progress",
            *set_args(root)]


def predict_argv(checkpoint: Path, image: Path, boxes: Sequence[str], out: Path, root: Path) -> list[str]:
    """``predict synthetic_quick CHECKPOINT IMAGE --boxes ...`` on the CPU, the picture written to ``out``."""
    return ["predict", "synthetic_quick", str(checkpoint), str(image), "--boxes", *boxes, "--out", str(out),
            "--device", "cpu", *set_args(root)]


def synth_image(root: Path) -> Path:
    """The first (sorted) validation image of the synthetic set at ``root``."""
    images = sorted((root / "images" / "val").iterdir())
    _check(bool(images), f"no image in {root / 'images' / 'val'}")
    return images[0]


def assert_cli_error(code: int, stderr: str, prog: str, *words: str) -> str:
    """Bad input: exit status 2 and exactly one line on stderr, starting with ``prog``, no traceback, naming
    every one of ``words``; returns the line."""
    _check(code == 2, f"exit status {code}, expected 2; stderr: {stderr!r}")
    _check(stderr.startswith(f"{prog} "), f"stderr does not start with {prog!r}: {stderr!r}")
    _check("Traceback" not in stderr, f"a traceback on stderr: {stderr!r}")
    _check(stderr.count("\n") == 1 and stderr.endswith("\n"), f"expected one line on stderr: {stderr!r}")
    missing = [w for w in words if w not in stderr]
    _check(not missing, f"stderr does not name {missing}: {stderr!r}")
    return stderr


def assert_help_lists_verbs(stdout: str) -> None:
    """``--help`` names every verb of :data:`CLI_VERBS`."""
    missing = [v for v in CLI_VERBS if v not in stdout]
    _check(not missing, f"--help does not list {missing}: {stdout!r}")


def bad_config_cases(tmp: Path) -> list[Case]:
    """``train`` with a config that cannot load: a missing file, a bad value, an unknown field, binary garbage,
    a duplicate key, a seed no framework accepts, a negative ``--max-steps`` (each must name the file, field or
    flag)."""
    garbage = tmp / "garbage.yaml"
    garbage.write_bytes(bytes(range(256)) * 4)
    dup = tmp / "dup.yaml"
    dup.write_text("train:\n  seed: 1\n  seed: 2\n", encoding="utf-8")
    return [
        (["train", str(tmp / "nope.yaml")], ("nope.yaml", "not found")),
        (["train", "synthetic_quick", "--set", "model.head.upscale=0", "--out", str(tmp)], ("upscale",)),
        (["train", "synthetic_quick", "--set", "train.no_such_field=1", "--out", str(tmp)], ("no_such_field",)),
        (["train", str(garbage), "--out", str(tmp)], ("garbage.yaml", "UTF-8")),
        (["train", str(dup), "--out", str(tmp)], ("dup.yaml", "duplicate key 'seed'", "line 3")),
        (["train", "synthetic_quick", "--set", f"train.seed={2**70}", "--out", str(tmp)], ("train.seed",)),
        (["train", "synthetic_quick", "--max-steps", "-1", "--out", str(tmp)], ("--max-steps", "-1")),
    ]


def bad_checkpoint_cases(checkpoint: Path, root: Path) -> list[Case]:
    """``eval`` of a checkpoint trained on the tiny set by :func:`train_argv`: with a config of another
    architecture (head disabled: both architectures named), a missing file and a file that is no checkpoint
    (written here as ``bogus<suffix>`` beside ``checkpoint``)."""
    missing = checkpoint.parent / f"missing{checkpoint.suffix}"
    bogus = checkpoint.parent / f"bogus{checkpoint.suffix}"
    bogus.write_bytes(b"not a checkpoint")
    return [
        (["eval", "synthetic_quick", str(checkpoint), "--device", "cpu", "--no-progress",
          *set_args(root, "model.head.enabled=false")], ("architecture", "simple_baseline", "enhancenet")),
        (["eval", "synthetic_quick", str(missing), *set_args(root)], (missing.name, "not found")),
        (["eval", "synthetic_quick", str(bogus), *set_args(root)], (bogus.name,)),
    ]  # fmt: skip


def bad_data_cases(synth_root: Path, tmp: Path) -> list[Case]:
    """``train`` on broken copies of the synthetic set (made under ``tmp``): the listed images are missing; no
    training annotation has a keypoint (the split, the reason and its count are named)."""
    no_images = tmp / "no_images"
    shutil.copytree(synth_root / "annotations", no_images / "annotations")
    (no_images / "images" / "train").mkdir(parents=True)
    no_keypoints = tmp / "no_keypoints"
    shutil.copytree(synth_root, no_keypoints)
    ann_file = no_keypoints / "annotations" / "person_keypoints_train.json"
    coco = json.loads(ann_file.read_text())
    for ann in coco["annotations"]:
        ann["keypoints"] = [0] * len(ann["keypoints"])
        ann["num_keypoints"] = 0
    ann_file.write_text(json.dumps(coco))
    return [
        (["train", "synthetic_quick", "--out", str(tmp / "run_no_images"), "--no-progress", *set_args(no_images)],
         ("image file", "not found")),
        (["train", "synthetic_quick", "--out", str(tmp / "run_no_keypoints"), "--no-progress",
          *set_args(no_keypoints)], ("train_set", "no usable person instance", "no_keypoints")),
    ]  # fmt: skip


def bad_predict_cases(checkpoint: Path, root: Path, missing_image: Path) -> list[Case]:
    """``predict`` on the tiny set: a missing picture, a box outside the 64x64 image, a box without four
    numbers, one of zero width, a keypoint index out of range (K = 17)."""
    image = synth_image(root)

    def argv(picture: Path, *rest: str) -> list[str]:
        return ["predict", "synthetic_quick", str(checkpoint), str(picture), *rest, *set_args(root)]

    return [
        (argv(missing_image, "--boxes", "0,0,5,5"), (missing_image.name, "not found")),
        (argv(image, "--boxes", "500,500,20,20"), ("outside the image", "64x64")),
        (argv(image, "--boxes", "1,2,3"), ("x,y,w,h",)),
        (argv(image, "--boxes", "1,2,0,5"), ("positive",)),
        (argv(image, "--boxes", "4,4,40,56", "--joint", "17"), ("--joint",)),
    ]


def assert_cli_eval_output(stdout: str, out_dir: Path, checkpoint: Path, framework: str) -> dict[str, Any]:
    """``eval`` printed the primary metric as JSON and wrote ``out_dir/results.json`` with the same AP in
    [0, 1], the checkpoint and ``framework``; returns the saved record."""
    printed = json.loads(stdout)
    saved = json.loads((out_dir / "results.json").read_text())
    _check(printed["metric_name"] == saved["metric_name"] == "AP",
           f"printed {printed['metric_name']!r}, saved {saved['metric_name']!r}, expected 'AP'")
    _check(printed["metric"] == saved["metric"], f"printed metric {printed['metric']}, saved {saved['metric']}")
    _check(0.0 <= saved["metric"] <= 1.0, f"AP {saved['metric']} outside [0, 1]")
    _check(saved["checkpoint"] == str(checkpoint), f"checkpoint {saved['checkpoint']!r}, expected {str(checkpoint)!r}")
    _check(saved["framework"] == framework, f"framework {saved['framework']!r}, expected {framework!r}")
    return saved


def assert_pose_picture(picture: Path, num_boxes: int, num_joints: int = 17) -> dict[str, Any]:
    """``predict`` wrote a PNG (more than 1000 bytes) and beside it a JSON with ``keypoints_hr`` and
    ``keypoints_lr``, each ``(num_boxes, num_joints, 3)``; returns the JSON."""
    data = picture.read_bytes()
    _check(data[:8] == b"\x89PNG\r\n\x1a\n", f"{picture} is not a PNG")
    _check(len(data) > 1000, f"{picture}: only {len(data)} bytes")
    keypoints = json.loads(picture.with_suffix(".json").read_text())
    for key in ("keypoints_hr", "keypoints_lr"):
        shape = np.asarray(keypoints[key]).shape
        _check(shape == (num_boxes, num_joints, 3), f"{key}: shape {shape}, expected {(num_boxes, num_joints, 3)}")
    return keypoints
