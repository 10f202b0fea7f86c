"""The sanity panel (reproduce.sanity): the sample images' people, the pair it predicts with, the panel, on a fake
runner (the real predictions run in the full reproduce)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from reproduce import sanity
from reproduce.experiments import FULL, QUICK, TrainRun, build_grid
from reproduce.runner import RunFailed


def _sample(root: Path) -> Path:
    d = root / "coco_sample"
    d.mkdir(parents=True)
    images = [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}, {"id": 3, "file_name": "c.jpg"}]
    anns = [{"image_id": 1, "bbox": [1, 2, 3, 4], "area": 12, "num_keypoints": 3},
            {"image_id": 1, "bbox": [5, 6, 7, 8], "area": 56, "num_keypoints": 9},  # the most annotated person
            {"image_id": 2, "bbox": [0, 0, 9, 9], "area": 81, "num_keypoints": 0, "iscrowd": 1}]  # crowd only
    (d / "test_coco.json").write_text(json.dumps({"images": images, "annotations": anns}))
    return d


class _PredictRunner:
    def __init__(self, work: Path, fail: str = "") -> None:
        self.work_dir, self.fail, self.calls = work, fail, []

    def predict(self, run: TrainRun, data_root: Path, image: Path, box: list, joint: int, out: Path) -> Path:
        if self.fail and self.fail in run.name:
            raise RunFailed("boom")
        self.calls.append((run.variant.name, image.name, tuple(box), joint))
        out.parent.mkdir(parents=True, exist_ok=True)
        import matplotlib.pyplot as plt

        plt.imsave(out, np.zeros((8, 6, 3)))
        return out


def test_people_pair_and_panel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENHANCENET_SHARED_DATA", str(tmp_path))
    sample = _sample(tmp_path)
    assert sanity.sample_dir() == sample
    assert sanity.sample_people(sample) == [(sample / "a.jpg", [5.0, 6.0, 7.0, 8.0])]  # b: crowd only; c: nobody
    grid = build_grid(FULL, ["torch", "paddle"])
    base, enh = sanity.sanity_pair(grid)
    assert (base.variant.name, enh.variant.name) == ("base", "enhancenet")
    assert base.framework == enh.framework == "torch" and base.tag == enh.tag == "long" and base.seed == 0
    runner = _PredictRunner(tmp_path / "work")
    out = sanity.sanity_panel(grid, runner, tmp_path, tmp_path / "panel.png", {})
    assert out["status"] == "ok" and out["images"] == ["a.jpg"] and len(runner.calls) == 2
    assert (tmp_path / "panel.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    again = _PredictRunner(tmp_path / "work")
    sanity.sanity_panel(grid, again, tmp_path, tmp_path / "panel2.png", {})
    assert again.calls == []  # pictures already there are reused
    failures: dict[str, str] = {}
    bad = sanity.sanity_panel(grid, _PredictRunner(tmp_path / "w2", fail="enhancenet"), tmp_path,
                              tmp_path / "p3.png", failures)
    assert bad["status"].startswith("not run: every prediction failed") and next(iter(failures)).startswith("sanity:")


def test_not_run_without_images_or_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENHANCENET_SHARED_DATA", str(tmp_path / "nowhere"))
    monkeypatch.setattr(sanity, "ROOT", tmp_path)
    grid = build_grid(QUICK, ["torch"])
    assert "no COCO sample images" in sanity.sanity_panel(grid, None, tmp_path, tmp_path / "p.png", {})["status"]
    monkeypatch.setenv("ENHANCENET_SHARED_DATA", str(tmp_path))
    _sample(tmp_path)
    base, _ = sanity.sanity_pair(grid)
    out = sanity.sanity_panel(grid, None, tmp_path, tmp_path / "p.png", {base.key: "failed"})
    assert "did not train" in out["status"]


def test_tables_name_the_panel() -> None:
    from reproduce.tables import render_tables
    from reproduce.tests.test_tables_figures import _fake_results

    ok = {"status": "ok", "images": ["a.jpg"], "models": ["torch-base-seed0", "torch-enhancenet-seed0"]}
    md = render_tables({**_fake_results(), "sanity": ok})
    assert "## Sanity panel" in md and "a.jpg, each person box predicted by torch-base-seed0 and" in md
    skipped = render_tables({**_fake_results(), "sanity": {"status": "not run: full run only", "images": []}})
    assert "Not run: full run only." in skipped.split("## Sanity panel")[1]
