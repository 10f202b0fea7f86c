"""The EnhanceNet head (Sec. 3.1, Eqs. 1-4) in every configuration of the schema.

Input ``x = [F^LR, M^LR]`` (Eq. 1; or F or M alone), then ``L − 1`` convolutions each followed by ReLU
(``enhance.convs.{l}``: the first with kernel ``first_kernel``, the rest ``kernel``, padding ``k // 2``),
then the L-th layer ``enhance.upsample`` without activation:

- SUBPIXEL: conv C -> K·r² (kernel ``upsampler_kernel``) whose output channels are stored in
  ``shuffle_order``, then the periodic shuffle PS (Eq. 4-5);
- DECONV: transposed conv C -> K, kernel k, stride r, padding and output padding from
  :func:`enhancenet_core.architecture.deconv_padding` so the output is exactly r·H × r·W;
- BILINEAR_CONV: bilinear ×r (``align_corners=False``), then conv C -> K (kernel k, padding k // 2).
"""

from __future__ import annotations

import numpy as np

from enhancenet_core.architecture import deconv_padding
from enhancenet_core.config import EnhanceNetConfig, validate_head
from enhancenet_core.conventions import HeadInput, Upsampler
from enhancenet_core.namemap import HEAD_PREFIX
from enhancenet_numpy import ops


def head_input(f_lr: np.ndarray | None, m_lr: np.ndarray | None, inputs: HeadInput) -> np.ndarray:
    """The head input: ``[F, M]`` concatenated on channels (Eq. 1), or F or M alone. Arrays are NCHW."""
    if inputs in (HeadInput.BOTH, HeadInput.FEATURES) and f_lr is None:
        raise ValueError(f"head inputs={inputs.value!r} needs F^LR, got None")
    if inputs in (HeadInput.BOTH, HeadInput.HEATMAPS) and m_lr is None:
        raise ValueError(f"head inputs={inputs.value!r} needs M^LR, got None")
    if f_lr is not None and m_lr is not None and inputs == HeadInput.BOTH:
        if f_lr.shape[0] != m_lr.shape[0] or f_lr.shape[2:] != m_lr.shape[2:]:
            raise ValueError(f"F^LR {f_lr.shape} and M^LR {m_lr.shape} must agree on N, H and W")
        return ops.concat([f_lr, m_lr], axis=1)
    if f_lr is not None and inputs == HeadInput.FEATURES:
        return f_lr
    if m_lr is not None and inputs == HeadInput.HEATMAPS:
        return m_lr
    raise ValueError(f"model.head.inputs: unknown head input {inputs!r}")


def head_forward(
    params: dict[str, np.ndarray],
    f_lr: np.ndarray | None,
    m_lr: np.ndarray | None,
    head: EnhanceNetConfig,
    prefix: str = HEAD_PREFIX,
) -> np.ndarray:
    """M^HR from F^LR (N, C_F, H, W) and M^LR (N, K, H, W): (N, K, r·H, r·W).

    ``params`` holds the canonical tensors ``{prefix}convs.{l}.weight/bias`` and ``{prefix}upsample.*``.
    """
    validate_head(head)  # the config's head rules (L >= 2, kernels, upsampler), written once
    x = head_input(f_lr, m_lr, head.inputs)
    for layer in range(head.num_layers - 1):
        w = params[f"{prefix}convs.{layer}.weight"]
        x = ops.conv2d(x, w, params[f"{prefix}convs.{layer}.bias"], padding=w.shape[-1] // 2)
        np.maximum(x, np.zeros((), dtype=x.dtype), out=x)  # ReLU (ops.relu) in place on the fresh conv output
    w, b = params[f"{prefix}upsample.weight"], params[f"{prefix}upsample.bias"]
    k, r = head.upsampler_kernel, head.upscale
    if head.upsampler == Upsampler.SUBPIXEL:
        return ops.pixel_shuffle(ops.conv2d(x, w, b, padding=k // 2), r, head.shuffle_order)
    if head.upsampler == Upsampler.DECONV:
        p, op = deconv_padding(k, r)
        return ops.conv_transpose2d(x, w, b, stride=r, padding=p, output_padding=op)
    if head.upsampler == Upsampler.BILINEAR_CONV:
        return ops.conv2d(ops.upsample_bilinear(x, r, align_corners=False), w, b, padding=k // 2)
    raise ValueError(f"model.head.upsampler: unknown upsampler {head.upsampler!r}")
