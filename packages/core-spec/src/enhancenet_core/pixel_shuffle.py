"""The periodic shuffle PS of Eq. 5 and the channel order frameworks use.

Eq. 5 as printed: ``PS(T)_{x,y,k} = T_{floor(x/r), floor(y/r), K·r·mod(y,r) + K·mod(x,r) + k}``, with ``T`` of
size ``H x W x K·r^2`` and ``PS(T)`` of size ``rH x rW x K``. The paper writes tensors ``H x W x K``, so
**x indexes the first spatial axis (rows, height)** and **y the second (columns, width)**.

For NCHW arrays (N: batch, C = K·r^2: channels, H: rows, W: columns), with output row ``h·r + i`` and output
column ``w·r + j`` (``0 <= i, j < r``), the input channel that lands at output channel ``k`` is

==========================  ============================================================
order                       input channel for output ``[k, h·r + i, w·r + j]``
==========================  ============================================================
``ShuffleOrder.PAPER``      ``K·r·j + K·i + k``   (Eq. 5 with x = h·r + i, y = w·r + j)
``ShuffleOrder.FRAMEWORK``  ``k·r·r + i·r + j``   (``torch.nn.functional.pixel_shuffle``,
                            Paddle, MindSpore, ONNX DepthToSpace mode CRD)
==========================  ============================================================

Both are the same information in a different channel order; :func:`channel_permutation` maps one to the other
and :func:`convert_subpixel_weights` reorders the last conv's filters (and biases) so that a model stored in
one order gives identical heat maps when its shuffle uses the other.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from enhancenet_core.conventions import ShuffleOrder

__all__ = [
    "channel_index",
    "channel_permutation",
    "convert_subpixel_weights",
    "pixel_shuffle",
    "pixel_unshuffle",
]


def _check_r(r: int) -> int:
    if isinstance(r, bool) or int(r) != r or r < 1:
        raise ValueError(f"upscale factor r must be a positive integer, got {r!r}")
    return int(r)


def channel_index(k: ArrayLike, i: ArrayLike, j: ArrayLike, num_keypoints: int, r: int, order: ShuffleOrder) -> NDArray[np.int64]:
    """Input channel feeding output channel ``k`` at row offset ``i`` and column offset ``j`` (see table)."""
    order = ShuffleOrder(order)
    k_, i_, j_ = (np.asarray(a, dtype=np.int64) for a in (k, i, j))
    if order is ShuffleOrder.PAPER:
        return num_keypoints * r * j_ + num_keypoints * i_ + k_
    return k_ * r * r + i_ * r + j_


def pixel_shuffle(x: ArrayLike, r: int, order: ShuffleOrder) -> NDArray:
    """Periodic shuffle: ``(N, K·r², H, W) -> (N, K, r·H, r·W)`` in the given channel order.

    Also accepts an unbatched ``(K·r², H, W)`` array (returns ``(K, r·H, r·W)``). The result is a new array.
    """
    r = _check_r(r)
    order = ShuffleOrder(order)
    a = np.asarray(x)
    single = a.ndim == 3
    if single:
        a = a[None]
    if a.ndim != 4 or a.shape[1] % (r * r) != 0:
        raise ValueError(f"x must have shape (N, K*r*r, H, W) with r={r}, got {np.shape(x)}")
    n, c, h, w = a.shape
    k = c // (r * r)
    if order is ShuffleOrder.FRAMEWORK:
        out = a.reshape(n, k, r, r, h, w).transpose(0, 1, 4, 2, 5, 3)  # (n, k, h, i, w, j)
    else:
        out = a.reshape(n, r, r, k, h, w).transpose(0, 3, 4, 2, 5, 1)  # channel (j, i, k) -> (n, k, h, i, w, j)
    out = out.reshape(n, k, h * r, w * r)
    return out[0] if single else out


def pixel_unshuffle(y: ArrayLike, r: int, order: ShuffleOrder) -> NDArray:
    """Inverse of :func:`pixel_shuffle`: ``(N, K, r·H, r·W) -> (N, K·r², H, W)`` (or unbatched ``(K, rH, rW)``)."""
    r = _check_r(r)
    order = ShuffleOrder(order)
    a = np.asarray(y)
    single = a.ndim == 3
    if single:
        a = a[None]
    if a.ndim != 4 or a.shape[2] % r or a.shape[3] % r:
        raise ValueError(f"y must have shape (N, K, r*H, r*W) with r={r}, got {np.shape(y)}")
    n, k, hr, wr = a.shape
    h, w = hr // r, wr // r
    v = a.reshape(n, k, h, r, w, r)  # (n, k, h, i, w, j)
    if order is ShuffleOrder.FRAMEWORK:
        out = v.transpose(0, 1, 3, 5, 2, 4)  # (n, k, i, j, h, w)
    else:
        out = v.transpose(0, 5, 3, 1, 2, 4)  # (n, j, i, k, h, w)
    out = np.ascontiguousarray(out).reshape(n, k * r * r, h, w)
    return out[0] if single else out


def channel_permutation(num_keypoints: int, r: int, src: ShuffleOrder, dst: ShuffleOrder) -> NDArray[np.int64]:
    """``perm`` with ``t_dst = t_src[:, perm]``: channel ``c`` of the ``dst`` order holds channel ``perm[c]`` of ``src``.

    Args:
        num_keypoints: K.
        r: upscale factor.
        src, dst: the channel orders.

    Returns:
        ``(K·r²,)`` int64 permutation.
    """
    r = _check_r(r)
    if num_keypoints < 1:
        raise ValueError(f"num_keypoints must be >= 1, got {num_keypoints}")
    k, i, j = np.meshgrid(np.arange(num_keypoints), np.arange(r), np.arange(r), indexing="ij")
    c_src = channel_index(k, i, j, num_keypoints, r, src).ravel()
    c_dst = channel_index(k, i, j, num_keypoints, r, dst).ravel()
    perm = np.empty(num_keypoints * r * r, dtype=np.int64)
    perm[c_dst] = c_src
    return perm


def convert_subpixel_weights(
    weight: ArrayLike,
    bias: ArrayLike | None,
    num_keypoints: int,
    r: int,
    src: ShuffleOrder,
    dst: ShuffleOrder,
) -> tuple[NDArray, NDArray | None]:
    """Reorder the output channels of the sub-pixel conv (layer L) from ``src`` order to ``dst`` order.

    Args:
        weight: ``(K·r², C, kh, kw)`` conv weight (output channels first, as torch / Paddle / MindSpore).
        bias: ``(K·r²,)`` or None.
        num_keypoints: K.
        r: upscale factor.

    Returns:
        ``(weight, bias)`` reordered copies: ``conv(weight', bias')`` followed by ``pixel_shuffle(., r, dst)``
        equals ``conv(weight, bias)`` followed by ``pixel_shuffle(., r, src)``.
    """
    w = np.asarray(weight)
    c = num_keypoints * r * r
    if w.ndim < 1 or w.shape[0] != c:
        raise ValueError(f"weight must have K*r*r = {c} output channels first, got shape {w.shape}")
    perm = channel_permutation(num_keypoints, r, src, dst)
    new_b = None
    if bias is not None:
        b = np.asarray(bias)
        if b.shape != (c,):
            raise ValueError(f"bias must have shape ({c},), got {b.shape}")
        new_b = b[perm].copy()
    return w[perm].copy(), new_b
