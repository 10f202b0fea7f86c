"""Grouping parity: the tiny AE hourglass + EnhanceNet (``conformance._ae``) with the same canonical weights in
every implementation, on whole synthetic multi-person images, through the framework's own bottom-up ``forward``
and the runtime's evaluator path (:func:`enhancenet_runtime.engine.bottomup_eval.predict_people`: flip test,
grouping of M^HR with the LR tags, back-projection): the people found must be those of numpy-ref's float64 maps.

Grouping is spec (one NumPy implementation); frameworks only produce maps, so any difference here is a map
difference that crossed a grouping decision. Weights: :func:`enhancenet_numpy.weights.init_weights` with the last
stack's output convolution and the head's upsampler scaled by :data:`OUTPUT_SCALE`: an untrained network's
detections reach ±10 (every candidate clipped at 1 and every scale skipped above 10 — ties everywhere); scaled,
they stay below the clip and the grouping has real decisions to make (measured: 30 people, ~500 joints, per image).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from conformance._ae import AE_CFG, AE_WEIGHT_SEED, ae_scenes
from enhancenet_core.bottomup import Grouping
from enhancenet_numpy.weights import init_weights
from enhancenet_runtime.data.image import read_image
from enhancenet_runtime.engine.bottomup_eval import predict_people
from enhancenet_runtime.engine.bottomup_run import model_maps_fn

OUTPUT_SCALE = 0.05
SCALED = ("outs.1.conv.weight", "outs.1.conv.bias", "enhance.upsample.weight", "enhance.upsample.bias")
#: float32 maps vs float64 maps, after grouping: the same people with the same joints found, and
#: |Δ(x, y)| (image pixels), |Δ detection value| and |Δ person score| at most GROUP_TOL (measured ~1e-6)
GROUP_TOL = 1e-3


def _params(dtype: type) -> dict[str, np.ndarray]:
    p = init_weights(AE_CFG.model, AE_WEIGHT_SEED, np.float64)
    return {k: (v * OUTPUT_SCALE if k in SCALED else v).astype(dtype) for k, v in p.items()}


def _people(forward, root: str) -> list[Grouping]:
    records, _ = ae_scenes(root)
    maps_fn = model_maps_fn(forward, AE_CFG)
    return [predict_people(read_image(r.image, AE_CFG.data.color_rgb), r, maps_fn, AE_CFG) for r in records]


@lru_cache(maxsize=1)
def _reference(root: str) -> list[Grouping]:
    from conformance.adapters.numpy_ref import NumpyRefAdapter

    params = _params(np.float64)
    ref = NumpyRefAdapter()

    def forward(images: np.ndarray) -> dict:
        out = ref.model_forward(params, AE_CFG.model, images.astype(np.float64), np.float64)
        return {k: v for k, v in out.items() if k in ("lr", "hr", "tags")}

    return _people(forward, root)


def test_same_maps_same_people(impl, record, tmp_path_factory) -> None:
    root = str(tmp_path_factory.getbasetemp() / "ae_grouping")
    ref = _reference(root)
    got = _people(impl.bottomup_forward(_params(np.float32), AE_CFG.model), root)
    worst, joints, ok = 0.0, 0, True
    for i, (a, b) in enumerate(zip(got, ref, strict=True)):
        found_a, found_b = a.people[..., 2] > 0, b.people[..., 2] > 0
        if a.people.shape != b.people.shape or not np.array_equal(found_a, found_b):
            ok = record(f"grouping.ae_tiny.image{i}", np.inf, GROUP_TOL,
                        f"people {a.people.shape} vs numpy-ref's {b.people.shape}; joints found "
                        f"{int(found_a.sum())} vs {int(found_b.sum())}") and ok
            continue
        joints += int(found_b.sum())
        worst = max(worst, float(np.max(np.abs(a.people[..., :3].astype(np.float64) - b.people[..., :3]),
                                        initial=0.0)),
                    float(np.max(np.abs(a.scores - b.scores), initial=0.0)))
    assert joints > 0  # the check had people to compare
    ok = record("grouping.ae_tiny.people", worst, GROUP_TOL,
                f"{len(ref)} images, {sum(len(g.scores) for g in ref)} people, {joints} joints equal in number; "
                "max |Δ| of x, y (image px), detection value and person score vs numpy-ref float64") and ok
    assert ok
