"""Write the golden tensors every implementation must reproduce (numpy-ref is the ground truth).

    python conformance/golden/make_golden.py                 # (re)write conformance/golden/data/
    python conformance/golden/make_golden.py --out DIR --only 'head_*'

Each case is one safetensors file ``data/<case>.safetensors`` (float64 unless stated) with tensors
``input.*`` and ``output.*`` and a ``__metadata__`` header: case, kind, seed, config (JSON), numpy and
script versions. Head and op cases also carry their weights: ``data/<case>.weights.safetensors`` is a
canonical weight file (:func:`enhancenet_numpy.weights.load_weights` reads it; names from
:mod:`enhancenet_core.namemap`). Base models are too large to store (ResNet-50 alone is 34M parameters):
their weights are ``enhancenet_numpy.weights.init_weights(model_cfg, seed, float64)``, which is
bit-reproducible on any machine; ``manifest.json`` gives the SHA-256 of those weights (tensors in name-map
order, little-endian float64 bytes) so a consumer can confirm it rebuilt the same ones.

``manifest.json`` lists every case: kind, file(s), config, tensors and shapes, SHA-256 of each file.
Regenerating on the same NumPy build reproduces every byte (``tests/test_golden_regenerate.py``).

Kinds:
- ``op``: one operation of :mod:`enhancenet_numpy.ops` with its arguments (metadata ``op``, ``kwargs``).
- ``head``: the EnhanceNet head: ``input.F`` (N, C_F, H, W), ``input.M`` (N, K, H, W) -> ``output.M_HR``.
- ``base``: a full model at reduced input size: ``input.x`` (N, 3, H, W) -> ``output.F_LR``,
  ``output.M_LR``, ``output.M_HR`` (and ``output.scores.{i}`` per hourglass or DLCM stack; DLCM's have the
  part counts of their levels, 16, 12, 6, 12, 16).
- ``targets``: the LR and HR codecs' ``encode`` (:func:`enhancenet_core.codecs.heatmap_codecs`, i.e.
  ``enhancenet_core.targets.generate_targets`` at σ and r·σ) on fixed joints (float32, as the spec returns them);
  ``decoders``: ``enhancenet_core.decoders.decode_heatmaps`` on fixed maps (through the codecs' ``decode_on_map``).
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
import hashlib
import json
import os
import platform
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Float64 matrix products depend (in the last bits) on how many threads the BLAS splits them over, so the
# generator pins one thread before NumPy loads: regeneration is then bit-exact whatever the machine's
# OMP_NUM_THREADS. (Run it as a script or in a fresh interpreter; an already-imported NumPy keeps its threads.)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
# The last bits also depend on which kernels the CPU selects: OpenBLAS picks its GEMM kernels per CPU (an AVX-512
# EPYC and an AVX2 Xeon differ in the last ulp of float64 convolutions) and NumPy dispatches exp/log and friends
# to AVX-512 where it exists. On x86-64 the script pins both to the AVX2 (Haswell) paths every x86-64 CPU of the
# last decade has, so regeneration is bit-exact across machines (checked on AVX2 and AVX-512 CPUs). Only when
# run as a script: the test suite imports this module into a process whose NumPy is already loaded.
if __name__ == "__main__" and platform.machine().lower() in ("x86_64", "amd64"):
    os.environ["OPENBLAS_CORETYPE"] = "Haswell"
    os.environ["NPY_DISABLE_CPU_FEATURES"] = "X86_V4 AVX512_ICL AVX512_SPR"  # unsupported ones are ignored

import numpy as np

from enhancenet_core.compositional import dlcm_config
from enhancenet_core.config import BaseModelConfig, Config, EnhanceNetConfig, ModelConfig, TargetConfig
from enhancenet_core.conventions import (
    BaseModelName,
    CoordinateConvention,
    Decoder,
    HeadInput,
    ShuffleOrder,
    Upsampler,
)
from enhancenet_core.namemap import parameter_specs
from enhancenet_numpy import ops
from enhancenet_numpy.head import head_forward
from enhancenet_numpy.models import ae_hourglass, dlcm, hourglass, hrnet, simple_baseline
from enhancenet_numpy.weights import (
    init_weights,
    model_config_json,
    reorder_subpixel,
    safetensors_bytes,
    save_weights,
    uniform_tensor,
)

SCRIPT_VERSION = "1"
DATA_DIR = Path(__file__).resolve().parent / "data"
SEED = 20240601


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    kind: str
    build: Callable[[], tuple[dict[str, np.ndarray], dict[str, Any], dict[str, np.ndarray] | None, ModelConfig | None, int | None]]
    """-> (io tensors, extra metadata, weights to store or None, model config of the weights, feature_channels)"""


def _u(name: str, shape: tuple[int, ...], low: float = -1.0, high: float = 1.0, seed: int = SEED) -> np.ndarray:
    return uniform_tensor(seed, name, shape, low, high)


# ------------------------------------------------------------------------------------------------ ops
def _op_case(name: str, op: str, kwargs: dict[str, Any], shapes: dict[str, tuple[int, ...]]) -> Case:
    def build():
        inputs = {f"input.{k}": _u(f"{name}.{k}", s) for k, s in shapes.items()}
        args = {k.removeprefix("input."): v for k, v in inputs.items()}
        if op == "batch_norm":
            args["running_var"] = np.abs(args["running_var"]) + 0.5
            inputs["input.running_var"] = args["running_var"]
        fn = getattr(ops, op)
        if op == "pixel_shuffle":
            out = fn(args["x"], kwargs["upscale"], ShuffleOrder(kwargs["order"]))
        else:
            out = fn(**args, **kwargs)
        return {**inputs, "output.y": out}, {"op": op, "kwargs": kwargs}, None, None, None

    return Case(name, "op", build)


OP_CASES = [
    _op_case("op_conv2d_k3_s2_p1", "conv2d", {"stride": 2, "padding": 1}, {"x": (2, 4, 9, 7), "weight": (6, 4, 3, 3), "bias": (6,)}),
    _op_case("op_conv2d_k7_s2_p3", "conv2d", {"stride": 2, "padding": 3}, {"x": (1, 3, 16, 12), "weight": (5, 3, 7, 7)}),
    _op_case("op_conv2d_dilated_grouped", "conv2d", {"padding": 2, "dilation": 2, "groups": 2}, {"x": (2, 4, 8, 8), "weight": (6, 2, 3, 3), "bias": (6,)}),
    _op_case("op_conv_transpose2d_k4_s2", "conv_transpose2d", {"stride": 2, "padding": 1}, {"x": (2, 4, 5, 4), "weight": (4, 3, 4, 4)}),
    _op_case("op_conv_transpose2d_k3_s4", "conv_transpose2d", {"stride": 4, "padding": 0, "output_padding": 1}, {"x": (2, 4, 5, 4), "weight": (4, 3, 3, 3), "bias": (3,)}),
    _op_case("op_conv_transpose2d_k12_s4", "conv_transpose2d", {"stride": 4, "padding": 4}, {"x": (2, 4, 5, 4), "weight": (4, 3, 12, 12), "bias": (3,)}),
    _op_case("op_batch_norm", "batch_norm", {"eps": 1e-5}, {"x": (2, 3, 4, 5), "weight": (3,), "bias": (3,), "running_mean": (3,), "running_var": (3,)}),
    _op_case("op_max_pool2d_k3_s2_p1", "max_pool2d", {"kernel_size": 3, "stride": 2, "padding": 1}, {"x": (2, 3, 9, 8)}),
    _op_case("op_max_pool2d_k2_s2", "max_pool2d", {"kernel_size": 2, "stride": 2}, {"x": (2, 3, 8, 6)}),
    _op_case("op_upsample_nearest_x4", "upsample_nearest", {"scale_factor": 4}, {"x": (2, 3, 4, 3)}),
    *[
        _op_case(f"op_upsample_bilinear_x{s}{'_ac' if ac else ''}", "upsample_bilinear", {"scale_factor": s, "align_corners": ac}, {"x": (2, 3, 5, 4)})
        for s in (2, 3, 4, 5)
        for ac in (False, True)
    ],
    *[
        _op_case(f"op_pixel_shuffle_{o.value}_r{r}", "pixel_shuffle", {"upscale": r, "order": o.value}, {"x": (2, 3 * r * r, 4, 3)})
        for o in ShuffleOrder
        for r in (2, 3, 4)
    ],
]


# ----------------------------------------------------------------------------------------------- head
HEAD_N, HEAD_FC, HEAD_K, HEAD_H, HEAD_W = 2, 8, 4, 6, 5
HEAD_DEFAULT = EnhanceNetConfig(inputs=HeadInput.BOTH, num_layers=3, channels=8, upscale=4)


def _head_case(name: str, head: EnhanceNetConfig, paper_from_framework: bool = False) -> Case:
    def build():
        cfg = ModelConfig(head=head, num_keypoints=HEAD_K)
        f = _u("head.F", (HEAD_N, HEAD_FC, HEAD_H, HEAD_W))
        m = _u("head.M", (HEAD_N, HEAD_K, HEAD_H, HEAD_W), 0.0, 1.0)
        meta: dict[str, Any] = {}
        if paper_from_framework:
            # the framework-order weights of the same seed, re-stored in paper order: identical M^HR
            fw_cfg = dataclasses.replace(cfg, head=dataclasses.replace(head, shuffle_order=ShuffleOrder.FRAMEWORK))
            params, cfg2 = reorder_subpixel(init_weights(fw_cfg, SEED, np.float64, HEAD_FC), fw_cfg, ShuffleOrder.PAPER)
            if cfg2 != cfg:  # pragma: no cover - guards the case table
                raise ValueError(f"{name}: inconsistent shuffle order configuration")
            meta["weights_from"] = "framework-order init_weights of the same seed, reordered (same M_HR)"
        else:
            params = init_weights(cfg, SEED, np.float64, HEAD_FC)
        out = head_forward(params, f, m, head)
        return {"input.F": f, "input.M": m, "output.M_HR": out}, meta, params, cfg, HEAD_FC

    return Case(name, "head", build)


def _h(**kw: Any) -> EnhanceNetConfig:
    return dataclasses.replace(HEAD_DEFAULT, **kw)


HEAD_CASES = [
    _head_case("head_inputs_both", _h()),
    _head_case("head_inputs_features", _h(inputs=HeadInput.FEATURES)),
    _head_case("head_inputs_heatmaps", _h(inputs=HeadInput.HEATMAPS)),
    _head_case("head_L2", _h(num_layers=2)),
    _head_case("head_L4", _h(num_layers=4)),
    *[_head_case(f"head_subpixel_r{r}", _h(upscale=r)) for r in (1, 2, 3, 5)],
    _head_case("head_subpixel_paper_r4", _h(shuffle_order=ShuffleOrder.PAPER), paper_from_framework=True),
    _head_case("head_subpixel_paper_r3", _h(upscale=3, shuffle_order=ShuffleOrder.PAPER), paper_from_framework=True),
    _head_case("head_subpixel_r3_fw", _h(upscale=3)),
    _head_case("head_deconv_k3_r4", _h(upsampler=Upsampler.DECONV, upsampler_kernel=3)),
    _head_case("head_deconv_k12_r4", _h(upsampler=Upsampler.DECONV, upsampler_kernel=12)),
    _head_case("head_deconv_k3_r2", _h(upsampler=Upsampler.DECONV, upsampler_kernel=3, upscale=2)),
    _head_case("head_bilinear_conv_r4", _h(upsampler=Upsampler.BILINEAR_CONV)),
    _head_case("head_bilinear_conv_r3", _h(upsampler=Upsampler.BILINEAR_CONV, upscale=3)),
]


# ----------------------------------------------------------------------------------------------- base
# The paper's head (F+M, L=3, C=128, sub-pixel 3x3, framework order) at r=2 to keep M^HR small; every r is
# covered by the head cases.
BASE_HEAD = EnhanceNetConfig(upscale=2)


def weights_sha256(params: dict[str, np.ndarray], model_cfg: ModelConfig) -> str:
    """SHA-256 over the tensors in name-map order, little-endian bytes of their dtype."""
    h = hashlib.sha256()
    for name in parameter_specs(model_cfg):
        h.update(np.ascontiguousarray(params[name], dtype=params[name].dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


def _base_case(name: str, base: BaseModelConfig, input_size: tuple[int, int], num_keypoints: int | None = None) -> Case:
    def build():
        k = {} if num_keypoints is None else {"num_keypoints": num_keypoints}
        cfg = ModelConfig(base=base, head=BASE_HEAD, input_size=input_size, **k)
        params = init_weights(cfg, SEED, np.float64)
        w, h = input_size
        x = _u(f"{name}.x", (1, 3, h, w))
        tensors: dict[str, np.ndarray] = {"input.x": x}
        if base.name == BaseModelName.HOURGLASS:
            f_lr, m_lr, scores = hourglass.forward(params, x, base)
            tensors.update({f"output.scores.{i}": s for i, s in enumerate(scores)})
        elif base.name == BaseModelName.DLCM:  # every stack's maps: levels (1, 2, 3, 2, 1), P_l channels
            f_lr, m_lr, scores = dlcm.forward(params, x, dlcm_config(base))
            tensors.update({f"output.scores.{i}": s for i, s in enumerate(scores)})
        elif base.name == BaseModelName.AE_HOURGLASS:  # every stack's detection and tag maps
            ae = ae_hourglass.forward(params, x, base, cfg.num_keypoints)
            f_lr, m_lr = ae.features, ae.detection
            tensors.update({f"output.detection.{i}": d for i, d in enumerate(ae.stack_detection(cfg.num_keypoints))})
            tensors.update({f"output.tags.{i}": t for i, t in enumerate(ae.stack_tags(cfg.num_keypoints))})
        elif base.name == BaseModelName.HRNET:
            f_lr, m_lr = hrnet.forward(params, x, base)
        else:
            f_lr, m_lr = simple_baseline.forward(params, x, base)
        tensors.update({"output.F_LR": f_lr, "output.M_LR": m_lr, "output.M_HR": head_forward(params, f_lr, m_lr, cfg.head)})
        meta = {
            "weights": "enhancenet_numpy.weights.init_weights(model_config, seed, float64)",
            "weights_sha256": weights_sha256(params, cfg),
        }
        return tensors, meta, None, cfg, None

    return Case(name, "base", build)


BASE_CASES = [
    # (W, H) = (32, 64): divisible by 32 (HRNet's fusion and the ResNet's 5 halvings need it), not square.
    _base_case("base_simple_baseline_r18", BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=18), (32, 64)),
    _base_case("base_simple_baseline_r50", BaseModelConfig(name=BaseModelName.SIMPLE_BASELINE, depth=50), (32, 64)),
    _base_case("base_hrnet_w32", BaseModelConfig(name=BaseModelName.HRNET, width=32), (32, 64)),
    _base_case("base_hourglass_2", BaseModelConfig(name=BaseModelName.HOURGLASS, stages=2), (64, 64)),
    # DLCM at a tiny width (C = 32; MPII's 16 joints, depth 4 as every config builds it): five stacks
    _base_case("base_dlcm_c32", BaseModelConfig(name=BaseModelName.DLCM, hourglass_channels=32), (64, 64), 16),
    # pose-ae-train's AE network, reduced: 2 stacks, 16 channels (+8 per level), K = 17, 40 outputs per stack
    # (K detection + K tag + 6 unsupervised, as oup_dim = 4K has 2K): smaller than the paper's width,
    # the golden budget is 6 MB.
    _base_case("base_ae_hourglass_2", BaseModelConfig(name=BaseModelName.AE_HOURGLASS, stages=2, hourglass_channels=16,
                                                      hourglass_increase=8, ae_output_channels=40), (64, 64)),
]


# ------------------------------------------------------------------------------------ targets, decoders
# Joints in input-patch pixels (x, y) for a (W, H) = (48, 64) patch: interior, sub-pixel, on and beyond
# each edge (HRNet's int() truncation at -3.9, the left/top off-by-one), and one invisible joint.
TARGET_JOINTS = np.array(
    [
        [[10.0, 20.0], [23.37, 31.81], [0.0, 0.0], [47.0, 63.0], [-3.9, 12.0]],
        [[-9.0, 30.0], [30.2, -8.0], [46.6, 5.5], [12.5, 40.25], [24.0, 70.0]],
    ]
)
TARGET_VIS = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 1]], dtype=np.float64)


# The model and targets of the spec cases: a (48, 64) patch, K = 5, stride 4, r = 4, σ = 2. The codecs derive the
# LR map (12, 16) with σ and the HR map (48, 64) with r·σ = 8 (enhancenet_core.codecs.heatmap_codecs).
SPEC_MODEL = ModelConfig(num_keypoints=5, input_size=(48, 64), head=EnhanceNetConfig(upscale=4))
SPEC_SIGMA = 2.0


def _spec_codecs(convention: CoordinateConvention):
    from enhancenet_core.codecs import heatmap_codecs

    return heatmap_codecs(Config(model=SPEC_MODEL, target=TargetConfig(sigma=SPEC_SIGMA, convention=convention)))


def _targets_case(convention: CoordinateConvention) -> Case:
    def build():
        cfg = SPEC_MODEL
        codecs = _spec_codecs(convention)
        lr, lr_w = codecs.lr.encode(TARGET_JOINTS, TARGET_VIS)
        hr, hr_w = codecs.hr.encode(TARGET_JOINTS, TARGET_VIS)
        tensors = {
            "input.joints": TARGET_JOINTS,
            "input.joints_vis": TARGET_VIS,
            "output.target_lr": lr,
            "output.target_weight_lr": lr_w,
            "output.target_hr": hr,
            "output.target_weight_hr": hr_w,
        }
        # "function" names what wrote the committed files (now enhancenet_core.codecs.generate_lr_hr_targets, the
        # same numbers); kept as written so the files regenerate byte for byte.
        meta = {"function": "enhancenet_core.targets.generate_lr_hr_targets", "target_config": {"sigma": SPEC_SIGMA, "convention": convention.value}}
        return tensors, meta, None, cfg, None

    return Case(f"targets_{convention.value}", "targets", build)


def _decoders_case() -> Case:
    def build():
        tensors: dict[str, np.ndarray] = {}
        meta_calls = []
        for conv in CoordinateConvention:
            for level, codec in _spec_codecs(conv)._asdict().items():
                sigma = codec.sigma
                maps, _ = codec.encode(TARGET_JOINTS, np.ones_like(TARGET_VIS))
                noisy = maps.astype(np.float64) + _u(f"decoders.noise.{conv.value}.{level}", maps.shape, 0.0, 0.05)
                tensors[f"input.{conv.value}.{level}"] = noisy
                for dec in Decoder:
                    coords, maxvals = dataclasses.replace(codec, decoder=dec).decode_on_map(noisy)
                    tensors[f"output.{conv.value}.{level}.{dec.value}.coords"] = coords
                    tensors[f"output.{conv.value}.{level}.{dec.value}.maxvals"] = np.asarray(maxvals, dtype=np.float64)
                    meta_calls.append({"input": f"input.{conv.value}.{level}", "decoder": dec.value, "convention": conv.value, "sigma": sigma})
        meta = {"function": "enhancenet_core.decoders.decode_heatmaps(heatmaps, decoder, convention, sigma=sigma)", "calls": meta_calls}
        return tensors, meta, None, None, None

    return Case("decoders", "decoders", build)


SPEC_CASES = [_targets_case(c) for c in CoordinateConvention] + [_decoders_case()]
ALL_CASES: list[Case] = [*OP_CASES, *HEAD_CASES, *BASE_CASES, *SPEC_CASES]


# -------------------------------------------------------------------------------------------- writing
def _metadata(case: Case, extra: dict[str, Any], cfg: ModelConfig | None) -> dict[str, str]:
    meta = {
        "case": case.name,
        "kind": case.kind,
        "seed": str(SEED),
        "script": "conformance/golden/make_golden.py",
        "script_version": SCRIPT_VERSION,
        "numpy_version": np.__version__,
    }
    if cfg is not None:
        meta["model_config"] = model_config_json(cfg)
    for k, v in extra.items():
        meta[k] = v if isinstance(v, str) else json.dumps(v, sort_keys=True, separators=(",", ":"))
    return meta


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_case(case: Case, out_dir: Path) -> dict[str, Any]:
    """Build one case and write its file(s); returns its manifest entry."""
    tensors, extra, weights, cfg, feature_channels = case.build()
    meta = _metadata(case, extra, cfg)
    io_path = out_dir / f"{case.name}.safetensors"
    from enhancenet_numpy.weights import atomic_write_bytes

    atomic_write_bytes(io_path, safetensors_bytes(tensors, meta))
    entry: dict[str, Any] = {
        "kind": case.kind,
        "file": io_path.name,
        "sha256": _sha(io_path),
        "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in tensors.items()},
        "metadata": {k: v for k, v in meta.items() if k not in ("numpy_version", "case", "kind")},
    }
    if weights is not None and cfg is not None:
        w_path = out_dir / f"{case.name}.weights.safetensors"
        save_weights(w_path, weights, cfg, {"case": case.name, "seed": str(SEED), "script_version": SCRIPT_VERSION}, feature_channels)
        entry["weights_file"] = w_path.name
        entry["weights_sha256"] = _sha(w_path)
        entry["feature_channels"] = feature_channels
    return entry


def write_manifest(entries: dict[str, dict[str, Any]], out_dir: Path) -> None:
    from enhancenet_numpy.weights import atomic_write_bytes

    manifest = {
        "script": "conformance/golden/make_golden.py",
        "script_version": SCRIPT_VERSION,
        "numpy_version": np.__version__,
        "seed": SEED,
        "cases": entries,
    }
    atomic_write_bytes(out_dir / "manifest.json", (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode())


def generate(out_dir: Path, patterns: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Write every case matching one of ``patterns`` (fnmatch; all when None) and the manifest.

    With patterns, the manifest keeps the entries already in ``out_dir/manifest.json`` for other cases.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    entries: dict[str, dict[str, Any]] = {}
    old = out_dir / "manifest.json"
    if patterns and old.is_file():
        entries = json.loads(old.read_text())["cases"]
    for case in ALL_CASES:
        if patterns is None or any(fnmatch.fnmatch(case.name, p) for p in patterns):
            entries[case.name] = write_case(case, out_dir)
    write_manifest(entries, out_dir)
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR, help="output directory (default: conformance/golden/data)")
    parser.add_argument("--only", action="append", help="fnmatch pattern of case names (repeatable)")
    args = parser.parse_args(argv)
    entries = generate(args.out, args.only)
    total = sum(p.stat().st_size for p in args.out.glob("*.safetensors"))
    print(f"wrote {len(entries)} cases to {args.out} ({total / 1e6:.2f} MB of safetensors)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
