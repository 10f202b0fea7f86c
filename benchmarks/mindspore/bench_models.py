"""Benchmark (MindSpore): forward and training-step time of the EnhanceNet head and of SimpleBaseline-R50 with and
without it, in PYNATIVE_MODE and GRAPH_MODE, on CPU.

Same setting as ``benchmarks/torch/bench_models.py`` (so a driver can merge the JSON of the frameworks, each run
in its own process: never import two frameworks in one): COCO input 256 x 192 (H x W), K = 17, F^LR
256 x 64 x 48, the paper's head (L = 3, C = 128, r = 4, sub-pixel). Cases:

- ``head``: EnhanceNet alone on (F^LR, M^LR);
- ``base``: SimpleBaseline-R50 without the head;
- ``base+head``: SimpleBaseline-R50 with the head.

Training step = forward, MSE loss on M^LR (and M^HR), backward, Adam step (``nn.TrainOneStepCell``; in GRAPH_MODE
the whole step is one compiled graph; compilation happens in the warm-up calls and is reported separately as
``first_call_s``). Median of ``--repeats`` timed calls after ``--warmup`` calls.

    python benchmarks/mindspore/bench_models.py [--batch 4] [--repeats 5] [--threads 2] [--modes pynative graph]
        [--json out.json]

The JSON goes to stdout (last line) and optionally to ``--json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from enhancenet_core.complexity import head_complexity
from enhancenet_core.config import EnhanceNetConfig, ModelConfig
from enhancenet_mindspore.models import EnhanceNet, build_model

PAPER_HEAD_GFLOPS = 1.52  # Table 5, C = 128, r = 4


class _HeadLoss(nn.Cell):
    def __init__(self, head: EnhanceNet) -> None:
        super().__init__()
        self.head = head

    def construct(self, f_lr, m_lr, t_lr, t_hr):
        return ops.mse_loss(self.head(f_lr, m_lr), t_hr)


class _ModelLoss(nn.Cell):
    def __init__(self, model: nn.Cell) -> None:
        super().__init__()
        self.model = model
        self.has_head = model.has_head

    def construct(self, images, t_lr, t_hr):
        out = self.model(images)
        loss = ops.mse_loss(out["lr"], t_lr)
        if self.has_head:
            loss = loss + ops.mse_loss(out["hr"], t_hr)
        return loss


def time_it(fn: Callable[[], object], warmup: int, repeats: int) -> tuple[float, float]:
    """(seconds of the first call, median seconds per call afterwards)."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    for _ in range(max(warmup - 1, 0)):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return first, statistics.median(times)


def _sync(out: object) -> None:
    """Force the computation (MindSpore may run asynchronously)."""
    if isinstance(out, dict):
        out = out["lr"]
    if isinstance(out, tuple | list):
        out = out[0]
    out.asnumpy()


def bench_mode(mode: str, args: argparse.Namespace) -> dict:
    ms.set_context(mode=ms.GRAPH_MODE if mode == "graph" else ms.PYNATIVE_MODE)
    ms.set_seed(0)
    cfg = ModelConfig()  # SimpleBaseline-R50 + EnhanceNet(L=3, C=128, r=4), 256 x 192
    width, height = cfg.input_size
    n, k, r = args.batch, cfg.num_keypoints, cfg.head.upscale
    h, w = height // 4, width // 4
    rng = np.random.default_rng(0)

    def t(*shape: int) -> ms.Tensor:
        return ms.Tensor(rng.standard_normal(shape).astype(np.float32))

    images, f_lr, m_lr = t(n, 3, height, width), t(n, 256, h, w), t(n, k, h, w)
    t_lr, t_hr = t(n, k, h, w), t(n, k, r * h, r * w)
    head = EnhanceNet(cfg.head, 256, k)
    base = build_model(replace(cfg, head=EnhanceNetConfig(enabled=False)))
    full = build_model(cfg)
    cases = {
        "head": (head, (f_lr, m_lr), _HeadLoss(head), (f_lr, m_lr, t_lr, t_hr)),
        "base": (base, (images,), _ModelLoss(base), (images, t_lr, t_hr)),
        "base+head": (full, (images,), _ModelLoss(full), (images, t_lr, t_hr)),
    }
    out: dict = {}
    for name, (net, inputs, with_loss, loss_inputs) in cases.items():
        net.set_train(False)
        first_fwd, t_fwd = time_it(lambda net=net, inputs=inputs: _sync(net(*inputs)), args.warmup, args.repeats)
        step = nn.TrainOneStepCell(with_loss, nn.Adam(with_loss.trainable_params(), learning_rate=1e-3))
        step.set_train(True)
        first_train, t_train = time_it(lambda step=step, li=loss_inputs: step(*li).asnumpy(), args.warmup,
                                       args.repeats)
        out[name] = {
            "forward_ms": 1e3 * t_fwd,
            "forward_images_per_s": n / t_fwd,
            "forward_first_call_s": first_fwd,
            "train_step_ms": 1e3 * t_train,
            "train_images_per_s": n / t_train,
            "train_first_call_s": first_train,
        }
    out["head_overhead"] = {
        "forward_time": out["base+head"]["forward_ms"] / out["base"]["forward_ms"] - 1.0,
        "train_time": out["base+head"]["train_step_ms"] / out["base"]["train_step_ms"] - 1.0,
        "head_gflops_spec": head_complexity(cfg, 256).gflops,
        "head_gflops_paper": PAPER_HEAD_GFLOPS,
    }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    parser.add_argument("--modes", nargs="+", default=["pynative", "graph"], choices=["pynative", "graph"])
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args(argv)
    ms.set_context(device_target="CPU")
    try:
        ms.set_context(runtime_num_threads=args.threads)
    except (TypeError, ValueError, RuntimeError):  # the option moved between MindSpore versions
        pass
    results = {"framework": "mindspore", "mindspore": ms.__version__, "device": "cpu", "batch": args.batch,
               "threads": args.threads, "input_hw": [256, 192], "repeats": args.repeats, "modes": {}}
    for mode in args.modes:
        results["modes"][mode] = bench_mode(mode, args)
        c = results["modes"][mode]
        for name in ("head", "base", "base+head"):
            print(f"{mode:<9} {name:<10} fwd {c[name]['forward_ms']:8.1f} ms  train {c[name]['train_step_ms']:8.1f} ms"
                  f"  (first calls {c[name]['forward_first_call_s']:.1f} s / {c[name]['train_first_call_s']:.1f} s)",
                  flush=True)
    text = json.dumps(results, indent=None)
    if args.json is not None:
        tmp = args.json.with_name(f".{args.json.name}.tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        os.replace(tmp, args.json)
    print(text)


if __name__ == "__main__":
    main()
