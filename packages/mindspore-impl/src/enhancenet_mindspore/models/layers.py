"""MindSpore building blocks with PyTorch semantics, the only places where MindSpore differs in behaviour.

Every layer here was checked against enhancenet-numpy (``packages/mindspore-impl/tests/test_layers.py``):

- :func:`conv2d`: ``nn.Conv2d`` with ``pad_mode="pad"`` and an explicit symmetric padding (MindSpore's default
  ``pad_mode="same"`` pads asymmetrically for even kernels and stride 2), ``has_bias`` as torch's ``bias``.
- :func:`batch_norm`: ``nn.BatchNorm2d(eps=1e-5, momentum=0.9)``. MindSpore's momentum weights the running
  statistic (``moving = 0.9 * moving + 0.1 * batch``), PyTorch's the batch statistic, so MindSpore 0.9 is
  PyTorch 0.1 (HRNet's ``BN_MOMENTUM``). Both normalise with the biased batch variance and update the running
  variance with the unbiased one (checked on this machine).
- :class:`ConvTranspose2d`: ``nn.Conv2dTranspose`` whose ``output_padding`` means what PyTorch's does.
  MindSpore 2.8 implements ``output_padding`` as zeros appended *after* the bias (its ``construct`` pads the
  result), whereas in PyTorch the extra rows/columns are computed by the transposed convolution (they receive
  kernel taps when ``padding > 0``) and carry the bias. This layer instead crops asymmetrically: torch
  ``(padding p, output_padding op)`` is MindSpore ``padding=(p, p - op, p, p - op)`` when ``op <= p``;
  when ``op > p`` (e.g. kernel 3, stride 4: ``p = 0, op = 1``) the ``op - p`` extra rows get no kernel tap in
  PyTorch either, so they are zero-padded *before* the bias is added. Weight layout ``(C_in, C_out, kh, kw)``,
  the same as PyTorch and the canonical format.
- :class:`Upsample`: ``ops.interpolate`` with an explicit output ``size`` (MindSpore 2.8 rejects
  ``scale_factor`` for 4-D bilinear / nearest). Bilinear with ``align_corners=False`` is the half-pixel rule of
  PyTorch; MindSpore computes the source coordinate with ``in / out`` in float32, which differs from PyTorch's
  ``1 / scale_factor`` by ~1e-7 relative for r = 3, 5 (exact for powers of two). Nearest is ``in[y // s]``.
- :class:`MaxPool2d`: padding then a ``"valid"`` ``nn.MaxPool2d`` (PyTorch's padding semantics; see there).
- :class:`Identity`-like placeholders (``nn.Identity``) stand where PyTorch holds ``None`` in a ``ModuleList``
  so that list indices (and thus canonical names) are unchanged; they own no parameters.

Float64: MindSpore 2.8's CPU ``Conv2D`` / ``Conv2DTranspose`` / ``BatchNorm`` accept float16/32 only, so every
model here computes in float32.
"""

from __future__ import annotations

import mindspore as ms
from mindspore import nn, ops
from mindspore.common.initializer import HeNormal, Normal, One, Zero, initializer

BN_MOMENTUM = 0.9  # MindSpore convention; == PyTorch momentum 0.1
BN_EPS = 1e-5


def conv2d(
    in_channels: int, out_channels: int, kernel: int, stride: int = 1, padding: int | None = None,
    bias: bool = True,
) -> nn.Conv2d:
    """``nn.Conv2d`` with PyTorch's semantics: explicit symmetric ``padding`` (default ``kernel // 2``)."""
    pad = kernel // 2 if padding is None else padding
    return nn.Conv2d(in_channels, out_channels, kernel, stride=stride, pad_mode="pad", padding=pad, has_bias=bias)


def batch_norm(channels: int) -> nn.BatchNorm2d:
    """``BatchNorm2d`` with eps 1e-5 and MindSpore momentum 0.9 (PyTorch 0.1)."""
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=BN_MOMENTUM)


def torch_deconv_padding(padding: int, output_padding: int) -> tuple[tuple[int, int, int, int], int]:
    """PyTorch ``(padding, output_padding)`` -> (MindSpore ``(top, bottom, left, right)`` crop, zero rows to append).

    A transposed convolution with padding ``p`` drops ``p`` rows at each end of the full output; PyTorch's output
    padding then keeps ``op`` of the rows dropped at the end (or appends ``op - p`` rows no kernel tap reaches).
    """
    if padding < 0 or output_padding < 0:
        raise ValueError(f"padding and output_padding must be >= 0, got {padding}, {output_padding}")
    bottom = max(padding - output_padding, 0)
    extra = max(output_padding - padding, 0)
    return (padding, bottom, padding, bottom), extra


class ConvTranspose2d(nn.Conv2dTranspose):
    """Transposed convolution with PyTorch's ``padding`` / ``output_padding`` semantics (see the module docstring).

    ``(N, C_in, H, W) -> (N, C_out, (H - 1) * stride - 2 * padding + kernel + output_padding, ...)``;
    ``weight`` (C_in, C_out, k, k), ``bias`` (C_out,) when ``bias``.
    """

    def __init__(
        self, in_channels: int, out_channels: int, kernel: int, stride: int, padding: int = 0,
        output_padding: int = 0, bias: bool = True,
    ) -> None:
        if not 0 <= output_padding < stride:
            raise ValueError(f"ConvTranspose2d: output_padding must be in [0, stride={stride}), got {output_padding}")
        crop, extra = torch_deconv_padding(padding, output_padding)
        super().__init__(in_channels, out_channels, kernel, stride=stride, pad_mode="pad", padding=crop,
                         output_padding=0, has_bias=bias)
        self.extra = extra
        self.crop_h = crop[0] + crop[1]
        self.crop_w = crop[2] + crop[3]
        self.kernel = kernel
        self.step = stride

    def construct(self, x):
        """(N, C_in, H, W) -> (N, C_out, r*H, r*W) for the head's padding; see the class docstring."""
        n, _, h, w = x.shape
        h_out = (h - 1) * self.step + self.kernel - self.crop_h
        w_out = (w - 1) * self.step + self.kernel - self.crop_w
        y = self.conv2d_transpose(x, self.weight, (n, self.out_channels, h_out, w_out))
        if self.extra > 0:
            # zero rows / columns by concatenation: MindSpore 2.8 exports an asymmetric Pad wrongly to ONNX
            y = ops.concat((y, ops.zeros_like(y[:, :, : self.extra, :])), 2)
            y = ops.concat((y, ops.zeros_like(y[:, :, :, : self.extra])), 3)
            if self.has_bias:  # BiasAdd after a Concat exports as a (C,)-shaped Add: broadcast explicitly
                y = y + self.bias.reshape(1, -1, 1, 1)
            return y
        if self.has_bias:
            y = self.bias_add(y, self.bias)
        return y


class Upsample(nn.Cell):
    """Integer-factor upsampling of (N, C, H, W) to (N, C, s*H, s*W): ``"nearest"`` or ``"bilinear"``
    (``align_corners=False``, PyTorch's half-pixel rule)."""

    def __init__(self, scale_factor: int, mode: str = "nearest") -> None:
        super().__init__()
        if int(scale_factor) != scale_factor or scale_factor < 1:
            raise ValueError(f"Upsample: scale_factor must be a positive integer, got {scale_factor}")
        if mode not in ("nearest", "bilinear"):
            raise ValueError(f"Upsample: mode must be 'nearest' or 'bilinear', got {mode!r}")
        self.scale = int(scale_factor)
        self.mode = mode

    def construct(self, x):
        """(N, C, H, W) -> (N, C, s*H, s*W)."""
        h, w = x.shape[2], x.shape[3]
        if self.mode == "bilinear":
            return ops.interpolate(x, size=(h * self.scale, w * self.scale), mode="bilinear", align_corners=False)
        return ops.interpolate(x, size=(h * self.scale, w * self.scale), mode="nearest")


def resize_bilinear_aligned(x, size):
    """Bilinear resize of (N, C, H, W) to ``size`` (h, w) with ``align_corners=True`` (CPN's resizes)."""
    return ops.interpolate(x, size=size, mode="bilinear", align_corners=True)


class MaxPool2d(nn.Cell):
    """Max pooling with PyTorch's explicit padding (padded cells never win), ``ceil_mode=False``.

    ``nn.MaxPool2d(pad_mode="pad")`` computes the same values but lowers to ``MaxPool3DWithArgmax``, and
    ``ops.pad`` to ``PadV3``; the ONNX exporter of MindSpore 2.8 converts neither. With ``nonnegative_input``
    (the pool follows a ReLU, as ResNet's stem) zero padding is exactly PyTorch's -inf padding (every window
    holds at least one real value >= 0), and ``ops.Pad`` + a ``"valid"`` pool export as ONNX ``Pad`` +
    ``MaxPool``. Otherwise the padding is -inf through ``ops.pad`` (correct, not ONNX-exportable).
    """

    def __init__(self, kernel: int, stride: int, padding: int = 0, nonnegative_input: bool = False) -> None:
        super().__init__()
        if padding < 0 or padding > kernel // 2:
            raise ValueError(f"MaxPool2d: padding must be in [0, kernel // 2], got {padding} for kernel {kernel}")
        self.padding = padding
        self.nonnegative_input = nonnegative_input
        self.zero_pad = ops.Pad(((0, 0), (0, 0), (padding, padding), (padding, padding)))
        self.pool = nn.MaxPool2d(kernel, stride)

    def construct(self, x):
        """(N, C, H, W) -> (N, C, floor((H + 2p - k) / s) + 1, ...)."""
        if self.padding > 0:
            if self.nonnegative_input:
                x = self.zero_pad(x)
            else:
                p = self.padding
                x = ops.pad(x, (p, p, p, p), value=float("-inf"))
        return self.pool(x)


def max_pool(kernel: int, stride: int, padding: int = 0, nonnegative_input: bool = False) -> MaxPool2d:
    """:class:`MaxPool2d` (PyTorch semantics)."""
    return MaxPool2d(kernel, stride, padding, nonnegative_input)


def _set(param: ms.Parameter, init) -> None:
    param.set_data(initializer(init, param.shape, param.dtype))


def init_normal_(cell: nn.Cell, std: float = 0.001) -> None:
    """HRNet's initialisation: conv / deconv weights ~ N(0, std), biases 0, batch norm gamma 1 and beta 0."""
    for _, m in cell.cells_and_names():
        if isinstance(m, nn.Conv2d | nn.Conv2dTranspose):
            _set(m.weight, Normal(sigma=std))
            if m.has_bias:
                _set(m.bias, Zero())
        elif isinstance(m, nn.BatchNorm2d):
            _set(m.gamma, One())
            _set(m.beta, Zero())


def init_he_fan_out_(conv: nn.Conv2d) -> None:
    """Kaiming normal (fan_out, ReLU) weight and zero bias (the head's hidden convolutions)."""
    _set(conv.weight, HeNormal(mode="fan_out", nonlinearity="relu"))
    if conv.has_bias:
        _set(conv.bias, Zero())


def init_msra_(cell: nn.Cell) -> None:
    """CPN port's initialisation: conv weights ~ N(0, sqrt(2 / (k*k*C_out))), biases 0, BN gamma 1, beta 0."""
    for _, m in cell.cells_and_names():
        if isinstance(m, nn.Conv2d) and not isinstance(m, nn.Conv2dTranspose):
            kh, kw = m.kernel_size
            _set(m.weight, Normal(sigma=(2.0 / (kh * kw * m.out_channels)) ** 0.5))
            if m.has_bias:
                _set(m.bias, Zero())
        elif isinstance(m, nn.BatchNorm2d):
            _set(m.gamma, One())
            _set(m.beta, Zero())


__all__ = [
    "BN_EPS",
    "BN_MOMENTUM",
    "ConvTranspose2d",
    "MaxPool2d",
    "Upsample",
    "batch_norm",
    "conv2d",
    "init_he_fan_out_",
    "init_msra_",
    "init_normal_",
    "max_pool",
    "resize_bilinear_aligned",
    "torch_deconv_padding",
]
