"""DLCM's targets in the pipeline: the collate step renders every level's maps (bone maps of levels 2, 3; joint
maps LR, HR at r·σ) for the whole batch, equal to the spec's per-sample codec; other base models are unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.codecs import heatmap_codecs
from enhancenet_core.compositional import dlcm_codecs, level_target_keys
from enhancenet_core.config import Config, load_config, shipped_config_path
from enhancenet_runtime.data.mpii import load_mpii_records
from enhancenet_runtime.data.pipeline import PoseDataset, render_targets
from enhancenet_runtime.testing import mpii_sample_layout


def _cfg(name: str, root: Path | None = None) -> Config:
    extra = [f"data.root={root}", "data.train_set=valid"] if root else []
    return load_config(shipped_config_path(name), ["model.input_size=[64, 64]", "model.base.hourglass_channels=32",
                                                   *extra])


@pytest.mark.parametrize("head", [True, False])
def test_batch_bone_maps_equal_the_per_sample_codec(tmp_path: Path, mpii_sample_dir: Path, head: bool) -> None:
    """Augmented MPII samples (flips, rotations, joints off the patch): the batch's targets of every level equal
    the spec's codec run on each sample alone, bit for bit; level 1 and HR are the ordinary Gaussian codecs'."""
    root = mpii_sample_layout(tmp_path / "mpii", mpii_sample_dir, head_boxes=False)
    name = "mpii_dlcm_256x256_enhancenet" if head else "mpii_dlcm_256x256_base"
    cfg = _cfg(name, root)
    records = load_mpii_records(root / "annot" / "valid.json", root / "images").records
    ds = PoseDataset(records, cfg, train=True, seed=5)
    samples = [ds[i] for i in range(len(ds))]
    batch = ds.collate(samples)
    codecs, lr_codec = dlcm_codecs(cfg), heatmap_codecs(cfg).lr
    assert batch["target_level2"].shape == (len(ds), 12, 16, 16) and batch["target_level3"].shape[1] == 6
    assert any(s["meta"]["flip"] for s in samples)
    for i, s in enumerate(samples):
        one = codecs.lr.encode(s["joints"][None], s["joints_vis"][None])
        for lv in (1, 2, 3):
            t_key, w_key = level_target_keys(lv)
            np.testing.assert_array_equal(batch[t_key][i], one.maps[lv - 1][0], err_msg=t_key)
            np.testing.assert_array_equal(batch[w_key][i], one.weights[lv - 1][0], err_msg=w_key)
        np.testing.assert_array_equal(batch["target_lr"][i], lr_codec.encode(s["joints"][None],
                                                                             s["joints_vis"][None])[0][0])
        if head:
            hr, hr_w = codecs.hr.encode(s["joints"][None], s["joints_vis"][None])
            np.testing.assert_array_equal(batch["target_hr"][i], hr[0])
            np.testing.assert_array_equal(batch["target_weight_hr"][i], hr_w[0])
    assert ("target_hr" in batch) is head
    assert batch["target_level2"].max() > 0.99 and batch["target_weight_level3"].sum() > 0


def test_other_base_models_get_no_level_targets() -> None:
    joints = np.random.default_rng(0).uniform(4, 60, (2, 16, 2))
    out = render_targets(joints, np.ones((2, 16)), _cfg("mpii_hourglass_2stage_256x256_enhancenet"))
    assert set(out) == {"target_lr", "target_weight_lr", "target_hr", "target_weight_hr"}
    dl = render_targets(joints, np.ones((2, 16)), _cfg("mpii_dlcm_256x256_enhancenet"))
    assert set(dl) == set(out) | {"target_level2", "target_weight_level2", "target_level3", "target_weight_level3"}
    np.testing.assert_array_equal(dl["target_lr"], out["target_lr"])
    np.testing.assert_array_equal(dl["target_hr"], out["target_hr"])
