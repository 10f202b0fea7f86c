"""``enhancenet-convert`` reads the training checkpoints ``enhancenet-torch train`` writes (``checkpoint_last.pt``).

They hold optimizer and NumPy RNG state besides the weights, which ``torch.load(weights_only=True)`` refuses; the
torch back end must still turn them into canonical safetensors (``reproduce`` hands a torch-trained backbone to
paddle and mindspore this way).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_runtime.data.synthetic import generate_synthetic_coco
from enhancenet_torch.checkpoint import load_checkpoint
from enhancenet_torch.convert import convert
from enhancenet_torch.models import build_model, canonical_state_dict
from enhancenet_torch.weights import load_canonical


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    from enhancenet_torch.train import train

    tmp = tmp_path_factory.mktemp("convert_ckpt")
    root = tmp / "data"
    generate_synthetic_coco(root, 6, seed=0, image_size=(64, 64), val_fraction=0.5, progress=False)
    cfg = load_config(shipped_config_path("synthetic_quick"), [
        f"data.root={root}", "model.input_size=[32,32]", "model.base.deconv_channels=8",
        "model.head.channels=8", "train.batch_size=2",
    ])  # fmt: skip
    train(cfg, tmp / "run", device="cpu", max_steps=1, validate=False, progress=False, tensorboard=False)
    return tmp / "run" / "checkpoint_last.pt", cfg


def test_training_checkpoint_converts_to_canonical(trained: tuple[Path, object], tmp_path: Path) -> None:
    src, cfg = trained
    dst = tmp_path / "weights.safetensors"
    convert(src, dst)  # the model configuration comes from the checkpoint's own config
    model = build_model(cfg.model)
    load_canonical(model, dst, cfg.model)
    stored = load_checkpoint(src)["model"]
    got = canonical_state_dict(model)
    assert set(got) <= set(stored)
    for name, tensor in got.items():
        assert torch.equal(tensor, stored[name]), name


def test_foreign_pickle_is_refused_with_the_file_name(tmp_path: Path) -> None:
    bad = tmp_path / "other.pt"
    torch.save({"format": "someone-else", "rng": np.arange(3)}, bad)  # a NumPy array: refused by weights_only
    with pytest.raises(ValueError, match=r"other\.pt: neither a PyTorch state dict nor an enhancenet-torch"):
        convert(bad, tmp_path / "w.safetensors")
