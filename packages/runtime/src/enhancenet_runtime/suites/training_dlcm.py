"""DLCM end to end in every framework: ``train`` with a DLCM config on synthetic MPII-format data (the loss the
base model chooses, :class:`DlcmLoss`, on every level's targets the pipeline renders), then ``evaluate`` with
the flip test and PCKh, as every MPII config.

The flip test flips the final level-1 maps (and M^HR) back with ``data.flip_pairs``, which are the hierarchy's
level-1 partners (a config rule); the composite levels' maps do not enter the pose, so swapping their partners
(:func:`enhancenet_core.compositional.flip_levels`) would not change it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from enhancenet_core.config import Config, load_config, shipped_config_path
from enhancenet_runtime.data.synthetic_mpii import generate_synthetic_mpii
from enhancenet_runtime.suites.training import Binding

__all__ = ["DlcmTrainingSuite", "tiny_dlcm_config"]


def tiny_dlcm_config(root: Path, head: bool = True, *extra: str) -> Config:
    """The shipped DLCM config at 64x64 input, 32 channels, head of 16 channels (r = 4), batch 4, on the synthetic
    MPII set at ``root`` (splits train / valid), flip test on."""
    name = "mpii_dlcm_256x256_enhancenet" if head else "mpii_dlcm_256x256_base"
    return load_config(shipped_config_path(name), [
        f"data.root={root}", "model.input_size=[64,64]", "model.base.hourglass_channels=32",
        *(("model.head.channels=16",) if head else ()), "train.batch_size=4", "train.workers=0", "train.amp=false",
        "train.epochs=1", "train.lr_steps=[1]", "test.batch_size=8", "test.flip_test=true", *extra,
    ])  # fmt: skip


class DlcmTrainingSuite:
    """A few DLCM steps lower the loss; evaluation of the trained model reports PCKh@0.5 with the flip test."""

    @pytest.mark.slow
    def test_dlcm_trains_and_evaluates(self, binding: Binding, tmp_path: Path) -> None:
        """DLCM + EnhanceNet (every level's targets and M^HR; the base alone is the same path without M^HR)."""
        head = True
        root = generate_synthetic_mpii(tmp_path / "mpii", num_train=24, num_valid=8, seed=0, image_size=80)
        cfg = tiny_dlcm_config(root, head)
        result = binding.train(cfg, tmp_path / "run", max_steps=6, validate=False, progress=False)
        assert result.step == 6 and len(result.losses) == 6
        assert np.mean(result.losses[-2:]) < np.mean(result.losses[:2]), result.losses
        model = binding.build_model(cfg.model)
        binding.load_model_weights(model, tmp_path / "run" / f"checkpoint_last{binding.checkpoint_suffix}", cfg.model)
        metrics = binding.evaluate(cfg, model, tmp_path / "eval")
        print(f"DLCM (head={head}) losses {[round(v, 5) for v in result.losses]}; "
              f"{metrics['metric_name']} {metrics['metric']:.2f}")
        assert metrics["metric_name"].startswith("PCKh") and 0.0 <= metrics["metric"] <= 100.0
        assert (tmp_path / "eval" / "predictions.npz").is_file()
