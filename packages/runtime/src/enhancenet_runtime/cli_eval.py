"""Evaluation sub-commands of ``enhancenet-spec``.

    enhancenet-spec eval-coco GT.json RESULTS.json [--json] [--sigmas coco|crowdpose|S1 S2 ...]
                              [--dataset NAME|DATASET.yaml] [--backend ours|pycocotools|both]
    enhancenet-spec eval-mpii GT(.json|.mat) PREDS(.json|.npy|.mat) (--head-sizes FILE | --head-boxes FILE)
                              [--tie le|lt] [--coordinate-base same|zero_based_predictions] [--json]

``eval-coco`` prints the 10 COCO keypoint numbers in pycocotools' layout (with ``both``: the two back
ends side by side and their largest absolute difference). ``--dataset`` takes the σ from a data-set row (a
shipped name or a data-set file, :mod:`enhancenet_core.datasets`); a row whose metric is ``crowdpose_ap``
also prints the CrowdPose API's numbers (AP easy/medium/hard by the images' ``crowdIndex``). ``eval-mpii`` prints the PCKh table
(Head Sho Elb Wri Hip Knee Ank Mean at α = 0.5 and 0.1) and HRNet's legacy "Mean@0.1" (α = 0.11) under
its own name. Each sub-command sets ``func`` (``args -> int``); bad input prints ``error: ...`` to stderr
and returns 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from enhancenet_core.datasets import Metric, dataset_info
from enhancenet_core.metrics.coco import STAT_LABELS, STAT_NAMES, evaluate_with_pycocotools, format_stats
from enhancenet_core.metrics.coco_eval import evaluate_coco
from enhancenet_core.metrics.pckh import CoordinateBase, TieRule, evaluate_mpii_files, format_pckh_table

EXIT_INVALID = 2


def _parse_sigmas(values: list[str] | None) -> Any:
    if not values:
        return None
    if len(values) == 1 and not _is_number(values[0]):
        return values[0]
    try:
        return [float(v) for v in values]
    except ValueError as exc:
        raise ValueError(
            f"--sigmas: expected a preset name (coco, crowdpose) or K numbers, got {values}"
        ) from exc


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def format_side_by_side(ours: dict[str, float], ref: dict[str, float]) -> str:
    """Both back ends' 10 numbers in pycocotools' layout, plus the largest absolute difference."""
    lines = [f"{'':<72}   {'ours':>8}   {'pycocotools':>11}"]
    for label, name in zip(STAT_LABELS, STAT_NAMES, strict=True):
        lines.append(f"{label} = {ours[name]:8.3f}   {ref[name]:11.3f}")
    diff = max(abs(ours[n] - ref[n]) for n in STAT_NAMES)
    lines.append(f"max |ours - pycocotools| = {diff:.3e}")
    return "\n".join(lines)


def _dataset_sigmas(name: str) -> tuple[Any, bool]:
    """(σ of the data-set row ``name``, whether its metric is the CrowdPose AP)."""
    try:
        info = dataset_info(name)
    except ValueError as exc:
        raise ValueError(f"--dataset: {str(exc).removeprefix('data.dataset: ')}") from None
    if info.oks_sigmas is None:
        raise ValueError(f"--dataset {name}: the row has no oks_sigmas (metric {info.metric.value}), AP needs them")
    return list(info.oks_sigmas), info.metric is Metric.CROWDPOSE_AP


def cmd_eval_coco(args: argparse.Namespace) -> int:
    """``eval-coco``: COCO keypoint AP/AR of a result file."""
    try:
        if args.dataset and args.sigmas:
            raise ValueError("--dataset and --sigmas: give one of them (the data-set row has its own sigmas)")
        sigmas, crowdpose = _dataset_sigmas(args.dataset) if args.dataset else (_parse_sigmas(args.sigmas), False)
        out: dict[str, Any] = {}
        if args.backend in ("ours", "both"):
            out["ours"] = evaluate_coco(args.gt, args.results, sigmas=sigmas)
        if args.backend in ("pycocotools", "both"):
            out["pycocotools"] = evaluate_with_pycocotools(args.gt, args.results, sigmas=sigmas)
        if crowdpose:  # [datasets] the CrowdPose API's numbers (easy/medium/hard by crowdIndex)
            from enhancenet_core.metrics.crowdpose import evaluate_crowdpose

            out["crowdpose"] = evaluate_crowdpose(args.gt, args.results, sigmas=sigmas)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if args.backend == "both":
        out["max_abs_diff"] = max(abs(out["ours"][n] - out["pycocotools"][n]) for n in STAT_NAMES)
    if args.json:
        single = args.backend != "both" and not crowdpose
        print(json.dumps(out[args.backend] if single else out, indent=2))
        return 0
    if args.backend == "both":
        print(format_side_by_side(out["ours"], out["pycocotools"]))
    else:
        print(format_stats(out[args.backend]))
    if crowdpose:
        from enhancenet_core.metrics.crowdpose import format_crowdpose_stats

        print("CrowdPose API rules (OKS area 0.53*w*h; easy/medium/hard by crowdIndex < 0.2 / < 0.8 / >= 0.8):")
        print(format_crowdpose_stats(out["crowdpose"]))
    return 0


def cmd_eval_mpii(args: argparse.Namespace) -> int:
    """``eval-mpii``: MPII PCKh of a prediction file."""
    try:
        result = evaluate_mpii_files(
            args.gt,
            args.preds,
            head_sizes=args.head_sizes,
            head_boxes=args.head_boxes,
            tie=TieRule(args.tie),
            coordinate_base=CoordinateBase(args.coordinate_base),
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    else:
        print(format_pckh_table(result))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``eval-coco`` and ``eval-mpii`` to the ``enhancenet-spec`` parser."""
    p = subparsers.add_parser(
        "eval-coco",
        help="COCO keypoint AP/AR of a result file (our evaluator and/or pycocotools)",
        description="Print the 10 COCO keypoint statistics in pycocotools' layout.",
    )
    p.add_argument("gt", help="COCO keypoint ground-truth JSON")
    p.add_argument(
        "results", help="COCO keypoint result JSON (list of {image_id, category_id, keypoints, score})"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument(
        "--sigmas",
        nargs="+",
        metavar="S",
        help="per-keypoint sigmas: a preset (coco, crowdpose) or K numbers (default: COCO's 17)",
    )
    p.add_argument(
        "--dataset",
        metavar="NAME|FILE",
        help="take the sigmas from a data-set row: a shipped name (coco, crowdpose, ochuman) or a data-set file "
        "(.yaml/.yml/.json); crowdpose_ap rows also print AP easy/medium/hard",
    )
    p.add_argument(
        "--backend",
        choices=("ours", "pycocotools", "both"),
        default="ours",
        help="evaluator; 'both' prints them side by side with the max difference (default: ours)",
    )
    p.set_defaults(func=cmd_eval_coco)

    q = subparsers.add_parser(
        "eval-mpii",
        help="MPII PCKh table (@0.5, @0.1 and HRNet's legacy @0.11)",
        description="Print PCKh per joint group at alpha = 0.5 and 0.1, and HRNet's legacy 'Mean@0.1' (alpha 0.11).",
    )
    q.add_argument("gt", help="MPII ground truth: HRNet-style JSON (no head boxes) or gt_valid.mat")
    q.add_argument("preds", help="predictions (N, 16, 2|3): .npy, .json, or HRNet's pred.mat")
    heads = q.add_mutually_exclusive_group()
    heads.add_argument("--head-sizes", metavar="FILE", help="(N,) head sizes in pixels (.npy/.json/.txt)")
    heads.add_argument(
        "--head-boxes", metavar="FILE", help="(N, 2, 2) head boxes (.npy/.json, or .mat headboxes_src)"
    )
    q.add_argument(
        "--tie",
        choices=[t.value for t in TieRule],
        default=TieRule.LE.value,
        help="le: e <= alpha (official); lt: mmpose 1.x",
    )
    q.add_argument(
        "--coordinate-base",
        choices=[c.value for c in CoordinateBase],
        default=CoordinateBase.SAME.value,
        help="zero_based_predictions: add 1 to predictions (HRNet, MATLAB 1-based ground truth)",
    )
    q.add_argument("--json", action="store_true", help="print JSON instead of the table")
    q.set_defaults(func=cmd_eval_mpii)
