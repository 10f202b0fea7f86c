"""The frozen-base experiment: scoring and table (NumPy), crops and head training (PyTorch, skipped without it)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from reproduce.experiments import FULL, QUICK, Frozen, build_grid
from reproduce.frozen import frozen_key, render_frozen, score_frozen


def _write_case(tmp_path: Path, hr_shift: list[float], lr_shift: float) -> tuple[Path, Path]:
    """Instances with a 200-px box (scale[1] = 1 -> one LR px = 200/16 = 12.5 px at 16 LR rows); every labelled
    keypoint of M^LR decodes ``lr_shift`` LR px to the right of the truth, of seed s's M^HR ``hr_shift[s]``."""
    rng = np.random.default_rng(0)
    n, k = 6, 17
    gt = rng.uniform(20, 180, (n, k, 2))
    vis = np.ones((n, k))
    vis[0, :3] = 0
    anns = [{"id": i, "image_id": i, "bbox": [0, 0, 200, 200], "num_keypoints": 14, "iscrowd": 0,
             "keypoints": np.concatenate([gt[i], 2 * vis[i, :, None]], axis=1).reshape(-1).tolist()}
            for i in range(n)]
    ann = tmp_path / "val.json"
    ann.write_text(json.dumps({"annotations": anns, "images": [], "categories": []}))

    def preds(shift: float) -> np.ndarray:
        p = np.concatenate([gt, np.ones((n, k, 1))], axis=2)
        p[..., 0] += shift * 12.5
        return p

    out = tmp_path / "frozen"
    out.mkdir()
    np.savez(out / "frozen.npz", preds_hr=np.stack([preds(s) for s in hr_shift]), preds_lr=preds(lr_shift),
             image_id=np.arange(n), center=np.full((n, 2), 100.0), scale=np.ones((n, 2)),
             seeds=np.arange(len(hr_shift)))
    (out / "frozen.json").write_text(json.dumps({"seeds": list(range(len(hr_shift))), "steps": 3, "batch": 4,
                                                 "patch": 8, "lr": 1e-3, "train_instances": 10,
                                                 "val_instances": n, "seconds": 1.0}))
    return out, ann


def test_score_frozen_pairs_each_seed_with_the_same_lr_decoding(tmp_path: Path) -> None:
    out, ann = _write_case(tmp_path, hr_shift=[0.2, 0.3, 0.25, 0.35], lr_shift=1.0)
    res = score_frozen(out, ann, lr_rows=16)
    assert res["lr"]["median_error_lr_px"] == pytest.approx(1.0)
    assert res["hr"]["median_error_lr_px"] == pytest.approx([0.2, 0.3, 0.25, 0.35])
    t = res["tests"]["median_error_lr_px"]
    assert t["n"] == 4 and t["mean"] == pytest.approx(-0.725) and t["significant"] and t["ci"][1] < 0
    # PCK@0.05 = 10 px = 0.8 LR px: every LR keypoint misses, every HR one hits
    assert res["lr"]["PCK@0.05"] == 0.0 and res["hr"]["PCK@0.05"] == [100.0] * 4
    assert res["tests"]["PCK@0.05"]["p"] is None  # no spread over seeds: no interval, said so
    assert res["keypoint_test"]["n"] == 6 * 17 - 3
    table = "\n".join(render_frozen(res))
    assert "| median_error_lr_px | 1.00 | 0.28 ± 0.06 |" in table and "the head helps" in table
    assert "| PCK@0.05 | 0.00 | 100.00 ± 0.00 |" in table and "no interval" in table


def test_render_frozen_not_run_and_absent() -> None:
    assert render_frozen(None) == []
    assert "Not run: not run: no torch" in "\n".join(render_frozen({"status": "not run: no torch"}))


def test_frozen_spec_in_the_scales_and_its_key() -> None:
    assert FULL.frozen is not None and len(FULL.frozen.seeds) >= 8
    assert QUICK.frozen is not None and QUICK.frozen.steps <= 5
    pre = build_grid(QUICK, ["torch"]).pretrain
    assert frozen_key(pre, QUICK.frozen) != frozen_key(pre, Frozen(seeds=(0, 1), steps=4, batch=4))
    assert frozen_key(pre, QUICK.frozen) == frozen_key(pre, Frozen(seeds=(0, 1), steps=3, batch=4))


def test_crop_batch_and_head_training_on_a_tiny_cache() -> None:
    torch = pytest.importorskip("torch", reason="the frozen experiment's training half needs PyTorch")
    from enhancenet_core.config import load_config, shipped_config_path
    from reproduce.frozen_torch import crop_batch, head_halo, train_head

    x = torch.arange(2 * 3 * 6 * 5, dtype=torch.float32).reshape(2, 3, 6, 5)
    got = crop_batch(x, torch.tensor([0, 2]), torch.tensor([1, 0]), 3)
    assert torch.equal(got[0], x[0, :, 0:3, 1:4]) and torch.equal(got[1], x[1, :, 2:5, 0:3])

    cfg = load_config(shipped_config_path("synthetic_quick"), ["model.head.channels=8"])
    rng = np.random.default_rng(0)
    n, k, h, w, r = 3, 17, 8, 6, cfg.model.head.upscale
    target = np.zeros((n, k, h * r, w * r), np.float32)
    target[:, :, 10, 7] = 1.0  # every joint's peak at LR pixel (2, 1)
    cache = {"features": rng.normal(size=(n, 4, h, w)).astype(np.float32),
             "lr": rng.normal(size=(n, k, h, w)).astype(np.float32), "target_hr": target,
             "weight_hr": np.ones((n, k), np.float32)}
    head, losses = train_head(cfg, cache, seed=0, steps=4, batch=2, patch=4, lr=1e-3)
    assert head_halo(head) == 2  # 1x1, 3x3, then the 3x3 sub-pixel conv
    assert len(losses) == 4 and all(np.isfinite(losses))
    _, losses2 = train_head(cfg, cache, seed=0, steps=4, batch=2, patch=4, lr=1e-3)
    assert losses2 == losses  # seeded
    with torch.no_grad():
        assert head(torch.from_numpy(cache["features"]), torch.from_numpy(cache["lr"])).shape == (n, k, h * r, w * r)


def test_run_frozen_command_and_resume(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from reproduce.frozen import run_frozen
    from reproduce.runner import ROOT, Runner

    pre = build_grid(QUICK, ["torch"]).pretrain
    runner = Runner(tmp_path, {"torch": "/nonexistent/python"})
    calls: list[tuple[list[str], dict]] = []

    def fake_run(cmd: list[str], log_file: Path, env: dict | None = None) -> float:
        calls.append((cmd, env or {}))
        out = Path(cmd[cmd.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)
        (out / "frozen.npz").write_bytes(b"x")
        return 1.0

    monkeypatch.setattr(runner, "_run", fake_run)
    out = run_frozen(runner, pre, QUICK.frozen, tmp_path / "data")
    cmd, env = calls[0]
    assert cmd[:4] == ["/nonexistent/python", "-m", "reproduce.frozen_torch", pre.config]
    sets = dict(a.split("=", 1) for a in cmd[cmd.index("--set"):cmd.index("--seeds")] if a != "--set")
    assert sets["model.head.enabled"] == "true" and sets["model.base.pretrained"] == str(runner.backbone(pre))
    assert sets["data.root"] == str(tmp_path / "data") and "train.seed" not in sets
    assert sets["model.input_size"] == dict(pre.overrides)["model.input_size"]  # the base's own scale
    assert cmd[cmd.index("--seeds") + 1:cmd.index("--steps")] == ["0", "1"]
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(ROOT)  # reproduce importable from the work dir
    assert run_frozen(runner, pre, QUICK.frozen, tmp_path / "data") == out and len(calls) == 1  # resumed
