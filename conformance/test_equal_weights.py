"""(b) Equal-weight outputs on real images: SimpleBaseline-R18 + EnhanceNet (paper head, r=4) with the same
canonical weights in every implementation, on COCO sample crops preprocessed by enhancenet-core; M^LR and
M^HR (float32) vs numpy-ref (float64)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from conformance._common import DEEP_RTOL, scaled_error
from enhancenet_core.config import BaseModelConfig, EnhanceNetConfig, ModelConfig
from enhancenet_core.conventions import BaseModelName
from enhancenet_numpy.weights import init_weights
from enhancenet_runtime.data.coco import load_coco_gt_records
from enhancenet_runtime.data.image import crop_patch, normalize_image, read_image

CFG = ModelConfig(
    base=BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=18),
    head=EnhanceNetConfig(upscale=4),
    input_size=(64, 96),
)
SEED = 7


@lru_cache(maxsize=1)
def _images(coco_dir: str) -> np.ndarray:
    d = Path(coco_dir)
    records = load_coco_gt_records(d / "test_coco.json", d, CFG.input_size).records[:3]
    patches = [normalize_image(crop_patch(read_image(r.image), r.center, r.scale, 0.0, CFG.input_size)) for r in records]
    return np.stack(patches).astype(np.float32)


@lru_cache(maxsize=1)
def _reference(coco_dir: str) -> dict[str, np.ndarray]:
    from conformance.adapters.numpy_ref import NumpyRefAdapter

    params = init_weights(CFG, SEED, np.float64)
    return NumpyRefAdapter().model_forward(params, CFG, _images(coco_dir).astype(np.float64), np.float64)


def test_real_images_same_weights(impl, record, coco_sample_dir: Path) -> None:
    images = _images(str(coco_sample_dir))
    assert images.shape == (3, 3, 96, 64) and images.std() > 0.1  # real, normalized content
    ref = _reference(str(coco_sample_dir))
    out = impl.model_forward(init_weights(CFG, SEED, np.float32), CFG, images, np.float32)
    ok = True
    for key in ("lr", "hr"):
        err, scale = scaled_error(out[key], ref[key])
        ok &= record(f"equal_weights.coco_sample.r18.{key}", err, DEEP_RTOL * scale, f"scale {scale:.3g}")
    assert ok
