"""Test support: the state-dict key lists and shapes of other code bases' pose models, written independently of
:mod:`enhancenet_core.namemap` and :mod:`enhancenet_core.foreign_names` (which they test).

Each generator follows the module structure of the named code base's model definition (read there; no code
taken): registration order, ``num_batches_tracked`` buffers (shape ``()``) included, as ``state_dict()`` lists
them. :func:`arrays` turns a ``{name: shape}`` dict into NumPy arrays. Used by the tests of every package.

- mmpose 1.x (``open-mmlab/mmpose``): ``backbones/resnet.py`` (``ResNet``, ``ResNetV1d``), ``backbones/hrnet.py``,
  ``heads/heatmap_heads/heatmap_head.py`` inside ``TopdownPoseEstimator`` (``backbone.``, ``head.``).
- HRNet repository (``leoxiaobin/deep-high-resolution-net.pytorch``): ``lib/models/pose_resnet.py``,
  ``pose_hrnet.py`` (no prefix).
- bearpaw ``pytorch-pose``: ``pose/models/hourglass.py`` (``HourglassNet``; ``module.`` from ``DataParallel``).
- pose-ae-train (``princeton-vl/pose-ae-train``): ``models/posenet.py``, ``models/layers.py`` (``PoseNet`` inside
  ``task/pose.py``'s ``Trainer(DataParallel(PoseNet))``: ``model.module.``).
"""

from __future__ import annotations

import numpy as np

Shapes = dict[str, tuple[int, ...]]

__all__ = [
    "arrays",
    "bearpaw_hourglass",
    "hrnet_backbone",
    "hrnet_repo_pose_hrnet",
    "hrnet_repo_pose_resnet",
    "mmpose_hrnet",
    "mmpose_simple_baseline",
    "pose_ae_train_posenet",
    "resnet_backbone",
]

_BLOCKS = {18: (1, (2, 2, 2, 2)), 34: (1, (3, 4, 6, 3)), 50: (4, (3, 4, 6, 3)), 101: (4, (3, 4, 23, 3)),
           152: (4, (3, 8, 36, 3))}  # depth -> (expansion, blocks per stage)


def _conv(d: Shapes, name: str, c_out: int, c_in: int, k: int, bias: bool = False) -> None:
    d[f"{name}.weight"] = (c_out, c_in, k, k)
    if bias:
        d[f"{name}.bias"] = (c_out,)


def _bn(d: Shapes, name: str, c: int) -> None:
    for p in ("weight", "bias", "running_mean", "running_var"):
        d[f"{name}.{p}"] = (c,)
    d[f"{name}.num_batches_tracked"] = ()


def resnet_backbone(depth: int, prefix: str = "", v1d: bool = False) -> Shapes:
    """torchvision-style ResNet (mmpose ``ResNet``, the HRNet repository's ``PoseResNet`` trunk); ``v1d``:
    mmpose ``ResNetV1d`` (deep stem ``stem.{0,1,2}.{conv,bn}``, avg-pool shortcut ``downsample.{1,2}``)."""
    d: Shapes = {}
    exp, blocks = _BLOCKS[depth]
    if v1d:
        for i, (co, ci) in enumerate(((32, 3), (32, 32), (64, 32))):
            _conv(d, f"{prefix}stem.{i}.conv", co, ci, 3)
            _bn(d, f"{prefix}stem.{i}.bn", co)
    else:
        _conv(d, f"{prefix}conv1", 64, 3, 7)
        _bn(d, f"{prefix}bn1", 64)
    c_in = 64
    for s, n in enumerate(blocks):
        mid = 64 * 2**s
        c_out = mid * exp
        for b in range(n):
            p = f"{prefix}layer{s + 1}.{b}"
            cin = c_in if b == 0 else c_out
            if exp == 1:
                _conv(d, f"{p}.conv1", mid, cin, 3)
                _bn(d, f"{p}.bn1", mid)
                _conv(d, f"{p}.conv2", c_out, mid, 3)
                _bn(d, f"{p}.bn2", c_out)
            else:
                _conv(d, f"{p}.conv1", mid, cin, 1)
                _bn(d, f"{p}.bn1", mid)
                _conv(d, f"{p}.conv2", mid, mid, 3)
                _bn(d, f"{p}.bn2", mid)
                _conv(d, f"{p}.conv3", c_out, mid, 1)
                _bn(d, f"{p}.bn3", c_out)
            if b == 0 and (s > 0 or c_in != c_out):
                first = 1 if (v1d and s > 0) else 0  # v1d: AvgPool2d at index 0 of a strided shortcut
                _conv(d, f"{p}.downsample.{first}", c_out, c_in, 1)
                _bn(d, f"{p}.downsample.{first + 1}", c_out)
        c_in = c_out
    return d


def _heatmap_head(prefix: str, c_in: int, k: int, deconv: tuple[int, ...], kernel: int, final_kernel: int) -> Shapes:
    d: Shapes = {}
    for i, c in enumerate(deconv):
        d[f"{prefix}deconv_layers.{3 * i}.weight"] = (c_in, c, kernel, kernel)  # ConvTranspose2d, no bias
        _bn(d, f"{prefix}deconv_layers.{3 * i + 1}", c)
        c_in = c
    _conv(d, f"{prefix}final_layer", k, c_in, final_kernel, bias=True)
    return d


def mmpose_simple_baseline(depth: int = 50, k: int = 17, v1d: bool = False, conv_layers: int = 0) -> Shapes:
    """mmpose 1.x ``TopdownPoseEstimator(backbone=ResNet(depth), head=HeatmapHead(2048 or 512, k))``;
    ``conv_layers``: that many ``HeatmapHead.conv_layers`` (3x3 conv, BN) before ``final_layer``."""
    d = resnet_backbone(depth, "backbone.", v1d)
    c = 512 * _BLOCKS[depth][0]
    head = _heatmap_head("head.", c, k, (256, 256, 256), 4, 1)
    final = {n: s for n, s in head.items() if n.startswith("head.final_layer")}
    d.update({n: s for n, s in head.items() if n not in final})
    for i in range(conv_layers):
        _conv(d, f"head.conv_layers.{3 * i}", 256, 256, 3, bias=True)
        _bn(d, f"head.conv_layers.{3 * i + 1}", 256)
    d.update(final)
    return d


def hrnet_repo_pose_resnet(depth: int = 50, k: int = 17, final_kernel: int = 1) -> Shapes:
    """The HRNet repository's ``PoseResNet`` (``pose_resnet_*.pth``): ResNet trunk, ``deconv_layers``,
    ``final_layer``, no prefix."""
    d = resnet_backbone(depth)
    d.update(_heatmap_head("", 512 * _BLOCKS[depth][0], k, (256, 256, 256), 4, final_kernel))
    return d


def hrnet_backbone(width: int, prefix: str = "") -> Shapes:
    """HRNet-W``width`` up to stage 4 with one output branch (mmpose ``HRNet``, the repository's ``PoseHighResolutionNet``)."""
    d: Shapes = {}
    _conv(d, f"{prefix}conv1", 64, 3, 3)
    _bn(d, f"{prefix}bn1", 64)
    _conv(d, f"{prefix}conv2", 64, 64, 3)
    _bn(d, f"{prefix}bn2", 64)
    for b in range(4):
        p = f"{prefix}layer1.{b}"
        _conv(d, f"{p}.conv1", 64, 64 if b == 0 else 256, 1)
        _bn(d, f"{p}.bn1", 64)
        _conv(d, f"{p}.conv2", 64, 64, 3)
        _bn(d, f"{p}.bn2", 64)
        _conv(d, f"{p}.conv3", 256, 64, 1)
        _bn(d, f"{p}.bn3", 256)
        if b == 0:
            _conv(d, f"{p}.downsample.0", 256, 64, 1)
            _bn(d, f"{p}.downsample.1", 256)
    pre = [256]
    for stage, modules in ((2, 1), (3, 4), (4, 3)):
        cur = [width * 2**b for b in range(stage)]
        t = f"{prefix}transition{stage - 1}"
        for i, c in enumerate(cur):
            if i < len(pre) and c != pre[i]:
                _conv(d, f"{t}.{i}.0", c, pre[i], 3)
                _bn(d, f"{t}.{i}.1", c)
            elif i >= len(pre):
                for j in range(i + 1 - len(pre)):
                    co = c if j == i - len(pre) else pre[-1]
                    _conv(d, f"{t}.{i}.{j}.0", co, pre[-1], 3)
                    _bn(d, f"{t}.{i}.{j}.1", co)
        for m in range(modules):
            p = f"{prefix}stage{stage}.{m}"
            for br, c in enumerate(cur):
                for blk in range(4):
                    for n in (1, 2):
                        _conv(d, f"{p}.branches.{br}.{blk}.conv{n}", c, c, 3)
                        _bn(d, f"{p}.branches.{br}.{blk}.bn{n}", c)
            outs = 1 if (stage == 4 and m == modules - 1) else len(cur)
            for i in range(outs):
                for j in range(len(cur)):
                    if j > i:
                        _conv(d, f"{p}.fuse_layers.{i}.{j}.0", cur[i], cur[j], 1)
                        _bn(d, f"{p}.fuse_layers.{i}.{j}.1", cur[i])
                    for kk in range(i - j):
                        co = cur[i] if kk == i - j - 1 else cur[j]
                        _conv(d, f"{p}.fuse_layers.{i}.{j}.{kk}.0", co, cur[j], 3)
                        _bn(d, f"{p}.fuse_layers.{i}.{j}.{kk}.1", co)
        pre = cur
    return d


def mmpose_hrnet(width: int = 32, k: int = 17) -> Shapes:
    """mmpose 1.x ``TopdownPoseEstimator(backbone=HRNet(W), head=HeatmapHead(W, k, deconv_out_channels=None))``."""
    d = hrnet_backbone(width, "backbone.")
    _conv(d, "head.final_layer", k, width, 1, bias=True)
    return d


def hrnet_repo_pose_hrnet(width: int = 32, k: int = 17, final_kernel: int = 1) -> Shapes:
    """The HRNet repository's ``PoseHighResolutionNet`` (``pose_hrnet_w*.pth``)."""
    d = hrnet_backbone(width)
    _conv(d, "final_layer", k, width, final_kernel, bias=True)
    return d


def _hg_bottleneck(d: Shapes, p: str, c_in: int, planes: int, expansion: int = 2) -> int:
    _bn(d, f"{p}.bn1", c_in)
    _conv(d, f"{p}.conv1", planes, c_in, 1, bias=True)
    _bn(d, f"{p}.bn2", planes)
    _conv(d, f"{p}.conv2", planes, planes, 3, bias=True)
    _bn(d, f"{p}.bn3", planes)
    _conv(d, f"{p}.conv3", planes * expansion, planes, 1, bias=True)
    if c_in != planes * expansion:
        _conv(d, f"{p}.downsample.0", planes * expansion, c_in, 1, bias=True)
    return planes * expansion


def bearpaw_hourglass(stacks: int = 2, blocks: int = 4, k: int = 16, prefix: str = "module.",
                      expansion: int = 2) -> Shapes:
    """bearpaw ``HourglassNet(Bottleneck, num_stacks, num_blocks, num_classes=k)`` (num_feats 128, depth 4),
    saved from ``DataParallel`` (``prefix``). ``expansion`` other than 2: a different bottleneck."""
    d: Shapes = {}
    feats = 128
    ch = feats * expansion
    _conv(d, f"{prefix}conv1", 64, 3, 7, bias=True)
    _bn(d, f"{prefix}bn1", 64)
    c = _hg_bottleneck(d, f"{prefix}layer1.0", 64, 64, expansion)
    c = _hg_bottleneck(d, f"{prefix}layer2.0", c, c, expansion)
    _hg_bottleneck(d, f"{prefix}layer3.0", c, feats, expansion)
    groups: dict[str, Shapes] = {g: {} for g in ("hg", "res", "fc", "score", "fc_", "score_")}
    for i in range(stacks):
        for depth in range(4):
            for j in range(4 if depth == 0 else 3):
                for b in range(blocks):
                    _hg_bottleneck(groups["hg"], f"{prefix}hg.{i}.hg.{depth}.{j}.{b}", ch, feats, expansion)
        for b in range(blocks):
            _hg_bottleneck(groups["res"], f"{prefix}res.{i}.{b}", ch, feats, expansion)
        _conv(groups["fc"], f"{prefix}fc.{i}.0", ch, ch, 1, bias=True)
        _bn(groups["fc"], f"{prefix}fc.{i}.1", ch)
        _conv(groups["score"], f"{prefix}score.{i}", k, ch, 1, bias=True)
        if i < stacks - 1:
            _conv(groups["fc_"], f"{prefix}fc_.{i}", ch, ch, 1, bias=True)
            _conv(groups["score_"], f"{prefix}score_.{i}", ch, k, 1, bias=True)
    for g in groups.values():
        d.update(g)
    return d


def _ae_layer_conv(d: Shapes, name: str, c_in: int, c_out: int, k: int) -> None:
    """layers.py ``Conv(inp_dim, out_dim, k)`` with ``bn=False``: one biased ``nn.Conv2d`` named ``conv``."""
    _conv(d, f"{name}.conv", c_out, c_in, k, bias=True)


def _ae_hourglass(d: Shapes, name: str, n: int, f: int, increase: int) -> None:
    """layers.py ``Hourglass(n, f, increase)``, recursively as there; the inner levels get the default 128."""
    nf = f + increase
    _ae_layer_conv(d, f"{name}.up1", f, f, 3)
    _ae_layer_conv(d, f"{name}.low1", f, nf, 3)
    if n > 1:
        _ae_hourglass(d, f"{name}.low2", n - 1, nf, 128)
    else:
        _ae_layer_conv(d, f"{name}.low2", nf, nf, 3)
    _ae_layer_conv(d, f"{name}.low3", nf, f, 3)


def pose_ae_train_posenet(nstack: int = 4, inp_dim: int = 256, oup_dim: int = 68, increase: int = 128,
                          prefix: str = "model.module.") -> Shapes:
    """pose-ae-train ``PoseNet(nstack, inp_dim, oup_dim, bn=False, increase)``, as its ``train.py`` saves it
    (``config['inference']['net'].state_dict()``: the ``Trainer``'s ``model`` is a ``DataParallel``)."""
    d: Shapes = {}
    for idx, (ci, co, k) in ((0, (3, 64, 7)), (1, (64, 128, 3)), (3, (128, 128, 3)), (4, (128, inp_dim, 3))):
        _ae_layer_conv(d, f"{prefix}pre.{idx}", ci, co, k)
    for i in range(nstack):
        _ae_hourglass(d, f"{prefix}features.{i}.0", 4, inp_dim, increase)
        _ae_layer_conv(d, f"{prefix}features.{i}.1", inp_dim, inp_dim, 3)
        _ae_layer_conv(d, f"{prefix}features.{i}.2", inp_dim, inp_dim, 3)
    for i in range(nstack):
        _ae_layer_conv(d, f"{prefix}outs.{i}", inp_dim, oup_dim, 1)
    for i in range(nstack - 1):  # Merge(x_dim, y_dim).conv is a layers.py Conv
        _ae_layer_conv(d, f"{prefix}merge_features.{i}.conv", inp_dim, inp_dim, 1)
    for i in range(nstack - 1):
        _ae_layer_conv(d, f"{prefix}merge_preds.{i}.conv", oup_dim, inp_dim, 1)
    return d


def arrays(shapes: Shapes, seed: int | None = 0) -> dict[str, np.ndarray]:
    """Seeded float32 arrays of the given shapes (``running_var`` positive; ``num_batches_tracked`` int64);
    ``seed=None``: read-only zero views that take no memory (for name and shape checks of large models)."""
    if seed is None:
        return {n: np.broadcast_to(np.zeros((), np.int64 if n.endswith("num_batches_tracked") else np.float32), s)
                for n, s in shapes.items()}
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for name, shape in shapes.items():
        if name.endswith("num_batches_tracked"):
            out[name] = np.array(1000, dtype=np.int64)
        elif name.endswith("running_var"):
            out[name] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        else:
            out[name] = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    return out
