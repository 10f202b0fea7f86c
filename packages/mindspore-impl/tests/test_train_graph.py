"""GRAPH mode (the step compiled by ``mindspore.jit``) trains the same function as PYNATIVE mode.

Same seed → same initial weights and batches; the tiny base (convolutions, batch norm in training mode, a
transposed convolution) with the real EnhanceNet head runs two Adam steps in each mode. Tolerance: losses and
weights agree to 1e-5 relative (float32; the compiled graph may fuse and order reductions differently), and the
two modes must not be trivially the same object (the graph run compiled a step).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from _toy import tiny_model

from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_mindspore.checkpoint import load_checkpoint
from enhancenet_mindspore.train import make_train_step, train
from enhancenet_runtime.data.synthetic import generate_synthetic_coco


def test_graph_step_matches_pynative(tmp_path: Path) -> None:
    root = tmp_path / "synthetic"
    generate_synthetic_coco(root, 10, seed=1, image_size=(64, 64), people_per_image=(1, 1), val_fraction=0.2,
                            progress=False)
    cfg = load_config(shipped_config_path("synthetic_quick"), [
        f"data.root={root}", "model.input_size=[64,64]", "model.head.channels=16", "train.batch_size=4",
        "train.epochs=1", "train.lr=0.001",
    ])  # fmt: skip
    runs = {}
    for mode in ("pynative", "graph"):
        runs[mode] = train(cfg, tmp_path / mode, device="cpu", max_steps=2, validate=False, progress=False,
                           mode=mode, model_fn=tiny_model)
    eager, graph = runs["pynative"].losses, runs["graph"].losses
    assert len(eager) == len(graph) == 2 and eager[0] > 0
    np.testing.assert_allclose(graph, eager, rtol=1e-5)
    a = load_checkpoint(tmp_path / "pynative" / "checkpoint_last.ckpt")
    b = load_checkpoint(tmp_path / "graph" / "checkpoint_last.ckpt")
    assert a["mode"] == "pynative" and b["mode"] == "graph"
    worst = 0.0
    for name, value in a["tensors"].items():
        scale = max(float(np.abs(value).max()), 1e-3)
        diff = float(np.abs(b["tensors"][name] - value).max())
        assert diff <= 1e-5 * scale, name
        worst = max(worst, diff / scale)
    print(f"GRAPH vs PYNATIVE: losses {graph} vs {eager}; weights max rel diff {worst:.3g}")


def test_unknown_mode_is_rejected() -> None:
    with pytest.raises(ValueError, match="mode"):
        make_train_step(None, None, None, mode="eager")  # type: ignore[arg-type]


def test_graph_evaluation_matches_pynative(tmp_path: Path) -> None:
    """``evaluate(mode="graph")`` (the forward compiled by ``mindspore.jit``) predicts what PYNATIVE predicts."""
    from enhancenet_mindspore.evaluate import evaluate

    root = tmp_path / "synthetic"
    generate_synthetic_coco(root, 6, seed=2, image_size=(64, 64), people_per_image=(1, 1), val_fraction=0.5,
                            progress=False)
    cfg = load_config(shipped_config_path("synthetic_quick"), [
        f"data.root={root}", "model.input_size=[64,64]", "model.head.channels=16", "test.batch_size=4",
    ])  # fmt: skip
    model = tiny_model(cfg)
    evaluate(cfg, model, out_dir=tmp_path / "eager", progress=False, mode="pynative")
    evaluate(cfg, model, out_dir=tmp_path / "graph", progress=False, mode="graph")
    a, b = np.load(tmp_path / "eager" / "predictions.npz"), np.load(tmp_path / "graph" / "predictions.npz")
    assert a["preds"].shape[0] >= 3
    np.testing.assert_allclose(b["preds"], a["preds"], rtol=1e-5, atol=1e-4)
