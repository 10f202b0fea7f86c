"""Parameter and FLOP accounting of the EnhanceNet head, counted the way the paper counts (Table 5).

Counting rules (Sec. 3.3 and Table 5 of the paper):

* FLOPs are **multiply-adds** (one multiply-accumulate = one FLOP); "GFLOPs" = FLOPs / 1e9.
* Biases and ReLUs are not counted, neither in ``params`` nor in ``flops`` (``bias`` is reported apart).
* A convolution with output ``H_out x W_out`` costs ``H_out * W_out * C_in * C_out * k_h * k_w / groups``.
* A deconvolution (transposed convolution, stride ``r``) with weight ``P = C_in * C_out * k_h * k_w`` costs
  ``(r*H) * (r*W) * P`` as the paper states in Sec. 3.3. (An implementation that scatters each *input*
  pixel only performs ``H * W * P`` multiply-adds; we follow the paper, whose Table 5c uses ``r^2 H W P``.)
* Bilinear interpolation and the periodic shuffle cost nothing and have no parameters.

Sizes are ``(width, height)`` like the config; the table printers show ``H x W`` like the paper.

:func:`deconv_padding`, :func:`feature_channels`, :func:`head_input_channels` and :func:`subpixel_channels`
live in :mod:`enhancenet_core.architecture` and are re-exported here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from enhancenet_core.architecture import (
    HOURGLASS_DEPTH,
    ae_level_channels,
    ae_output_split,
    deconv_padding,
    feature_channels,
    head_input_channels,
    subpixel_channels,
)
from enhancenet_core.config import ModelConfig
from enhancenet_core.conventions import BaseModelName, Upsampler
from enhancenet_core.tensor_specs import TensorKind

__all__ = [
    "DlcmComplexity",
    "HeadComplexity",
    "LayerComplexity",
    "ModelComplexity",
    "ae_hourglass_complexity",
    "deconv_padding",
    "dlcm_complexity",
    "feature_channels",
    "format_complexity_table",
    "head_complexity",
    "head_input_channels",
    "subpixel_channels",
]


@dataclass(frozen=True)
class LayerComplexity:
    """One layer of the head. ``output_size`` is ``(width, height)``; ``params`` excludes the bias."""

    name: str
    kind: str  # conv | deconv | bilinear | pixel_shuffle
    in_channels: int
    out_channels: int
    kernel: int  # square kernel size; 0 for parameter-free layers
    stride: int  # 1 for convs; r for deconv / bilinear / pixel_shuffle
    output_size: tuple[int, int]  # (width, height)
    params: int  # weights only (the paper's #Params)
    bias: int  # bias parameters (not counted by the paper)
    flops: int  # multiply-adds


@dataclass(frozen=True)
class HeadComplexity:
    """Per-layer and total parameters / FLOPs of one EnhanceNet head.

    ``rows`` is empty when the head is disabled (it then adds nothing to the base model).
    """

    rows: tuple[LayerComplexity, ...]
    feature_channels: int  # width of F^LR used for the count
    input_channels: int  # channels of x = [F^LR, M^LR] (or one of them)
    lr_size: tuple[int, int]  # (width, height) of M^LR
    hr_size: tuple[int, int]  # (width, height) of M^HR

    @property
    def params(self) -> int:
        """Total weights (no biases), the paper's #Params."""
        return sum(row.params for row in self.rows)

    @property
    def params_with_bias(self) -> int:
        return sum(row.params + row.bias for row in self.rows)

    @property
    def flops(self) -> int:
        """Total multiply-adds."""
        return sum(row.flops for row in self.rows)

    @property
    def params_m(self) -> float:
        """#Params in millions (the paper's "M")."""
        return self.params / 1e6

    @property
    def gflops(self) -> float:
        """Multiply-adds in units of 1e9 (the paper's "GFLOPs")."""
        return self.flops / 1e9

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict: the rows, the sizes and the totals."""
        return {
            "feature_channels": self.feature_channels,
            "input_channels": self.input_channels,
            "lr_size": list(self.lr_size),
            "hr_size": list(self.hr_size),
            "rows": [{**asdict(row), "output_size": list(row.output_size)} for row in self.rows],
            "total": {
                "params": self.params,
                "params_with_bias": self.params_with_bias,
                "flops": self.flops,
                "params_m": self.params_m,
                "gflops": self.gflops,
            },
        }


def _conv(name: str, cin: int, cout: int, k: int, size: tuple[int, int]) -> LayerComplexity:
    params = cin * cout * k * k
    return LayerComplexity(name, "conv", cin, cout, k, 1, size, params, cout, size[0] * size[1] * params)


def head_complexity(cfg: ModelConfig, feature_channels: int) -> HeadComplexity:
    """Parameters and multiply-adds of the EnhanceNet head configured by ``cfg.head``.

    Layers (Sec. 3.1): ``conv1`` (``first_kernel``, input -> C), ``conv2 .. conv{L-1}`` (``kernel``, C -> C),
    then the upsampler (the L-th layer):

    * ``subpixel``: ``conv{L}`` C -> K*r^2 at LR size, then ``pixel_shuffle`` (free);
    * ``deconv``: ``deconv`` C -> K, stride r, output r*H x r*W, costing (rH*rW)*P;
    * ``bilinear_conv``: ``bilinear`` x r (free), then ``conv{L}`` C -> K at HR size.

    Args:
        cfg: the model config (``head``, ``num_keypoints``, ``heatmap_size`` are read).
        feature_channels: channels of ``F^LR`` (see :func:`feature_channels`).

    Returns:
        A :class:`HeadComplexity`; its ``rows`` are empty when ``cfg.head.enabled`` is false.
    """
    if isinstance(feature_channels, bool) or not isinstance(feature_channels, int) or feature_channels < 1:
        raise ValueError(f"head_complexity: feature_channels must be an integer >= 1, got {feature_channels!r}")
    head = cfg.head
    k_out = cfg.num_keypoints
    r = head.upscale
    lr = cfg.heatmap_size
    hr = (lr[0] * r, lr[1] * r)
    cin = head_input_channels(head.inputs, feature_channels, k_out)
    if not head.enabled:
        return HeadComplexity((), feature_channels, cin, lr, hr)

    rows: list[LayerComplexity] = []
    c = head.channels
    rows.append(_conv("conv1", cin, c, head.first_kernel, lr))
    for layer in range(2, head.num_layers):
        rows.append(_conv(f"conv{layer}", c, c, head.kernel, lr))
    last = head.num_layers
    kk = head.upsampler_kernel
    upsampler = Upsampler(head.upsampler)
    if upsampler is Upsampler.SUBPIXEL:
        c_ps = subpixel_channels(k_out, r)
        rows.append(_conv(f"conv{last}", c, c_ps, kk, lr))
        rows.append(LayerComplexity("pixel_shuffle", "pixel_shuffle", c_ps, k_out, 0, r, hr, 0, 0, 0))
    elif upsampler is Upsampler.DECONV:
        deconv_padding(kk, r)  # raises for impossible kernel / stride combinations
        params = c * k_out * kk * kk
        rows.append(LayerComplexity("deconv", "deconv", c, k_out, kk, r, hr, params, k_out, hr[0] * hr[1] * params))
    else:
        rows.append(LayerComplexity("bilinear", "bilinear", c, c, 0, r, hr, 0, 0, 0))
        rows.append(_conv(f"conv{last}", c, k_out, kk, hr))
    return HeadComplexity(tuple(rows), feature_channels, cin, lr, hr)


def format_complexity_table(hc: HeadComplexity, title: str = "") -> str:
    """A readable table like the paper's Table 5: one row per layer, then the total (#Params in M, GFLOPs)."""
    header = (
        f"{'layer':<14}{'kind':<15}{'Cin':>6}{'Cout':>6}{'kernel':>8}{'stride':>8}"
        f"{'output HxW':>12}{'#Params':>11}{'GFLOPs':>9}"
    )
    lines = [title] if title else []
    lines += [header, "-" * len(header)]
    for row in hc.rows:
        kernel = f"{row.kernel}x{row.kernel}" if row.kernel else "-"
        out = f"{row.output_size[1]}x{row.output_size[0]}"
        lines.append(
            f"{row.name:<14}{row.kind:<15}{row.in_channels:>6}{row.out_channels:>6}{kernel:>8}{row.stride:>8}"
            f"{out:>12}{row.params / 1e6:>10.4f}M{row.flops / 1e9:>9.4f}"
        )
    lines.append("-" * len(header))
    lines.append(f"{'total':<14}{'':<15}{'':>6}{'':>6}{'':>8}{'':>8}{'':>12}{hc.params_m:>10.2f}M{hc.gflops:>9.2f}")
    lines.append(
        f"(weights only, biases not counted: {hc.params_with_bias - hc.params} more; FLOPs are multiply-adds)"
    )
    return "\n".join(lines)


@dataclass(frozen=True)
class DlcmComplexity:
    """DLCM (``model.base.name: dlcm``) with and without its EnhanceNet head.

    ``base_params``: every learnable tensor of the base network (conv weights and biases, BN γ and β; the
    number the DLCM README quotes, 15.59 M at C = 256); ``base_weights``: its convolution weights alone (the
    paper's way of counting the head); ``base_flops``: multiply-adds of its convolutions (BN, ReLU, pooling,
    upsampling and additions free, as for the head); ``head``: :func:`head_complexity` on F^LR and the final
    joint maps.
    """

    base_params: int
    base_weights: int
    base_flops: int
    head: HeadComplexity

    @property
    def params_with_head(self) -> int:
        """Learnable parameters of base + head (the head's with biases, like the base's)."""
        return self.base_params + self.head.params_with_bias

    @property
    def flops_with_head(self) -> int:
        return self.base_flops + self.head.flops

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": {"params": self.base_params, "weights": self.base_weights, "flops": self.base_flops,
                     "gflops": self.base_flops / 1e9},
            "head": self.head.to_dict()["total"],
            "with_head": {"params": self.params_with_head, "flops": self.flops_with_head,
                          "gflops": self.flops_with_head / 1e9},
        }  # fmt: skip


def _dlcm_map_side(name: str, side: int, depth: int) -> int:
    """Output side of the conv ``name`` for an input side ``side``: stem conv at /2, ``layer1`` at /2, the rest at
    /4 except inside an hourglass, where ``hg.{i}.hg.{d}.{j}`` runs at /4 / 2^(depth-1-d) for the skip branch
    ``j = 0`` and half that after the pooling (``j = 1, 2, 3``)."""
    parts = name.split(".")
    if parts[0] in ("conv1", "layer1"):
        return side // 2
    if parts[0] == "hg":
        d, j = int(parts[3]), int(parts[4])
        return side // 4 // 2 ** (depth - 1 - d + (j > 0))
    return side // 4


def dlcm_complexity(cfg: ModelConfig) -> DlcmComplexity:
    """Parameters and multiply-adds of a DLCM config (``model.base`` as :func:`~enhancenet_core.compositional.
    dlcm_config` reads it) at its ``input_size``, with and without the head (square or not: per axis)."""
    # imported here: the compositional package loads NumPy, and importing complexity must not (test_engine_benchmark)
    from enhancenet_core.compositional.network import dlcm_config, dlcm_parameter_specs

    net = dlcm_config(cfg.base)
    w, h = cfg.input_size
    net.check_input(h, w)
    specs = dlcm_parameter_specs(net)
    params = weights = flops = 0
    for name, spec in specs.items():
        n = 1
        for d in spec.shape:
            n *= d
        if spec.kind in (TensorKind.BN_RUNNING_MEAN, TensorKind.BN_RUNNING_VAR):
            continue
        params += n
        if spec.kind is TensorKind.CONV_WEIGHT:
            weights += n
            flops += n * _dlcm_map_side(name, w, net.depth) * _dlcm_map_side(name, h, net.depth)
    head = head_complexity(cfg, net.channels)
    return DlcmComplexity(params, weights, flops, head)


@dataclass(frozen=True)
class ModelComplexity:
    """A whole model counted by the same rules: the base model's convs, the head, and both together."""

    base_params: int  # weights of the base model (no biases)
    base_bias: int  # biases of the base model (not counted by the paper)
    base_flops: int  # multiply-adds of the base model
    head: HeadComplexity  # the EnhanceNet head (empty rows when disabled)

    @property
    def params(self) -> int:
        """Weights with the head (the head's are 0 when it is disabled)."""
        return self.base_params + self.head.params

    @property
    def flops(self) -> int:
        """Multiply-adds with the head."""
        return self.base_flops + self.head.flops


def ae_hourglass_complexity(cfg: ModelConfig) -> ModelComplexity:
    """Parameters and multiply-adds of pose-ae-train's AE hourglass (``model.base.name: ae_hourglass``), with and
    without the EnhanceNet head, at ``cfg.input_size``.

    Counted layer by layer from the structure (:mod:`enhancenet_core.architecture`, section Associative
    Embedding), independently of the name map: every layer is a conv (max pooling and nearest upsampling are
    free); a conv's cost is its output pixels times its weights.
    """
    base = cfg.base
    if BaseModelName(base.name) is not BaseModelName.AE_HOURGLASS:
        raise ValueError(f"ae_hourglass_complexity: model.base.name must be 'ae_hourglass', got {base.name!r}")
    ae_output_split(cfg.num_keypoints, base.ae_output_channels)
    w, h = cfg.input_size
    if w % 64 or h % 64:
        raise ValueError(f"ae_hourglass_complexity: model.input_size must be multiples of 64, got {cfg.input_size}")
    ch, out, stacks = base.hourglass_channels, base.ae_output_channels, base.stages
    widths = ae_level_channels(ch, base.hourglass_increase)
    convs: list[tuple[int, int, int, int]] = []  # (c_in, c_out, kernel, output pixels)
    half, lr = (w // 2) * (h // 2), (w // 4) * (h // 4)
    convs += [(3, 64, 7, half), (64, 128, 3, half), (128, 128, 3, lr), (128, ch, 3, lr)]
    for _ in range(stacks):
        for d in range(HOURGLASS_DEPTH):
            here, below = lr // 4**d, lr // 4 ** (d + 1)
            convs += [(widths[d], widths[d], 3, here), (widths[d], widths[d + 1], 3, below),
                      (widths[d + 1], widths[d], 3, below)]
        convs.append((widths[-1], widths[-1], 3, lr // 4**HOURGLASS_DEPTH))
        convs += [(ch, ch, 3, lr), (ch, ch, 3, lr), (ch, out, 1, lr)]
    convs += [(ch, ch, 1, lr), (out, ch, 1, lr)] * (stacks - 1)
    params = sum(ci * co * k * k for ci, co, k, _ in convs)
    flops = sum(ci * co * k * k * px for ci, co, k, px in convs)
    bias = sum(co for _, co, _, _ in convs)
    return ModelComplexity(params, bias, flops, head_complexity(cfg, feature_channels(base)))
