"""``enhancenet-convert`` reads the training checkpoints ``enhancenet-torch train`` writes
(``checkpoint_last.safetensors``: tensors + JSON, no pickle) and turns their model into canonical safetensors
(``reproduce`` hands a torch-trained backbone to paddle and mindspore this way). A pickle checkpoint of an earlier
version converts only with ``--trust-pickle``; without it, it is refused unread.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from enhancenet_core.config import load_config, shipped_config_path
from enhancenet_core.safetensors_io import PickleRefusedError
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
    return tmp / "run" / "checkpoint_last.safetensors", cfg


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


def test_old_pickle_checkpoint_converts_only_when_trusted(trained: tuple[Path, object], tmp_path: Path) -> None:
    src, cfg = trained
    old = tmp_path / "checkpoint_last.pt"
    torch.save(load_checkpoint(src), old)  # the pickle format of earlier versions: the same dict, torch.save-d
    with pytest.raises(PickleRefusedError, match=r"checkpoint_last\.pt: refused: a pickle file"):
        convert(old, tmp_path / "refused.safetensors")
    assert not (tmp_path / "refused.safetensors").exists()
    convert(old, tmp_path / "trusted.safetensors", trust_pickle=True)
    a, b = build_model(cfg.model), build_model(cfg.model)
    load_canonical(a, tmp_path / "trusted.safetensors", cfg.model)
    convert(src, tmp_path / "safe.safetensors")
    load_canonical(b, tmp_path / "safe.safetensors", cfg.model)
    for name, tensor in canonical_state_dict(a).items():
        assert torch.equal(tensor, canonical_state_dict(b)[name]), name


def test_foreign_pickle_is_refused_with_the_file_name(tmp_path: Path) -> None:
    bad = tmp_path / "other.pt"
    torch.save({"format": "someone-else", "rng": np.arange(3)}, bad)
    with pytest.raises(ValueError, match=r"other\.pt: refused: a pickle file"):
        convert(bad, tmp_path / "w.safetensors")
    assert not (tmp_path / "w.safetensors").exists()


def test_front_end_sends_a_training_checkpoint_to_its_framework(trained: tuple[Path, object], tmp_path: Path) -> None:
    from enhancenet_runtime.convert import convert_weights

    src, cfg = trained
    res = convert_weights(src, tmp_path / "w.safetensors")  # no --config: the checkpoint's own
    assert res.steps == ("torch: checkpoint_last.safetensors -> w.safetensors",)
    model = build_model(cfg.model)
    load_canonical(model, tmp_path / "w.safetensors", cfg.model)
    stored = load_checkpoint(src)["model"]
    assert all(torch.equal(t, stored[n]) for n, t in canonical_state_dict(model).items())
