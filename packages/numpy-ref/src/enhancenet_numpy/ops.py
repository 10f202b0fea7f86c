"""The operations of every model, in plain NumPy, NCHW, float32 or float64.

Semantics are PyTorch's (``torch.nn.functional``) so a framework can be checked element for element:

- :func:`conv2d`: cross-correlation, weights ``(C_out, C_in / groups, kh, kw)``, zero padding.
- :func:`conv_transpose2d`: the gradient of :func:`conv2d` w.r.t. its input, weights
  ``(C_in, C_out / groups, kh, kw)``; output size ``(H - 1)·s − 2p + d·(k − 1) + op + 1``.
- :func:`batch_norm`: evaluation mode, ``(x − mean) / sqrt(var + eps) · gamma + beta``;
  :func:`batch_norm_batch_stats`: training mode (the batch's mean and biased variance).
- :func:`max_pool2d`: padding counts as −inf, ``ceil_mode=False``.
- :func:`upsample_nearest`, :func:`upsample_bilinear`: ``F.interpolate`` with an integer scale factor.

Convolution is one matrix product per layer (per group) over an im2col matrix copied once from a
``sliding_window_view`` in a layout whose copy reads contiguous input rows (see :func:`conv2d`): no Python
loops over pixels, channels or the batch. The result has the dtype of the input.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from enhancenet_core import pixel_shuffle as _spec_ps
from enhancenet_core.conventions import ShuffleOrder


def _pair(v: int | tuple[int, int], name: str) -> tuple[int, int]:
    if isinstance(v, int | np.integer):
        return int(v), int(v)
    if len(v) != 2:
        raise ValueError(f"{name}: expected an int or a pair, got {v!r}")
    return int(v[0]), int(v[1])


def _check_nchw(x: np.ndarray, name: str = "x") -> None:
    if x.ndim != 4:
        raise ValueError(f"{name}: expected an (N, C, H, W) array, got shape {x.shape}")


def pad2d(x: np.ndarray, pad: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    """Pad (top, bottom, left, right) of an (N, C, H, W) array; negative amounts crop."""
    top, bottom, left, right = pad
    x = x[:, :, max(0, -top) : x.shape[2] - max(0, -bottom), max(0, -left) : x.shape[3] - max(0, -right)]
    widths = ((0, 0), (0, 0), (max(0, top), max(0, bottom)), (max(0, left), max(0, right)))
    if any(w != (0, 0) for w in widths):
        x = np.pad(x, widths, mode="constant", constant_values=value)
    return x


def _windows(
    xp: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], dilation: tuple[int, int]
) -> np.ndarray:
    """(N, C, H, W) padded input -> (N, C, H_out, W_out, kh, kw) read-only view of every window."""
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    eh, ew = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if xp.shape[2] < eh or xp.shape[3] < ew:
        raise ValueError(
            f"input of spatial size {xp.shape[2:]} (after padding) is smaller than the kernel extent {(eh, ew)}"
        )
    view = sliding_window_view(xp, (eh, ew), axis=(2, 3))
    return view[:, :, ::sh, ::sw, ::dh, ::dw]


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
    groups: int = 1,
) -> np.ndarray:
    """2-D cross-correlation (``torch.nn.functional.conv2d``).

    Args:
        x: (N, C_in, H, W).
        weight: (C_out, C_in / groups, kh, kw).
        bias: (C_out,) or None.
        stride, padding, dilation: an int or (h, w) pair; zero padding on both sides.
        groups: C_in and C_out must both be divisible by it.

    Returns:
        (N, C_out, H_out, W_out) with ``H_out = (H + 2p − d·(kh − 1) − 1) // s + 1``.
    """
    _check_nchw(x)
    if weight.ndim != 4:
        raise ValueError(f"weight: expected (C_out, C_in/groups, kh, kw), got shape {weight.shape}")
    n, c_in, _, _ = x.shape
    c_out, cg, kh, kw = weight.shape
    if groups < 1 or c_in % groups or c_out % groups or cg * groups != c_in:
        raise ValueError(
            f"conv2d: input has {c_in} channels, weight {weight.shape} with groups={groups} expects "
            f"{cg * groups} (and C_out {c_out} divisible by groups)"
        )
    if bias is not None and bias.shape != (c_out,):
        raise ValueError(f"bias: expected shape ({c_out},), got {bias.shape}")
    ph, pw = _pair(padding, "padding")
    (sh, sw), (dh, dw) = _pair(stride, "stride"), _pair(dilation, "dilation")
    xp = pad2d(x, (ph, ph, pw, pw))
    win = _windows(xp, (kh, kw), (sh, sw), (dh, dw))
    ho, wo, og = win.shape[2], win.shape[3], c_out // groups
    # im2col, stored transposed: (groups, C_in/groups*kh*kw, N*H_out*W_out), one copy in which every row is one
    # (channel, tap) plane read along the input's rows (contiguous memory, unlike the row-major (pixel, tap)
    # layout). Its transpose is the usual (N*H_out*W_out, K) im2col matrix with K in the weights' (channel, kh,
    # kw) order, and the matmul below is the same BLAS product, so the float64 bits are those of the row-major
    # im2col (conformance/golden regenerates byte for byte). A 1x1 stride-1 convolution of one image needs no
    # copy at all.
    if (kh, kw, sh, sw, n) == (1, 1, 1, 1, 1):
        cols = xp.reshape(groups, cg, ho * wo)
    else:
        cols = np.empty((groups, cg, kh, kw, n, ho, wo), dtype=x.dtype)
        cols[...] = win.reshape(n, groups, cg, ho, wo, kh, kw).transpose(1, 2, 5, 6, 0, 3, 4)
        cols = cols.reshape(groups, cg * kh * kw, n * ho * wo)
    w = weight.reshape(groups, og, cg * kh * kw).transpose(0, 2, 1)
    out = np.matmul(cols.transpose(0, 2, 1), w)  # (groups, N*H_out*W_out, C_out/groups): one matmul per group
    if bias is not None:
        b = bias.reshape(groups, 1, og)
        if np.result_type(out, b) == out.dtype:
            out += b  # in place: the same sums as out + bias, one array less
        else:
            out = out + b
    result = np.empty((n, c_out, ho, wo), dtype=out.dtype)  # NCHW, one transposing copy
    result.reshape(n, groups, og, ho, wo)[...] = out.reshape(groups, n, ho, wo, og).transpose(1, 0, 4, 2, 3)
    return result


def conv_transpose2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None = None,
    stride: int | tuple[int, int] = 1,
    padding: int | tuple[int, int] = 0,
    output_padding: int | tuple[int, int] = 0,
    groups: int = 1,
    dilation: int | tuple[int, int] = 1,
) -> np.ndarray:
    """Transposed convolution (``torch.nn.functional.conv_transpose2d``).

    Computed as a stride-1 convolution of the input dilated by ``stride`` (``stride − 1`` zeros between
    pixels), padded by ``d·(k − 1) − p`` (plus ``output_padding`` at the bottom/right), with the kernel
    flipped and its in/out axes swapped.

    Args:
        x: (N, C_in, H, W).
        weight: (C_in, C_out / groups, kh, kw), PyTorch's layout.
        bias: (C_out,) or None.

    Returns:
        (N, C_out, H_out, W_out), ``H_out = (H − 1)·s − 2p + d·(kh − 1) + op + 1``.
    """
    _check_nchw(x)
    if weight.ndim != 4:
        raise ValueError(f"weight: expected (C_in, C_out/groups, kh, kw), got shape {weight.shape}")
    n, c_in, h, w = x.shape
    if weight.shape[0] != c_in or groups < 1 or c_in % groups:
        raise ValueError(
            f"conv_transpose2d: input has {c_in} channels, weight {weight.shape} (groups={groups}) expects "
            f"{weight.shape[0]}"
        )
    _, og, kh, kw = weight.shape
    (sh, sw), (ph, pw) = _pair(stride, "stride"), _pair(padding, "padding")
    (oh, ow), (dh, dw) = _pair(output_padding, "output_padding"), _pair(dilation, "dilation")
    if not (0 <= oh < max(sh, dh) and 0 <= ow < max(sw, dw)):
        raise ValueError(
            f"output_padding {(oh, ow)} must be smaller than stride {(sh, sw)} or dilation {(dh, dw)}"
        )
    if sh == 1 and sw == 1:
        xd = x
    else:
        xd = np.zeros((n, c_in, (h - 1) * sh + 1, (w - 1) * sw + 1), dtype=x.dtype)
        xd[:, :, ::sh, ::sw] = x
    eh, ew = dh * (kh - 1), dw * (kw - 1)
    xd = pad2d(xd, (eh - ph, eh - ph + oh, ew - pw, ew - pw + ow))
    # (C_in, C_out/g, kh, kw) -> (C_out, C_in/g, kh, kw), flipped spatially.
    cg = c_in // groups
    wt = weight.reshape(groups, cg, og, kh, kw).transpose(0, 2, 1, 3, 4).reshape(groups * og, cg, kh, kw)
    wt = wt[:, :, ::-1, ::-1]
    return conv2d(xd, wt, bias, stride=1, padding=0, dilation=(dh, dw), groups=groups)


def batch_norm(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    eps: float = 1e-5,
) -> np.ndarray:
    """Batch norm in evaluation mode over (N, C, H, W); every parameter is (C,)."""
    _check_nchw(x)
    c = x.shape[1]
    for name, p in (("weight", weight), ("bias", bias), ("running_mean", running_mean), ("running_var", running_var)):
        if p.shape != (c,):
            raise ValueError(f"batch_norm {name}: expected shape ({c},), got {p.shape}")
    dt = x.dtype
    scale = weight.astype(dt) / np.sqrt(running_var.astype(dt) + dt.type(eps))
    shape = (1, c, 1, 1)
    return (x - running_mean.astype(dt).reshape(shape)) * scale.reshape(shape) + bias.astype(dt).reshape(shape)


def batch_norm_batch_stats(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Batch norm in training mode over (N, C, H, W): each channel normalised by its own mean and *biased*
    variance over (N, H, W) (what the frameworks' train-mode forward uses; the running statistics are not read)."""
    _check_nchw(x)
    c = x.shape[1]
    for name, p in (("weight", weight), ("bias", bias)):
        if p.shape != (c,):
            raise ValueError(f"batch_norm {name}: expected shape ({c},), got {p.shape}")
    dt = x.dtype
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = ((x - mean) ** 2).mean(axis=(0, 2, 3), keepdims=True)
    shape = (1, c, 1, 1)
    return (x - mean) / np.sqrt(var + dt.type(eps)) * weight.astype(dt).reshape(shape) + bias.astype(dt).reshape(shape)


def relu(x: np.ndarray) -> np.ndarray:
    """max(x, 0), same dtype."""
    return np.maximum(x, np.zeros((), dtype=x.dtype))


def max_pool2d(
    x: np.ndarray,
    kernel_size: int | tuple[int, int],
    stride: int | tuple[int, int] | None = None,
    padding: int | tuple[int, int] = 0,
    dilation: int | tuple[int, int] = 1,
) -> np.ndarray:
    """Max pooling (``F.max_pool2d``, ``ceil_mode=False``); padding is −inf. (N, C, H, W) -> (N, C, H', W')."""
    _check_nchw(x)
    k = _pair(kernel_size, "kernel_size")
    s = k if stride is None else _pair(stride, "stride")
    ph, pw = _pair(padding, "padding")
    if ph > k[0] // 2 or pw > k[1] // 2:
        raise ValueError(f"max_pool2d: padding {(ph, pw)} must be at most half the kernel {k}")
    xp = pad2d(x, (ph, ph, pw, pw), value=-np.inf)
    return np.ascontiguousarray(_windows(xp, k, s, _pair(dilation, "dilation")).max(axis=(4, 5)))


def upsample_nearest(x: np.ndarray, scale_factor: int) -> np.ndarray:
    """Nearest upsampling by an integer factor (``F.interpolate(mode="nearest")``): out[y, x] = in[y//s, x//s]."""
    _check_nchw(x)
    if int(scale_factor) != scale_factor or scale_factor < 1:
        raise ValueError(f"upsample_nearest: scale_factor must be a positive integer, got {scale_factor}")
    s = int(scale_factor)
    return np.repeat(np.repeat(x, s, axis=2), s, axis=3)


def _linear_weights(
    size_in: int, size_out: int, scale_factor: int, align_corners: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source indices i0, i1 and weight of i1 for each output index (PyTorch's linear interpolation rule)."""
    dst = np.arange(size_out, dtype=np.float64)
    if align_corners:
        scale = (size_in - 1) / (size_out - 1) if size_out > 1 else 0.0
        src = dst * scale
    else:
        # PyTorch uses 1/scale_factor when a scale factor is given; clamps negative sources to 0.
        src = np.maximum((dst + 0.5) / scale_factor - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), size_in - 1)
    i1 = np.minimum(i0 + 1, size_in - 1)
    lam = src - i0
    return i0, i1, lam


def upsample_bilinear(x: np.ndarray, scale_factor: int, align_corners: bool = False) -> np.ndarray:
    """Bilinear upsampling by an integer factor (``F.interpolate(mode="bilinear")``).

    ``align_corners=False`` (the default, as in PyTorch): source coordinate ``(dst + 0.5) / s − 0.5``,
    clamped at 0, edge pixels repeated. ``align_corners=True``: ``dst · (in − 1) / (out − 1)``.
    (N, C, H, W) -> (N, C, s·H, s·W).
    """
    _check_nchw(x)
    if int(scale_factor) != scale_factor or scale_factor < 1:
        raise ValueError(f"upsample_bilinear: scale_factor must be a positive integer, got {scale_factor}")
    s = int(scale_factor)
    _, _, h, w = x.shape
    y0, y1, ly = _linear_weights(h, h * s, s, align_corners)
    x0, x1, lx = _linear_weights(w, w * s, s, align_corners)
    ly = ly.astype(x.dtype).reshape(1, 1, -1, 1)
    lx = lx.astype(x.dtype).reshape(1, 1, 1, -1)
    rows = x[:, :, y0, :] * (1 - ly) + x[:, :, y1, :] * ly
    return rows[:, :, :, x0] * (1 - lx) + rows[:, :, :, x1] * lx


def concat(tensors: list[np.ndarray], axis: int = 1) -> np.ndarray:
    """Concatenate along channels (axis 1 of NCHW by default)."""
    return np.concatenate(tensors, axis=axis)


def pixel_shuffle(x: np.ndarray, upscale: int, order: ShuffleOrder = ShuffleOrder.FRAMEWORK) -> np.ndarray:
    """Periodic shuffle (PS, Eq. 5): (N, K·r², H, W) -> (N, K, r·H, r·W), channels read in ``order``.

    The spec's own definition, :func:`enhancenet_core.pixel_shuffle.pixel_shuffle`.
    """
    _check_nchw(x)
    return np.asarray(_spec_ps.pixel_shuffle(x, upscale, order))
