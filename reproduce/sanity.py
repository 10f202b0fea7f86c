"""The sanity panel (issue 18, item 9): the few real COCO images of the sample data, each person box predicted by the
reference framework's base model and its +EnhanceNet model (first seed, the longest-trained pair), drawn side by
side. **Not a benchmark**: the models learned synthetic stick figures for a few hundred steps; the panel only shows
that real photographs go through the same ``predict`` path (reading, affine crop, both maps, back-projection) and
what such models make of them.

The images are found in ``$ENHANCENET_SHARED_DATA/coco_sample`` or ``../shared/data/coco_sample`` beside the
repository (never copied into it); without them the panel is "not run" and says why. Full run only (8 interpreter
start-ups do not fit the quick scale's 5 minutes); ``reproduce/tests/test_sanity.py`` covers it on a fake runner.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from reproduce.experiments import Grid, TrainRun

__all__ = ["render_panel", "sample_dir", "sample_people", "sanity_pair", "sanity_panel"]

ROOT = Path(__file__).resolve().parents[1]
PANEL_JOINT = 0  # the nose: its LR/HR maps are the ones each picture shows


def sample_dir() -> Path | None:
    """The COCO sample directory (``test_coco.json`` and its images), or None."""
    env = os.environ.get("ENHANCENET_SHARED_DATA")
    for base in ([Path(env)] if env else []) + [ROOT.parent / "shared" / "data"]:
        if (base / "coco_sample" / "test_coco.json").is_file():
            return base / "coco_sample"
    return None


def sample_people(sample: Path) -> list[tuple[Path, list[float]]]:
    """(image, the box of its most-annotated person) per image of ``test_coco.json``, in file order."""
    ann = json.loads((sample / "test_coco.json").read_text())
    out = []
    for img in ann["images"]:
        people = [a for a in ann["annotations"] if a["image_id"] == img["id"] and not a.get("iscrowd", 0)]
        if people:
            best = max(people, key=lambda a: (a.get("num_keypoints", 0), a["area"]))
            out.append((sample / img["file_name"], [float(v) for v in best["bbox"]]))
    return out


def sanity_pair(grid: Grid) -> tuple[TrainRun, TrainRun] | None:
    """The reference framework's (base, +EnhanceNet) runs of the first seed, the longer schedule's when there is one."""
    def first(variant: str) -> TrainRun | None:
        runs = [ev.train for ev in grid.evals if ev.train.framework == grid.reference_framework
                and ev.train.variant.name == variant and ev.train.seed == grid.evals[0].train.seed]
        return max(runs, key=lambda t: t.tag == "long", default=None)

    base, enh = first("base"), first("enhancenet")
    return None if base is None or enh is None else (base, enh)


def render_panel(cells: Sequence[tuple[str, Path, Path]], path: Path) -> Path:
    """A PNG with one row per image: (row title, base picture, +EnhanceNet picture)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(cells), 2, figsize=(10, 3.2 * len(cells)), squeeze=False)
    for row, (title, base, enh) in zip(axes, cells, strict=True):
        for ax, pic, label in zip(row, (base, enh), ("base model", "+EnhanceNet"), strict=True):
            ax.imshow(plt.imread(pic))
            ax.set_title(f"{title}: {label}", fontsize=8)
            ax.axis("off")
    fig.suptitle("Sanity panel: real COCO images, models trained on synthetic figures (not a benchmark)", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def sanity_panel(grid: Grid, runner: Any, data_root: Path, out: Path, failures: dict[str, str]) -> dict[str, Any]:
    """Predict every sample image's person with both models of :func:`sanity_pair` through the framework's
    ``predict`` verb and draw :func:`render_panel` at ``out``; ``{"status", "images", "path"}``."""
    from reproduce.runner import RunFailed

    sample, pair = sample_dir(), sanity_pair(grid)
    if sample is None:
        return {"status": "not run: no COCO sample images (set ENHANCENET_SHARED_DATA)", "images": []}
    if pair is None or any(r.key in failures for r in pair):
        return {"status": "not run: the reference framework's base/+EnhanceNet pair did not train", "images": []}
    cells = []
    for image, box in sample_people(sample):
        pictures = []
        for run in pair:
            pic = runner.work_dir / "sanity" / run.key / f"{image.stem}.png"
            try:
                if not pic.is_file():
                    runner.predict(run, data_root, image, box, PANEL_JOINT, pic)
            except RunFailed as exc:
                failures[f"sanity:{image.name}:{run.name}"] = str(exc)
                break
            pictures.append(pic)
        if len(pictures) == 2:
            cells.append((image.name, *pictures))
    if not cells:
        return {"status": "not run: every prediction failed (see not_run)", "images": []}
    render_panel(cells, out)
    return {"status": "ok", "images": [c[0] for c in cells], "path": str(out),
            "models": [pair[0].name, pair[1].name]}
