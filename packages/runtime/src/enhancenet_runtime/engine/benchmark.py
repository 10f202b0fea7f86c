"""The framework-free part of the model benchmarks (``benchmarks/{torch,paddle,mindspore}/bench_models.py``).

Each framework's script builds its networks, inputs, forward and training-step callables and its device
synchronisation; everything around them lives here once:

* :class:`ModelBenchSetting`: the measured setting (the paper's COCO SimpleBaseline-R50 + EnhanceNet head,
  input 256 x 192, K = 17, F^LR 256 x 64 x 48, L = 3, C = 128, r = 4) and the shapes of the inputs;
* :func:`model_bench_parser`: the command-line options every script shares;
* :func:`conv_macs`: how a (transposed) convolution's multiply-adds are counted; :func:`call_then_remove`: one
  forward with counting hooks that are removed afterwards;
* :func:`time_interleaved` (round-robin medians) and :func:`time_first_and_median` (first call, then median);
* :func:`timing_fields`, :func:`case_results`, :func:`head_overhead`: the JSON fields of one run;
* :class:`BenchHooks` and :func:`measure_cases`: FLOPs, forward and training-step callables, timing and those
  fields for the cases of the torch and Paddle scripts, with the framework's work as hooks;
* :func:`header_line` and :func:`report_lines`: the printed table; :func:`write_json`: the ``--json`` file,
  written atomically; :func:`report`: both.

Nothing here imports a framework, or NumPy at import time (the Paddle script sets its thread variables after
parsing the arguments and before any BLAS is loaded).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any

from enhancenet_core.complexity import feature_channels, head_complexity
from enhancenet_core.config import EnhanceNetConfig, ModelConfig

__all__ = [
    "CASES",
    "PAPER_HEAD_GFLOPS",
    "BenchHooks",
    "ModelBenchSetting",
    "call_then_remove",
    "case_results",
    "conv_macs",
    "head_overhead",
    "header_line",
    "measure_cases",
    "model_bench_parser",
    "report",
    "report_lines",
    "time_first_and_median",
    "time_interleaved",
    "timing_fields",
    "write_json",
]

PAPER_HEAD_GFLOPS = 1.52
"""GFLOPs of the EnhanceNet head in the paper (Table 5b/5c/5d, C = 128, r = 4)."""

CASES: tuple[str, ...] = ("head", "base", "base+head")
"""The measured cases: the head alone on (F^LR, M^LR), the base model without it, the base model with it."""


@dataclass(frozen=True)
class ModelBenchSetting:
    """The setting of the model benchmarks: ``cfg`` (default: SimpleBaseline-R50 + EnhanceNet(L=3, C=128, r=4),
    256 x 192) at batch size ``batch``.

    Raises:
        ValueError: ``batch`` is smaller than 1.
    """

    batch: int
    cfg: ModelConfig = field(default_factory=ModelConfig)

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError(f"batch: expected a positive number of images, got {self.batch}")

    @property
    def base_cfg(self) -> ModelConfig:
        """``cfg`` with the head disabled (the ``base`` case)."""
        return replace(self.cfg, head=EnhanceNetConfig(enabled=False))

    @property
    def input_hw(self) -> tuple[int, int]:
        """(height, width) of the input images."""
        width, height = self.cfg.input_size
        return height, width

    @property
    def feature_channels(self) -> int:
        """Channels of F^LR (256 for SimpleBaseline)."""
        return feature_channels(self.cfg.base)

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        """Shapes of the inputs, in this order: ``images`` (N, 3, H, W), ``f_lr`` (N, C_F, h, w), ``m_lr`` and the
        target ``t_lr`` (N, K, h, w), the target ``t_hr`` (N, K, r*h, r*w); (h, w) = (H, W) / stride."""
        n, k, r = self.batch, self.cfg.num_keypoints, self.cfg.head.upscale
        height, width = self.input_hw
        w, h = self.cfg.heatmap_size
        return {
            "images": (n, 3, height, width),
            "f_lr": (n, self.feature_channels, h, w),
            "m_lr": (n, k, h, w),
            "t_lr": (n, k, h, w),
            "t_hr": (n, k, r * h, r * w),
        }

    def head_gflops_spec(self) -> float:
        """GFLOPs per image of the head by :func:`enhancenet_core.complexity.head_complexity`."""
        return head_complexity(self.cfg, self.feature_channels).gflops


def model_bench_parser(
    description: str, device_help: str | None = None, amp_help: str | None = None
) -> argparse.ArgumentParser:
    """The shared options: ``--device`` (default ``cpu``) and ``--amp`` when their help is given, then
    ``--batch`` (4), ``--repeats`` (5), ``--warmup`` (1), ``--threads`` (``$OMP_NUM_THREADS``, else 2) and
    ``--json`` (a path, default none). A script adds its own options to the returned parser."""
    parser = argparse.ArgumentParser(description=description)
    if device_help is not None:
        parser.add_argument("--device", default="cpu", help=device_help)
    if amp_help is not None:
        parser.add_argument("--amp", action="store_true", help=amp_help)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    return parser


def conv_macs(
    transposed: bool,
    in_numel: int,
    out_numel: int,
    in_channels_per_group: int,
    out_channels_per_group: int,
    kernel_area: int,
    deconv_as_paper: bool = False,
) -> int:
    """Multiply-adds of one call of a convolution layer (bias not counted), over the whole batch.

    A convolution costs ``out_numel * C_in/g * k`` (``k`` = kh * kw). A transposed convolution is counted as the
    multiply-adds it performs, ``in_numel * C_out/g * k`` (``H_in W_in C_in C_out k^2`` per image for g = 1), or
    with ``deconv_as_paper`` as the paper's Sec. 3.3 counts it, like a convolution (``H_out W_out C_in C_out k^2``).
    ``in_numel`` / ``out_numel``: elements of the input (N, C_in, H_in, W_in) / output (N, C_out, H_out, W_out).
    """
    if transposed and not deconv_as_paper:
        return in_numel * out_channels_per_group * kernel_area
    return out_numel * in_channels_per_group * kernel_area


def call_then_remove(handles: Iterable[Any], fn: Callable[[], object]) -> None:
    """Call ``fn`` (one forward through layers carrying counting hooks), then remove the hooks ``handles``
    (anything with ``remove()``), also when ``fn`` raises."""
    try:
        fn()
    finally:
        for handle in handles:
            handle.remove()


def time_interleaved(
    fns: Mapping[str, Callable[[], object]],
    sync: Callable[[], object],
    warmup: int,
    repeats: int,
    clock: Callable[[], float] | None = None,
) -> dict[str, float]:
    """Median seconds per call of each function, timed round-robin (one call of each per round) so that
    load changes on a shared machine hit every case alike and the ratios stay meaningful.

    Each function is first called ``warmup`` times (untimed); ``sync`` waits for the device (a no-op on CPU) and
    is inside every timed call. ``clock``: seconds, default :func:`time.perf_counter`.
    """
    clock = clock or time.perf_counter
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    sync()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = clock()
            fn()
            sync()
            times[name].append(clock() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def time_first_and_median(
    fn: Callable[[], object], warmup: int, repeats: int, clock: Callable[[], float] | None = None
) -> tuple[float, float]:
    """(seconds of the first call, median seconds per call after ``warmup`` calls in all, the first included).

    For a function whose first call compiles (MindSpore's GRAPH_MODE); ``fn`` itself must wait for its result.
    ``clock``: seconds, default :func:`time.perf_counter`.
    """
    clock = clock or time.perf_counter
    t0 = clock()
    fn()
    first = clock() - t0
    for _ in range(max(warmup - 1, 0)):
        fn()
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return first, statistics.median(times)


def timing_fields(
    batch: int,
    forward_s: float,
    train_s: float,
    forward_first_s: float | None = None,
    train_first_s: float | None = None,
) -> dict[str, float]:
    """``forward_ms``, ``forward_images_per_s`` (``forward_first_call_s``), ``train_step_ms``,
    ``train_images_per_s`` (``train_first_call_s``) of one case from seconds per call; the first-call fields only
    when given."""
    out = {"forward_ms": 1e3 * forward_s, "forward_images_per_s": batch / forward_s}
    if forward_first_s is not None:
        out["forward_first_call_s"] = forward_first_s
    out["train_step_ms"] = 1e3 * train_s
    out["train_images_per_s"] = batch / train_s
    if train_first_s is not None:
        out["train_first_call_s"] = train_first_s
    return out


def case_results(
    batch: int,
    flops: Mapping[str, tuple[int, int]],
    forward_s: Mapping[str, float],
    train_s: Mapping[str, float],
) -> dict[str, dict[str, float]]:
    """``{case: fields}`` for the cases of ``flops`` (multiply-adds per image as counted, and with deconvolutions
    counted as the paper counts them): ``gflops_per_image``, ``gflops_per_image_deconv_as_paper``, then
    :func:`timing_fields`."""
    return {
        name: {
            "gflops_per_image": macs / 1e9,
            "gflops_per_image_deconv_as_paper": macs_paper / 1e9,
            **timing_fields(batch, forward_s[name], train_s[name]),
        }
        for name, (macs, macs_paper) in flops.items()
    }


def head_overhead(cases: Mapping[str, Mapping[str, float]], head_gflops_spec: float) -> dict[str, float]:
    """The head's cost relative to the base model: ``forward_time`` and ``train_time`` (``base+head`` / ``base``
    - 1); when the cases carry FLOPs (:func:`case_results`) also ``flops`` (head / base) and the measured head
    GFLOPs; ``head_gflops_spec`` and ``head_gflops_paper``; then, with FLOPs, the base model's GFLOPs."""
    base, full = cases["base"], cases["base+head"]
    with_flops = "gflops_per_image" in base
    out = {
        "forward_time": full["forward_ms"] / base["forward_ms"] - 1.0,
        "train_time": full["train_step_ms"] / base["train_step_ms"] - 1.0,
    }
    if with_flops:
        out["flops"] = cases["head"]["gflops_per_image"] / base["gflops_per_image"]
        out["head_gflops_measured"] = cases["head"]["gflops_per_image"]
    out["head_gflops_spec"] = head_gflops_spec
    out["head_gflops_paper"] = PAPER_HEAD_GFLOPS
    if with_flops:
        out["base_gflops_measured"] = base["gflops_per_image"]
        out["base_gflops_deconv_as_paper"] = base["gflops_per_image_deconv_as_paper"]
    return out


@dataclass(frozen=True)
class BenchHooks:
    """What :func:`measure_cases` asks of a framework.

    Attributes:
        count_flops: ``(model, *inputs, deconv_as_paper=False) -> int``: multiply-adds per image of one inference
            forward (eval mode), counted with :func:`conv_macs`.
        forward: ``(model, inputs) -> None``: one inference forward (eval mode, no gradients).
        optimizer: ``model -> optimizer`` of the training step (made once per case).
        train_step: ``(model, inputs, optimizer) -> None``: forward, loss, backward, optimizer step (train mode).
        sync: ``() -> None``: wait for the device to finish (a no-op on CPU).
    """

    count_flops: Callable[..., int]
    forward: Callable[[Any, tuple], object]
    optimizer: Callable[[Any], Any]
    train_step: Callable[[Any, tuple, Any], object]
    sync: Callable[[], object]


def measure_cases(
    setting: ModelBenchSetting, cases: Mapping[str, tuple[Any, tuple]], hooks: BenchHooks, warmup: int, repeats: int
) -> dict[str, dict[str, Any]]:
    """Measure ``cases`` (``{name: (model, inputs)}``): FLOPs (as counted and as the paper counts them), then the
    forwards, then the training steps, each set timed round-robin (:func:`time_interleaved`).

    Returns:
        ``{"cases": case_results(...), "head_overhead": head_overhead(...)}``, to merge into a run's results.
    """
    flops: dict[str, tuple[int, int]] = {}
    forwards: dict[str, Callable[[], object]] = {}
    steps: dict[str, Callable[[], object]] = {}
    for name, (model, inputs) in cases.items():
        flops[name] = (hooks.count_flops(model, *inputs), hooks.count_flops(model, *inputs, deconv_as_paper=True))
        forwards[name] = partial(hooks.forward, model, inputs)
        steps[name] = partial(hooks.train_step, model, inputs, hooks.optimizer(model))
    forward_s = time_interleaved(forwards, hooks.sync, warmup, repeats)
    train_s = time_interleaved(steps, hooks.sync, warmup, repeats)
    results = case_results(setting.batch, flops, forward_s, train_s)
    return {"cases": results, "head_overhead": head_overhead(results, setting.head_gflops_spec())}


def header_line(results: Mapping[str, Any], keys: Iterable[str]) -> str:
    """``"<key> <value>"`` for each of ``keys`` of ``results``, then ``input <H>x<W>``, two spaces apart."""
    height, width = results["input_hw"]
    return "  ".join([*(f"{key} {results[key]}" for key in keys), f"input {height}x{width}"])


def report_lines(results: Mapping[str, Any]) -> list[str]:
    """The printed table of ``results["cases"]`` (from :func:`case_results`) and the two lines of
    ``results["head_overhead"]`` (from :func:`head_overhead` with FLOPs); :func:`report` prints a
    :func:`header_line` before them."""
    lines = [f"{'case':<10} {'GFLOPs/img':>10} {'fwd ms':>9} {'fwd img/s':>10} {'train ms':>9} {'train img/s':>11}"]
    for name, c in results["cases"].items():
        lines.append(
            f"{name:<10} {c['gflops_per_image']:>10.2f} {c['forward_ms']:>9.1f} {c['forward_images_per_s']:>10.2f}"
            f" {c['train_step_ms']:>9.1f} {c['train_images_per_s']:>11.2f}"
        )
    o = results["head_overhead"]
    lines.append(
        f"head overhead: forward time +{100 * o['forward_time']:.1f}%, training step +{100 * o['train_time']:.1f}%, "
        f"FLOPs +{100 * o['flops']:.1f}%"
    )
    lines.append(
        f"head GFLOPs: measured {o['head_gflops_measured']:.3f}, enhancenet_core.complexity "
        f"{o['head_gflops_spec']:.3f}, paper {o['head_gflops_paper']:.2f}; base model {o['base_gflops_measured']:.2f} "
        f"({o['base_gflops_deconv_as_paper']:.2f} with deconvolutions counted as the paper counts them)"
    )
    return lines


def write_json(path: str | os.PathLike[str], results: Mapping[str, Any]) -> Path:
    """Write ``results`` as indented JSON to ``path`` atomically (:func:`enhancenet_runtime.engine.io.atomic_write_json`,
    which also creates missing parent directories). Returns the path."""
    from enhancenet_runtime.engine.io import atomic_write_json  # imports NumPy: only once the run is done

    return atomic_write_json(path, dict(results))


def report(
    results: Mapping[str, Any], header_keys: Iterable[str], json_path: str | os.PathLike[str] | None
) -> None:
    """Print the :func:`header_line` of ``header_keys`` and the :func:`report_lines` of ``results``; then write them
    to ``json_path`` (when given) with :func:`write_json`."""
    print(header_line(results, header_keys))
    for line in report_lines(results):
        print(line)
    if json_path is not None:
        write_json(json_path, results)
