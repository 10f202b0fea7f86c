"""Test support shared by every framework's tests: the framework-free half of the evaluation and CLI tests.

Not used by the library itself. What the three implementations' ``test_eval.py`` / ``test_cli.py`` would
otherwise each write again lives here once: the sample-data layouts and configs an evaluation test reads,
the oracle's table of ground-truth heat maps (the framework tests wrap it in an ``nn.Module`` / ``nn.Layer`` /
``nn.Cell``), checks of ``results.json`` and ``predictions.npz`` against an independent computation, and the
CLI's argument sets and expected error words. Running the framework (building a model, calling its
``evaluate`` or ``main``) stays in each package's tests.

The ``assert_*`` functions raise :class:`AssertionError` with a message naming what differs, so a failing
check reads the same with or without pytest's assertion rewriting. No framework and no pytest import.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from enhancenet_core.config import Config, load_config, shipped_config_path
from enhancenet_runtime.engine.io import git_commit
from enhancenet_runtime.testing_cli import (  # the CLI half, re-exported
    CLI_VERBS,
    TINY_OVERRIDES,
    Case,
    _check,
    assert_cli_error,
    assert_cli_eval_output,
    assert_help_lists_verbs,
    assert_pose_picture,
    bad_checkpoint_cases,
    bad_config_cases,
    bad_data_cases,
    bad_predict_cases,
    eval_argv,
    predict_argv,
    set_args,
    synth_argv,
    synth_image,
    train_argv,
)

__all__ = [
    "CLI_VERBS",
    "TINY_OVERRIDES",
    "BuildDataset",
    "Case",
    "Evaluate",
    "JointRecord",
    "MakeOracle",
    "OracleMaps",
    "assert_cli_error",
    "assert_cli_eval_output",
    "assert_flip_test",
    "assert_help_lists_verbs",
    "assert_hr_beats_lr",
    "assert_oracle_coco_metrics",
    "assert_pose_picture",
    "assert_results_json",
    "bad_checkpoint_cases",
    "bad_config_cases",
    "bad_data_cases",
    "bad_predict_cases",
    "check_flip_test_swaps_pairs",
    "check_mpii_without_head_boxes_is_refused",
    "check_oracle_mpii_pckh",
    "coco_sample_layout",
    "eval_argv",
    "flip_permutation",
    "mpii_sample_layout",
    "oracle_coco_config",
    "oracle_mpii_config",
    "predict_argv",
    "prediction_errors",
    "set_args",
    "synth_argv",
    "synth_image",
    "train_argv",
]



class JointRecord(Protocol):
    """What :func:`prediction_errors` reads of a data record (``enhancenet_runtime.data`` records have it)."""

    @property
    def joints_xy(self) -> np.ndarray: ...  # (K, 2) image pixels, last axis (x, y)

    @property
    def joints_vis(self) -> np.ndarray: ...  # (K,) > 0 where annotated


# ---------------------------------------------------------------------------------------------------------------
# Evaluation on the real samples
# ---------------------------------------------------------------------------------------------------------------


def coco_sample_layout(root: Path, sample: Path) -> Path:
    """HRNet's COCO layout at ``root`` pointing at the COCO sample in place (symlinks, nothing copied):
    ``annotations/person_keypoints_sample.json`` and ``images/sample/``; returns ``root``."""
    (root / "annotations").mkdir(parents=True)
    (root / "images").mkdir()
    (root / "annotations" / "person_keypoints_sample.json").symlink_to(sample / "test_coco.json")
    (root / "images" / "sample").symlink_to(sample)
    return root


def oracle_coco_config(root: Path, *extra: str) -> Config:
    """``synthetic_quick`` (input 96x128) on the COCO sample laid out by :func:`coco_sample_layout`, ground-truth
    boxes, test batch 4, then the ``extra`` overrides."""
    return load_config(shipped_config_path("synthetic_quick"), [
        "data.dataset=coco", f"data.root={root}", "data.train_set=sample", "data.test_set=sample",
        "test.use_gt_bbox=true", "test.batch_size=4", *extra,
    ])  # fmt: skip


def mpii_sample_layout(root: Path, sample: Path, head_boxes: bool) -> Path:
    """The MPII sample as ``root/annot/valid.json`` (HRNet JSON) and ``root/images`` (a symlink); returns ``root``.

    With ``head_boxes`` each entry gains a ``head_box`` ``[x1, y1, x2, y2]`` (0-based pixels) spanning the upper
    neck (joint 8) and head top (joint 9), widened by a quarter of their distance on each side, as MPII's head
    rectangles do; without, the file has none (as HRNet's JSON), which PCKh must refuse.
    """
    entries = json.loads((sample / "test_mpii.json").read_text())
    if head_boxes:
        joints = np.asarray([e["joints"] for e in entries], dtype=np.float64) - 1.0  # (N, 16, 2), 1-based in file
        neck, top = joints[:, 8], joints[:, 9]
        lo, hi = np.minimum(neck, top), np.maximum(neck, top)
        pad = 0.25 * np.linalg.norm(top - neck, axis=-1)
        boxes = np.stack([lo[:, 0] - pad, lo[:, 1], hi[:, 0] + pad, hi[:, 1]], axis=-1)  # (N, 4)
        for entry, box in zip(entries, boxes.tolist(), strict=True):
            entry["head_box"] = box
    (root / "annot").mkdir(parents=True)
    (root / "annot" / "valid.json").write_text(json.dumps(entries))
    (root / "images").symlink_to(sample)
    return root


def oracle_mpii_config(root: Path, *extra: str) -> Config:
    """The paper's MPII Hourglass config on the sample laid out by :func:`mpii_sample_layout` (split ``valid``),
    flip test on, test batch 8, 64x64 patches, then the ``extra`` overrides."""
    return load_config(shipped_config_path("mpii_hourglass_2stage_256x256_enhancenet"), [
        f"data.root={root}", "data.test_set=valid", "test.flip_test=true", "test.batch_size=8",
        "model.input_size=[64, 64]", *extra,
    ])  # fmt: skip


def flip_permutation(num_joints: int, flip_pairs: Iterable[Sequence[int]]) -> np.ndarray:
    """``(K,)`` channel order of a mirrored person: joint ``a`` of the mirror is joint ``b`` of the original for
    every pair ``(a, b)``, the other joints stay."""
    perm = np.arange(num_joints)
    for a, b in flip_pairs:
        perm[a], perm[b] = b, a
    return perm


class OracleMaps:
    """The ideal network of an evaluation test: the stored targets of every patch of a data set, looked up by
    the patch itself.

    A patch equal to a stored one gets that sample's maps; a horizontally mirrored patch gets the mirrored maps
    (joint pairs swapped, columns reversed), so the flip test of this network is exact. An unknown patch raises
    :class:`AssertionError`. Decoding these maps must land on the annotated joints, which makes the expected
    metrics independent of the code under test; with ``zero`` every map is zero (a network that knows nothing).

    Args:
        images: ``(N, 3, H, W)`` the data set's patches.
        maps: ``{"lr": (N, K, h, w)[, "hr": (N, K, rh, rw)]}`` their targets.
        flip_pairs: the config's ``data.flip_pairs``.
        zero: output zeros of the same shapes instead.
    """

    def __init__(
        self,
        images: np.ndarray,
        maps: Mapping[str, np.ndarray],
        flip_pairs: Iterable[Sequence[int]],
        zero: bool = False,
    ) -> None:
        self.images = np.asarray(images)
        if self.images.ndim != 4:
            raise ValueError(f"images: expected (N, 3, H, W), got shape {self.images.shape}")
        self.maps = {k: np.asarray(v, dtype=np.float32) for k, v in maps.items()}
        for key, value in self.maps.items():
            if value.ndim != 4 or value.shape[0] != self.images.shape[0]:
                raise ValueError(f"maps[{key!r}]: expected ({self.images.shape[0]}, K, h, w), got {value.shape}")
        self.perm = flip_permutation(next(iter(self.maps.values())).shape[1], flip_pairs)
        self.zero = zero

    @classmethod
    def from_dataset(cls, dataset: Any, flip_pairs: Iterable[Sequence[int]], zero: bool = False) -> OracleMaps:
        """Every sample of a test data set (``dataset[i]`` with ``image`` and ``target_lr`` [``target_hr``], or with
        ``joints``/``joints_vis`` for the (core) data set's ``targets``; arrays or tensors :func:`numpy.asarray` takes)."""
        samples = [dataset[i] for i in range(len(dataset))]
        wanted = ("image", "target_lr", "target_hr", "joints", "joints_vis")
        stack = {k: np.stack([np.asarray(s[k]) for s in samples]) for k in wanted if k in samples[0]}
        if "target_lr" not in stack:  # a core PoseDataset (or a wrapper): the targets are rendered per batch
            stack.update(getattr(dataset, "core", dataset).targets(stack["joints"], stack["joints_vis"]))
        maps = {k: stack[f"target_{k}"] for k in ("lr", "hr") if f"target_{k}" in stack}
        return cls(stack["image"], maps, flip_pairs, zero=zero)

    def __call__(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """``(B, 3, H, W)`` patches -> ``{"lr": (B, K, h, w)[, "hr": ...]}`` contiguous float32 maps."""
        batch = np.asarray(images)
        if batch.shape[1:] != self.images.shape[1:]:
            raise AssertionError(f"oracle: patches of shape {batch.shape[1:]}, stored {self.images.shape[1:]}")
        n = len(batch)
        same = (batch[:, None] == self.images[None]).reshape(n, len(self.images), -1).all(axis=-1)  # (B, N)
        mirror = (batch[:, None] == self.images[None, ..., ::-1]).reshape(n, len(self.images), -1).all(axis=-1)
        mirrored = ~same.any(axis=1)
        unknown = mirrored & ~mirror.any(axis=1)
        _check(not unknown.any(), f"oracle: unknown patch (batch positions {np.flatnonzero(unknown).tolist()})")
        index = np.where(mirrored, mirror.argmax(axis=1), same.argmax(axis=1))
        out = {}
        for key, maps in self.maps.items():
            m = maps[index]
            m = np.where(mirrored[:, None, None, None], m[:, self.perm, :, ::-1], m)
            out[key] = np.zeros_like(m) if self.zero else np.ascontiguousarray(m, dtype=np.float32)
        return out


def prediction_errors(out_dir: Path, records: Sequence[JointRecord]) -> tuple[float, float]:
    """Mean distance in image pixels from the evaluation's ``predictions.npz`` (``preds`` from M^HR, ``preds_lr``
    from M^LR, ``(N, K, 3)`` with ``index`` into ``records``) to the annotated joints, over the visible joints;
    returns ``(err_hr, err_lr)``. Computed here from the records, independently of the metric code."""
    pred = np.load(out_dir / "predictions.npz")
    recs = [records[int(i)] for i in pred["index"]]
    gt = np.stack([r.joints_xy for r in recs])  # (N, K, 2)
    vis = np.stack([r.joints_vis for r in recs]) > 0  # (N, K)
    _check(vis.any(), f"{out_dir / 'predictions.npz'}: no visible joint to compare with")
    err_hr = np.linalg.norm(pred["preds"][..., :2] - gt, axis=-1)[vis].mean()
    err_lr = np.linalg.norm(pred["preds_lr"][..., :2] - gt, axis=-1)[vis].mean()
    return float(err_hr), float(err_lr)


def assert_hr_beats_lr(out_dir: Path, records: Sequence[JointRecord], max_hr_error: float = 1.5) -> None:
    """The oracle's M^HR (stride 1) lands within ``max_hr_error`` pixels of the joints (the legacy integer peak)
    and closer than its M^LR (stride 4 quantisation plus the quarter step): the paper's point."""
    err_hr, err_lr = prediction_errors(out_dir, records)
    _check(err_hr < max_hr_error, f"HR error {err_hr:.3f} px, expected < {max_hr_error}")
    _check(err_hr < err_lr, f"HR error {err_hr:.3f} px is not below the LR error {err_lr:.3f} px")


def assert_oracle_coco_metrics(metrics: Mapping[str, Any], min_ap: float = 0.9) -> None:
    """The metrics ``evaluate`` returns for the oracle on the COCO sample: AP from the HR maps above ``min_ap``,
    our COCO numbers equal to pycocotools' (1e-9) if ``test.check_pycocotools`` ran it, ``num_results > 0``."""
    _check(metrics["metric_name"] == "AP", f"metric_name {metrics['metric_name']!r}, expected 'AP'")
    _check(metrics["heatmaps"] == "hr", f"heatmaps {metrics['heatmaps']!r}, expected 'hr'")
    _check(metrics["metric"] > min_ap, f"oracle AP {metrics['metric']}, expected > {min_ap}")
    if "coco_pycocotools" in metrics:
        ours, theirs = metrics["coco"], metrics["coco_pycocotools"]
        _check(all(abs(ours[k] - theirs[k]) <= 1e-9 for k in theirs), f"our COCO numbers {ours} != pycocotools' {theirs}")
    results = json.loads(Path(metrics["results_file"]).read_text())
    _check(len(results) == metrics["num_results"] > 0,
           f"{metrics['results_file']}: {len(results)} results, metrics say {metrics['num_results']} (> 0)")


def assert_results_json(
    out_dir: Path,
    metrics: Mapping[str, Any],
    *,
    framework: str,
    versions: Mapping[str, str],
    checkpoint: str | None,
    input_size: Sequence[int] | None = None,
) -> dict[str, Any]:
    """``out_dir/results.json`` as ``write_evaluation`` must write it: the returned metric, ``framework``, every
    ``versions`` entry given (e.g. ``{"torch": torch.__version__}``), the checkpoint, the current git commit
    (40 hex digits, or null outside a checkout) and the config (``model.input_size`` when given); returned."""
    path = out_dir / "results.json"
    saved = json.loads(path.read_text())
    _check(saved["metric_name"] == metrics["metric_name"] and saved["metric"] == metrics["metric"],
           f"{path}: {saved['metric_name']}={saved['metric']}, returned {metrics['metric_name']}={metrics['metric']}")
    _check(saved["framework"] == framework, f"{path}: framework {saved['framework']!r}, expected {framework!r}")
    for name, version in versions.items():
        _check(saved["versions"].get(name) == version,
               f"{path}: versions[{name!r}] = {saved['versions'].get(name)!r}, expected {version!r}")
    _check(saved["checkpoint"] == checkpoint, f"{path}: checkpoint {saved['checkpoint']!r}, expected {checkpoint!r}")
    commit = git_commit()
    _check(saved["git_commit"] == commit, f"{path}: git_commit {saved['git_commit']!r}, expected {commit!r}")
    _check(commit is None or len(commit) == 40, f"git commit {commit!r} is not 40 hex digits")
    if input_size is not None:
        _check(saved["config"]["model"]["input_size"] == list(input_size),
               f"{path}: config model.input_size {saved['config']['model']['input_size']}, expected {list(input_size)}")
    return saved


def assert_flip_test(plain_dir: Path, flipped_dir: Path, no_pairs_dir: Path, min_shift: float = 5.0) -> None:
    """For a mirror-consistent network (the oracle): the flip test without the heat-map shift changes no
    prediction (1e-6), and with ``data.flip_pairs=[]`` the left/right maps mix so that some prediction moves by
    more than ``min_shift`` pixels. Each argument is an evaluation output directory (``predictions.npz``)."""
    plain = np.load(plain_dir / "predictions.npz")["preds"]
    flipped = np.load(flipped_dir / "predictions.npz")["preds"]
    no_pairs = np.load(no_pairs_dir / "predictions.npz")["preds"]
    np.testing.assert_allclose(flipped, plain, rtol=0, atol=1e-6, err_msg="flip test moved the oracle's predictions")
    moved = float(np.abs(plain[..., :2] - no_pairs[..., :2]).max())
    _check(moved > min_shift, f"without flip_pairs the predictions moved only {moved:.3f} px (<= {min_shift})")


# The oracle scenarios every framework's test_eval.py runs. A framework passes three callables:
#: ``build_dataset(cfg)``: its evaluation data set of ``cfg``;
BuildDataset = Callable[[Config], Any]
#: ``evaluate(cfg, network, out_dir, dataset) -> metrics``: its ``evaluate`` on CPU without a progress bar;
Evaluate = Callable[[Config, Any, Path, Any], Mapping[str, Any]]
#: ``make_oracle(dataset, flip_pairs, zero)``: :class:`OracleMaps` wrapped as its network type.
MakeOracle = Callable[[Any, Any, bool], Any]


def check_flip_test_swaps_pairs(tmp: Path, coco_sample: Path, build_dataset: BuildDataset, evaluate: Evaluate,
                                make_oracle: MakeOracle) -> None:
    """A network whose output for the mirrored patch is exactly mirrored: the flip test (no shift) changes nothing;
    with the pair swap removed from the config the left/right maps mix and the predictions move
    (:func:`assert_flip_test`); the oracle's AP without flip test is above 0.9."""
    root = coco_sample_layout(tmp / "coco", coco_sample)
    base = oracle_coco_config(root, "test.flip_test=false")
    dataset = build_dataset(base)
    oracle = make_oracle(dataset, base.data.flip_pairs, False)
    ref = evaluate(base, oracle, tmp / "a", dataset)
    evaluate(oracle_coco_config(root, "test.flip_test=true", "test.flip_shift=none"), oracle, tmp / "b", dataset)
    no_pairs = oracle_coco_config(root, "test.flip_test=true", "test.flip_shift=none", "data.flip_pairs=[]")
    evaluate(no_pairs, oracle, tmp / "c", dataset)
    assert_flip_test(tmp / "a", tmp / "b", tmp / "c")
    _check(ref["metric"] > 0.9, f"oracle AP without flip test {ref['metric']:.4f} (<= 0.9)")


def check_oracle_mpii_pckh(tmp: Path, mpii_sample: Path, build_dataset: BuildDataset, evaluate: Evaluate,
                           make_oracle: MakeOracle) -> None:
    """On the MPII sample (with head boxes) the oracle scores PCKh@0.5 above 90 and a network of zeros below 20."""
    root = mpii_sample_layout(tmp / "mpii", mpii_sample, head_boxes=True)
    cfg = oracle_mpii_config(root)
    dataset = build_dataset(cfg)
    metrics = evaluate(cfg, make_oracle(dataset, cfg.data.flip_pairs, False), tmp / "ev", dataset)
    _check(metrics["metric_name"] == "PCKh@0.5", f"metric_name {metrics['metric_name']!r}, expected 'PCKh@0.5'")
    _check(metrics["metric"] > 90.0, f"oracle PCKh@0.5 {metrics['metric']:.2f} (<= 90)")
    zero = evaluate(cfg, make_oracle(dataset, cfg.data.flip_pairs, True), tmp / "ev0", dataset)
    _check(zero["metric"] < 20.0, f"PCKh@0.5 of a network of zeros {zero['metric']:.2f} (>= 20)")


def check_mpii_without_head_boxes_is_refused(tmp: Path, mpii_sample: Path, build_dataset: BuildDataset,
                                            evaluate: Evaluate, make_oracle: MakeOracle) -> None:
    """MPII annotations without head boxes: ``evaluate`` raises ValueError naming the head boxes and writes no
    ``results.json``."""
    root = mpii_sample_layout(tmp / "mpii", mpii_sample, head_boxes=False)
    cfg = oracle_mpii_config(root)
    dataset = build_dataset(cfg)
    try:
        evaluate(cfg, make_oracle(dataset, cfg.data.flip_pairs, False), tmp / "ev", dataset)
    except ValueError as exc:
        _check("head boxes" in str(exc), f"the error does not name the head boxes: {exc}")
    else:
        raise AssertionError("evaluate accepted MPII annotations without head boxes")
    _check(not (tmp / "ev" / "results.json").exists(), "a refused evaluation wrote results.json")
