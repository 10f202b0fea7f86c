"""mmpose / HRNet-repository / bearpaw checkpoints (key lists and shapes of those code bases' model definitions,
enhancenet_runtime.testing_foreign) load into our torch models and give the outputs of the same weights loaded from a
canonical file that the test builds by renaming the keys itself; unbridgeable variants are refused, nothing loaded."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from enhancenet_core.canonical import save_canonical_arrays
from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_core.foreign_names import ForeignCheckpointError
from enhancenet_core.safetensors_io import PickleRefusedError, save_safetensors
from enhancenet_runtime import testing_foreign as tf
from enhancenet_torch.foreign import load_foreign_checkpoint
from enhancenet_torch.models import build_model, canonical_state_dict
from enhancenet_torch.weights import load_canonical

SMALL = {"input_size": (48, 64)}  # reduced input for speed; the weights do not depend on it
NO_HEAD = EnhanceNetConfig(enabled=False)
SB50 = ModelConfig(base=BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=50), head=NO_HEAD, **SMALL)
HR32 = ModelConfig(base=BaseModelConfig(name=BaseModelName.HRNET, width=32), head=NO_HEAD, input_size=(64, 64))


def _by_hand(arrays: dict[str, np.ndarray], prefixes: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The canonical names, renamed here without the code under test: drop the prefixes and BN step counters."""
    out = {}
    for k, v in arrays.items():
        if k.endswith("num_batches_tracked"):
            continue
        for p in prefixes:
            if k.startswith(p):
                k = k[len(p):]
                break
        out[k] = v
    return out


def _outputs(model: torch.nn.Module, cfg: ModelConfig) -> dict[str, torch.Tensor]:
    w, h = cfg.input_size
    x = torch.from_numpy(np.random.default_rng(0).standard_normal((1, 3, h, w)).astype(np.float32))
    model.eval()
    with torch.no_grad():
        return model(x)


@pytest.mark.parametrize(("shapes", "cfg", "prefixes"), [
    (tf.mmpose_simple_baseline(50), SB50, ("backbone.", "head.")),
    (tf.mmpose_hrnet(32), HR32, ("backbone.", "head.")),
], ids=["mmpose-simplebaseline-r50", "mmpose-hrnet-w32"])
def test_mmpose_checkpoint_gives_the_outputs_of_the_canonical_file(tmp_path: Path, shapes, cfg, prefixes) -> None:
    arrays = tf.arrays(shapes, seed=3)
    foreign = tmp_path / "mmpose.safetensors"
    save_safetensors(foreign, arrays)
    canon = tmp_path / "canonical.safetensors"
    save_canonical_arrays(canon, _by_hand(arrays, prefixes), cfg)

    a = build_model(cfg)
    assert load_foreign_checkpoint(a, foreign, cfg) == "mmpose"
    b = build_model(cfg)
    load_canonical(b, canon, cfg)
    sa, sb = canonical_state_dict(a), canonical_state_dict(b)
    assert all(torch.equal(sa[k], sb[k]) for k in sb)
    oa, ob = _outputs(a, cfg), _outputs(b, cfg)
    assert torch.equal(oa["lr"], ob["lr"]) and float(oa["lr"].abs().max()) > 0
    # and against a fresh model: the weights really changed the output
    assert not torch.allclose(_outputs(build_model(cfg), cfg)["lr"], oa["lr"])


def test_trusted_pth_with_state_dict_and_meta(tmp_path: Path) -> None:
    cfg = replace(SB50, base=replace(SB50.base, depth=18), num_keypoints=5)
    arrays = tf.arrays(tf.mmpose_simple_baseline(18, k=5), seed=4)
    path = tmp_path / "td-hm_res18.pth"
    meta = {"mmpose_version": "1.3.1", "epoch": 210,  # mmpose's meta holds NumPy arrays (dataset sigmas)
            "dataset_meta": {"sigmas": np.full(5, 0.025, np.float32), "flip_indices": [0, 2, 1, 4, 3]}}
    torch.save({"meta": meta, "state_dict": {k: torch.from_numpy(v) for k, v in arrays.items()}}, path)
    model = build_model(cfg)
    before = {k: v.clone() for k, v in canonical_state_dict(model).items()}
    with pytest.raises(PickleRefusedError, match="trust-pickle"):
        load_foreign_checkpoint(model, path, cfg)
    assert all(torch.equal(before[k], v) for k, v in canonical_state_dict(model).items())
    assert load_foreign_checkpoint(model, path, cfg, trust_pickle=True) == "mmpose"
    assert np.array_equal(model.base.final_layer.weight.detach().numpy(), arrays["head.final_layer.weight"])


def test_bearpaw_hourglass_pth(tmp_path: Path) -> None:
    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.HOURGLASS, stages=2, hourglass_blocks=1),
                      head=NO_HEAD, num_keypoints=16, input_size=(64, 64))
    arrays = tf.arrays(tf.bearpaw_hourglass(2, 1, k=16), seed=5)
    path = tmp_path / "checkpoint.pth"
    torch.save({"epoch": 1, "arch": "hg2", "state_dict": {k: torch.from_numpy(v) for k, v in arrays.items()}}, path)
    a = build_model(cfg)
    assert load_foreign_checkpoint(a, path, cfg, trust_pickle=True) == "canonical"
    canon = tmp_path / "canonical.safetensors"
    save_canonical_arrays(canon, _by_hand(arrays, ("module.",)), cfg)
    b = build_model(cfg)
    load_canonical(b, canon, cfg)
    assert torch.equal(_outputs(a, cfg)["lr"], _outputs(b, cfg)["lr"])


def test_head_keeps_its_initialisation(tmp_path: Path) -> None:
    cfg = replace(HR32, head=EnhanceNetConfig())
    arrays = tf.arrays(tf.mmpose_hrnet(32), seed=6)
    path = tmp_path / "w32.safetensors"
    save_safetensors(path, arrays)
    model = build_model(cfg)
    head = {k: v.clone() for k, v in model.enhance.state_dict().items()}
    load_foreign_checkpoint(model, path, cfg)
    assert all(torch.equal(head[k], v) for k, v in model.enhance.state_dict().items())
    assert np.array_equal(model.base.conv2.weight.detach().numpy(), arrays["backbone.conv2.weight"])


def test_resnet_v1d_is_refused_and_nothing_loaded(tmp_path: Path) -> None:
    path = tmp_path / "v1d.safetensors"
    save_safetensors(path, tf.arrays(tf.mmpose_simple_baseline(50, v1d=True), seed=None))
    model = build_model(SB50)
    before = {k: v.clone() for k, v in canonical_state_dict(model).items()}
    with pytest.raises(ForeignCheckpointError) as info:
        load_foreign_checkpoint(model, path, SB50)
    assert "\n" not in str(info.value) and "backbone.stem.0.conv.weight (32, 3, 3, 3)" in str(info.value)
    assert all(torch.equal(before[k], v) for k, v in canonical_state_dict(model).items())


def test_mmpose_file_as_model_base_pretrained(tmp_path: Path) -> None:
    from enhancenet_core.conventions import PretrainedScope

    cfg = ModelConfig(base=BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=18), num_keypoints=5, **SMALL)
    arrays = tf.arrays(tf.mmpose_simple_baseline(18, k=5), seed=7)
    path = tmp_path / "mmpose_res18.safetensors"
    save_safetensors(path, arrays)
    whole = build_model(replace(cfg, base=replace(cfg.base, pretrained=str(path), pretrained_scope=PretrainedScope.BASE)))
    assert np.array_equal(whole.base.final_layer.weight.detach().numpy(), arrays["head.final_layer.weight"])
    trunk = build_model(replace(cfg, base=replace(cfg.base, pretrained=str(path))))
    assert np.array_equal(trunk.base.layer4[1].bn2.running_var.numpy(), arrays["backbone.layer4.1.bn2.running_var"])
    assert not np.array_equal(trunk.base.final_layer.weight.detach().numpy(), arrays["head.final_layer.weight"])
    save_safetensors(path, tf.arrays(tf.mmpose_simple_baseline(18, k=5, v1d=True), seed=None))
    with pytest.raises(ForeignCheckpointError, match=r"backbone\.stem\.0\.conv\.weight"):
        build_model(replace(cfg, base=replace(cfg.base, pretrained=str(path))))


R18K5 = ModelConfig(base=BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=18), num_keypoints=5,
                    head=NO_HEAD, **SMALL)


@pytest.mark.slow  # runs the converter's back end as a subprocess
def test_enhancenet_convert_turns_an_mmpose_safetensors_file_into_a_canonical_one(tmp_path: Path) -> None:
    import sys

    from enhancenet_runtime.convert import ConvertError, convert_weights

    arrays = tf.arrays(tf.mmpose_simple_baseline(18, k=5), seed=8)
    src = tmp_path / "mmpose_res18.safetensors"
    save_safetensors(src, arrays)
    dst = tmp_path / "res18.safetensors"
    py = {"torch": sys.executable}
    convert_weights(src, dst, R18K5, py)
    ref = build_model(R18K5)
    load_foreign_checkpoint(ref, src, R18K5)
    got = build_model(R18K5)
    load_canonical(got, dst, R18K5)  # a canonical file: header, model_config, every tensor
    assert torch.equal(_outputs(got, R18K5)["lr"], _outputs(ref, R18K5)["lr"])
    with pytest.raises(ConvertError, match="another code base"):
        convert_weights(src, tmp_path / "x.safetensors", None, py)
    with pytest.raises(ConvertError, match=r"holds the base model only.*pretrained_scope: base"):
        convert_weights(src, tmp_path / "x.safetensors", replace(R18K5, head=EnhanceNetConfig()), py)
    save_safetensors(src, tf.arrays(tf.mmpose_simple_baseline(18, k=5, v1d=True), seed=None))
    with pytest.raises(ConvertError, match=r"first mismatching tensor backbone\.stem\.0\.conv\.weight"):
        convert_weights(src, tmp_path / "x.safetensors", R18K5, py)
    assert not (tmp_path / "x.safetensors").exists()


@pytest.mark.slow  # runs the converter's back end as a subprocess
def test_enhancenet_convert_reads_a_trusted_mmpose_pth(tmp_path: Path) -> None:
    import sys

    from enhancenet_runtime.convert import ConvertError, convert_weights

    arrays = tf.arrays(tf.mmpose_simple_baseline(18, k=5), seed=9)
    src = tmp_path / "td-hm_res18.pth"
    torch.save({"meta": {"dataset_meta": {"sigmas": np.full(5, 0.025)}},
                "state_dict": {k: torch.from_numpy(v) for k, v in arrays.items()}}, src)
    dst = tmp_path / "res18.safetensors"
    py = {"torch": sys.executable}
    with pytest.raises(ConvertError, match="trust-pickle"):
        convert_weights(src, dst, R18K5, py)
    assert not dst.exists()
    convert_weights(src, dst, R18K5, py, trust_pickle=True)
    canon = tmp_path / "canonical.safetensors"
    save_canonical_arrays(canon, _by_hand(arrays, ("backbone.", "head.")), R18K5)
    a, b = build_model(R18K5), build_model(R18K5)
    load_canonical(a, dst, R18K5)
    load_canonical(b, canon, R18K5)
    assert torch.equal(_outputs(a, R18K5)["lr"], _outputs(b, R18K5)["lr"])
