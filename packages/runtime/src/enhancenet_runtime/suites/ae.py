"""The bottom-up AE hourglass of every framework: its outputs (features, every stack's detection and tag maps,
M^HR) against enhancenet-numpy with the same canonical weights, its canonical names, and its loss
(``AssociativeEmbeddingLoss``, ``ae_tag_loss``, ``ae_detection_loss``) against the spec's NumPy formulas
(:mod:`enhancenet_core.bottomup.loss`) and a hand-computed case.

Tolerances: the model as :mod:`enhancenet_runtime.suites.models` (float64 1e-9, float32 1e-5 × scale); the loss
terms computed in float32 against the float64 spec: relative 1e-5.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import numpy as np
import pytest

from enhancenet_core.bottomup.loss import (
    AE_BATCH_KEYS,
    AE_HEAD_BATCH_KEYS,
    ae_total_loss,
    detection_loss,
    tag_loss,
)
from enhancenet_core.config import (
    BaseModelConfig,
    EnhanceNetConfig,
    LossConfig,
    ModelConfig,
    config_from_dict,
)
from enhancenet_core.conventions import BaseModelName
from enhancenet_core.namemap import parameter_specs
from enhancenet_numpy.models import ae_hourglass
from enhancenet_numpy.weights import init_weights
from enhancenet_runtime.data.bottomup import BottomUpDataset, load_bottomup_records
from enhancenet_runtime.data.synthetic_multi import generate_multi_person_coco
from enhancenet_runtime.suites.models import TOLERANCE

K = 3
TINY = BaseModelConfig(name=BaseModelName.AE_HOURGLASS, stages=2, hourglass_channels=16, hourglass_increase=8,
                       ae_output_channels=4 * K)
CASES = [
    pytest.param(TINY, EnhanceNetConfig(channels=16, upscale=2), id="ae-2stacks-c16-r2"),
    pytest.param(TINY, EnhanceNetConfig(enabled=False), id="ae-2stacks-c16-no-head"),
    pytest.param(BaseModelConfig(name=BaseModelName.AE_HOURGLASS, stages=1, hourglass_channels=16,
                                 hourglass_increase=0, ae_output_channels=2 * K),
                 EnhanceNetConfig(channels=8), id="ae-1stack-2K-r4"),
]
LOSS_REL = 1e-5


class Binding(Protocol):
    """What :class:`AeSuite` needs from a framework (the same members as the models and loss suites)."""

    losses: ModuleType
    model_dtypes: tuple[str, ...]

    def build_model(self, model_cfg: ModelConfig) -> Any: ...
    def model_forward(self, cfg: ModelConfig, params: dict[str, np.ndarray], images: np.ndarray,
                      dtype: str) -> dict[str, Any]: ...
    def infer(self, model: Any, images: np.ndarray) -> dict[str, Any]: ...
    def model_tolerance(self, dtype: str) -> float | None: ...
    def canonical_shapes(self, model: Any) -> dict[str, tuple[int, ...]]: ...
    def assert_native_names(self, model: Any, canonical_names: list[str]) -> None: ...
    def tensor(self, array: np.ndarray) -> Any: ...
    def numpy(self, tensor: Any) -> np.ndarray: ...
    def grad(self, fn: Callable[[Any], Any], array: np.ndarray) -> np.ndarray: ...


def _close(got: np.ndarray, want: np.ndarray, what: str, tol: float) -> None:
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = float(np.abs(want).max())
    assert scale > 0
    diff = float(np.abs(got - want).max())
    assert diff <= tol * scale, f"{what}: max abs diff {diff:.3e} > {tol:g} x scale {scale:.3e}"


def _tag_case(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tags (3, K, 8, 8); image 0: three persons (one with no tagged joint), image 1: one person (push 0),
    image 2: none (both 0)."""
    rng = np.random.default_rng(seed)
    tags = rng.standard_normal((3, K, 8, 8)).astype(np.float32)
    pixels = rng.integers(0, 8, (3, 4, K, 2)).astype(np.float32)
    mask = rng.random((3, 4, K)) > 0.3
    mask[0, 2] = False
    mask[0, 3] = False
    mask[0, :2, 0] = True
    mask[1, 1:] = False
    mask[2] = False
    return tags, pixels, mask


class AeSuite:
    """The AE hourglass tests, run by each framework with its ``binding`` fixture."""

    @pytest.mark.parametrize(("base", "head"), CASES)
    def test_model_matches_numpy(self, binding: Binding, base: BaseModelConfig, head: EnhanceNetConfig) -> None:
        cfg = ModelConfig(base=base, head=head, num_keypoints=K, input_size=(64, 64))
        params = init_weights(cfg, seed=11, dtype=np.float64)
        x = np.random.default_rng(2).random((2, 3, 64, 64))
        want = ae_hourglass.full_forward(params, x, base, K, head)
        for dtype in binding.model_dtypes:
            tol = binding.model_tolerance(dtype) or TOLERANCE[dtype]
            out = binding.model_forward(cfg, params, x, dtype)
            _close(out["features"], want.features, f"{dtype} F^LR", tol)
            _close(out["lr"], want.detection, f"{dtype} detection", tol)
            dets, tags = want.stack_detection(K), want.stack_tags(K)
            assert len(out["intermediate"]) == len(dets) - 1 and len(out["tags"]) == len(tags)
            for i, got in enumerate(out["intermediate"]):
                _close(got, dets[i], f"{dtype} detection of stack {i}", tol)
            for i, got in enumerate(out["tags"]):
                _close(got, tags[i], f"{dtype} tags of stack {i}", tol)
            if head.enabled:
                assert want.hr is not None
                _close(out["hr"], want.hr, f"{dtype} M^HR", tol)
            else:
                assert "hr" not in out

    def test_names_are_canonical(self, binding: Binding) -> None:
        for head in (EnhanceNetConfig(channels=16), EnhanceNetConfig(enabled=False)):
            cfg = ModelConfig(base=TINY, head=head, num_keypoints=K)
            got = binding.canonical_shapes(binding.build_model(cfg))
            specs = parameter_specs(cfg)
            assert list(got) == list(specs)
            assert got == {k: s.shape for k, s in specs.items()}
            binding.assert_native_names(binding.build_model(cfg), list(specs))

    def test_bad_input_and_config(self, binding: Binding) -> None:
        model = binding.build_model(ModelConfig(base=TINY, num_keypoints=K, head=EnhanceNetConfig(enabled=False)))
        with pytest.raises(ValueError, match="divisible by 64"):
            binding.infer(model, np.zeros((1, 3, 64, 96)))
        with pytest.raises(ValueError, match="ae_output_channels"):
            binding.build_model(ModelConfig(base=TINY, num_keypoints=7))

    def test_tag_loss_matches_the_spec(self, binding: Binding) -> None:
        tags, pixels, mask = _tag_case()
        push, pull = binding.losses.ae_tag_loss(*(binding.tensor(a) for a in (tags, pixels, mask)))
        want_push, want_pull = tag_loss(tags, pixels.astype(np.int64), mask)
        assert want_push[0] > 0 and want_push[1] == want_push[2] == 0 and want_pull[2] == 0
        np.testing.assert_allclose(binding.numpy(push), want_push, rtol=LOSS_REL, atol=1e-7)
        np.testing.assert_allclose(binding.numpy(pull), want_pull, rtol=LOSS_REL, atol=1e-7)

    def test_tag_loss_by_hand(self, binding: Binding) -> None:
        """Two persons of two joints: tags (1, 3) and (4, 4): means 2 and 4, pull ((1 + 1)/2 + 0)/2 = 0.5,
        push 0.5 · exp(-(2 - 4)²)."""
        tags = np.zeros((1, 2, 2, 2), np.float32)
        tags[0, 0, 0, 0], tags[0, 1, 1, 1] = 1.0, 3.0  # person 0: joint 0 at (0, 0), joint 1 at (1, 1)
        tags[0, 0, 0, 1], tags[0, 1, 1, 0] = 4.0, 4.0  # person 1: joint 0 at x=1 y=0, joint 1 at x=0 y=1
        pixels = np.array([[[[0, 0], [1, 1]], [[1, 0], [0, 1]]]], np.float32)
        push, pull = binding.losses.ae_tag_loss(*(binding.tensor(a) for a in (tags, pixels, np.ones((1, 2, 2)))))
        # float32 terms, the suite's LOSS_REL (MindSpore's float32 exp(-4) is 1.1e-6 off, beyond approx's 1e-6)
        assert float(binding.numpy(pull)[0]) == pytest.approx(0.5, rel=LOSS_REL)
        assert float(binding.numpy(push)[0]) == pytest.approx(0.5 * np.exp(-4.0), rel=LOSS_REL)

    def test_detection_loss_matches_the_spec(self, binding: Binding) -> None:
        rng = np.random.default_rng(1)
        pred, target = rng.random((2, K, 6, 5)).astype(np.float32), rng.random((2, K, 6, 5)).astype(np.float32)
        mask = (rng.random((2, 6, 5)) > 0.2).astype(np.float32)
        got = binding.numpy(binding.losses.ae_detection_loss(*(binding.tensor(a) for a in (pred, target, mask))))
        np.testing.assert_allclose(got, detection_loss(pred, target, mask), rtol=LOSS_REL)
        with pytest.raises(ValueError, match="mask"):
            binding.losses.ae_detection_loss(binding.tensor(pred), binding.tensor(target), binding.tensor(mask[0]))

    @pytest.mark.parametrize("head_enabled", [True, False])
    def test_total_matches_ae_total_loss(self, binding: Binding, head_enabled: bool) -> None:
        rng = np.random.default_rng(3)
        tags, pixels, mask = _tag_case(4)
        n, s = 3, 2
        dets = [rng.random((n, K, 8, 8)).astype(np.float32) for _ in range(s)]
        stack_tags = [tags, rng.standard_normal(tags.shape).astype(np.float32)]
        target, keep = rng.random((n, K, 8, 8)).astype(np.float32), (rng.random((n, 8, 8)) > 0.1).astype(np.float32)
        hr, target_hr = rng.random((n, K, 16, 16)).astype(np.float32), rng.random((n, K, 16, 16)).astype(np.float32)
        keep_hr = np.repeat(np.repeat(keep, 2, axis=1), 2, axis=2)
        T = binding.tensor
        outputs: dict[str, Any] = {"lr": T(dets[-1]), "intermediate": [T(dets[0])], "tags": [T(t) for t in stack_tags]}
        batch = {"target_lr": T(target), "mask_lr": T(keep), "pixels": T(pixels), "joint_mask": T(mask)}
        if head_enabled:
            outputs["hr"] = T(hr)
            batch.update(target_hr=T(target_hr), mask_hr=T(keep_hr))
        got = binding.losses.AssociativeEmbeddingLoss(LossConfig(hr_weight=0.5), head_enabled)(outputs, batch)
        pp = [tag_loss(t, pixels.astype(np.int64), mask) for t in stack_tags]
        push, pull = np.stack([a for a, _ in pp], 1), np.stack([b for _, b in pp], 1)  # (B, S)
        det = detection_loss(np.stack(dets, 1), target, keep)
        det_hr = detection_loss(hr, target_hr, keep_hr) if head_enabled else None
        want = ae_total_loss(push, pull, det, det_hr, eta=0.5)
        assert float(binding.numpy(got["loss"])) == pytest.approx(want, rel=LOSS_REL)
        assert float(binding.numpy(got["loss_push"])) == pytest.approx(float(push.mean()), rel=LOSS_REL)
        assert float(binding.numpy(got["loss_pull"])) == pytest.approx(float(pull.mean()), rel=LOSS_REL)
        assert float(binding.numpy(got["loss_detection"])) == pytest.approx(float(det.mean()), rel=LOSS_REL)
        assert ("loss_hr" in got) == head_enabled

    def test_missing_outputs_and_batch_keys_are_named(self, binding: Binding) -> None:
        T = binding.tensor
        tags, pixels, mask = _tag_case()
        loss = binding.losses.AssociativeEmbeddingLoss(LossConfig(), head_enabled=True)
        batch = {"target_lr": T(tags), "mask_lr": T(np.ones((3, 8, 8))), "pixels": T(pixels), "joint_mask": T(mask)}
        with pytest.raises(ValueError, match="'hr'"):
            loss({"lr": T(tags), "tags": [T(tags)]}, batch)
        with pytest.raises(ValueError, match="'target_hr'"):
            loss({"lr": T(tags), "tags": [T(tags)], "hr": T(tags)}, batch)

    def test_pull_gradient_reaches_only_the_joint_pixels(self, binding: Binding) -> None:
        tags, pixels, mask = _tag_case()
        P, M = binding.tensor(pixels), binding.tensor(mask)
        grad = binding.grad(lambda t: binding.losses.ae_tag_loss(t, P, M)[1].sum(), tags)
        touched = np.zeros(tags.shape, bool)
        b, p, k = np.nonzero(mask)
        touched[b, k, pixels[b, p, k, 1].astype(int), pixels[b, p, k, 0].astype(int)] = True
        assert np.all(grad[~touched] == 0) and np.any(grad[touched] != 0)

    @pytest.mark.parametrize("head_enabled", [True, False])
    def test_collated_batch_feeds_the_loss(self, binding: Binding, tmp_path: Path, head_enabled: bool) -> None:
        """The runtime's bottom-up collate and the framework's loss share one contract (AE_BATCH_KEYS): a batch of
        synthetic multi-person scenes, made tensors as they are, gives the spec's total with maps made from it."""
        generate_multi_person_coco(tmp_path / "d", 3, seed=5, image_size=(64, 48), people_per_image=(2, 3),
                                   crowd_prob=1.0, val_fraction=0.0)  # fmt: skip
        cfg = config_from_dict({"model": {"input_size": [64, 64], "head": {"enabled": head_enabled, "upscale": 2}},
                                "loss": {"hr_weight": 0.5}})  # fmt: skip
        records = load_bottomup_records(tmp_path / "d/annotations/person_keypoints_train.json",
                                        tmp_path / "d/images/train")  # fmt: skip
        ds = BottomUpDataset(records, cfg, train=True, seed=1)
        batch = ds.collate([ds[i] for i in range(len(ds))])
        keys = AE_BATCH_KEYS + (AE_HEAD_BATCH_KEYS if head_enabled else ())
        assert set(keys) <= set(batch) and (set(AE_HEAD_BATCH_KEYS) <= set(batch)) == head_enabled
        assert batch["joint_mask"].sum() > 0 and batch["mask_lr"].min() == 0  # people tagged, a crowd masked
        rng = np.random.default_rng(0)
        n, k = batch["target_lr"].shape[:2]
        dets = [batch["target_lr"] + 0.1 * rng.random(batch["target_lr"].shape), batch["target_lr"] * 0.5]
        tags = [rng.standard_normal(batch["target_lr"].shape) for _ in dets]
        T = binding.tensor
        outputs: dict[str, Any] = {"lr": T(dets[1]), "intermediate": [T(dets[0])], "tags": [T(t) for t in tags]}
        det_hr = None
        if head_enabled:
            hr = batch["target_hr"] + 0.2 * rng.random(batch["target_hr"].shape)
            outputs["hr"] = T(hr)
            det_hr = detection_loss(hr, batch["target_hr"], batch["mask_hr"])
        got = binding.losses.AssociativeEmbeddingLoss(cfg.loss, head_enabled)(outputs, {k: T(batch[k]) for k in keys})
        pp = [tag_loss(t, batch["pixels"], batch["joint_mask"]) for t in tags]
        push, pull = np.stack([a for a, _ in pp], 1), np.stack([b for _, b in pp], 1)
        det = detection_loss(np.stack(dets, 1), batch["target_lr"], batch["mask_lr"])
        want = ae_total_loss(push, pull, det, det_hr, eta=0.5)
        assert pull.mean() > 0 and k == cfg.model.num_keypoints and n == len(ds)
        assert float(binding.numpy(got["loss"])) == pytest.approx(want, rel=LOSS_REL)
