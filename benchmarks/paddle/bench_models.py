"""Benchmark (Paddle): forward and training-step throughput of the EnhanceNet head and of SimpleBaseline-R50 with
and without it — the same cases, settings and JSON layout as ``benchmarks/torch/bench_models.py``.

Setting: COCO input 256 x 192 (H x W), K = 17, F^LR 256 x 64 x 48, the paper's head (L = 3, C = 128, r = 4,
sub-pixel). Reports, from one run: ms per iteration and images/s for

- ``head``: EnhanceNet alone on (F^LR, M^LR);
- ``base``: SimpleBaseline-R50 without the head;
- ``base+head``: SimpleBaseline-R50 with the head;

the time overhead of the head (``base+head`` / ``base`` - 1) next to the FLOP overhead, counted on the same layers
with forward post-hooks (multiply-adds; a transposed convolution counted as the multiply-adds it performs,
``H_in * W_in * C_in * C_out * k^2``) and the paper's 1.52 GFLOPs (Table 5, via ``enhancenet_core.complexity``).
Training step = forward, MSE loss on M^LR (and M^HR), backward, Adam step. Cases are timed round-robin.

Threads: ``--threads`` sets ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` before Paddle is imported and Paddle's own
CPU math thread count. Weights are re-drawn He-normal (std sqrt(2 / fan_in)) so activations stay O(1) as with
trained weights: HRNet's N(0, 0.001) initialisation drives float32 activations into denormals, which are ~100x
slower on x86, and Paddle has no flush-denormal switch (the torch script calls ``torch.set_flush_denormal``).

The script prints a table and ``--json`` writes the results; it never imports torch, so a driver can run the torch
and Paddle scripts in separate interpreters and merge the JSON files (``"framework": "paddle"``).

    python benchmarks/paddle/bench_models.py [--batch 4] [--repeats 5] [--threads 2] [--json out.json]
    python benchmarks/paddle/bench_models.py --device gpu --amp --batch 32     # GPU images/s with AMP
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

PAPER_HEAD_GFLOPS = 1.52  # Table 5b/5c/5d, C = 128, r = 4


def count_flops(layer: Any, *inputs: Any, deconv_as_paper: bool = False) -> int:
    """Multiply-adds per image of the Conv2D / Conv2DTranspose layers of one forward (bias, BN, ReLU not counted).

    A transposed convolution is counted as the multiply-adds it performs (``H_in W_in C_in C_out k^2``), or with
    ``deconv_as_paper`` as the paper's Sec. 3.3 counts it (``H_out W_out C_in C_out k^2``, like a convolution).
    """
    import paddle
    from paddle import nn

    total = 0

    def hook(m: Any, args: tuple, out: Any) -> None:
        nonlocal total
        w = m.weight.shape  # Conv2D (C_out, C_in/g, kh, kw); Conv2DTranspose (C_in, C_out/g, kh, kw)
        k = int(w[2] * w[3])
        if isinstance(m, nn.Conv2DTranspose) and not deconv_as_paper:
            total += int(math.prod(args[0].shape)) * int(w[1]) * k
        elif isinstance(m, nn.Conv2DTranspose):
            total += int(math.prod(out.shape)) * (int(w[0]) // int(m._groups)) * k
        else:
            total += int(math.prod(out.shape)) * int(w[1]) * k

    handles = [m.register_forward_post_hook(hook) for m in layer.sublayers(include_self=True)
               if isinstance(m, nn.Conv2D | nn.Conv2DTranspose)]
    try:
        with paddle.no_grad():
            layer(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total // int(inputs[0].shape[0])  # per image


def he_normal_(layer: Any) -> None:
    """Conv / deconv weights ~ N(0, 2 / fan_in) (fan_in of one output: C_in/g * kh * kw), biases 0."""
    from paddle import nn

    for m in layer.sublayers(include_self=True):
        if isinstance(m, nn.Conv2D | nn.Conv2DTranspose):
            w = m.weight.shape
            fan_in = int(w[1] * w[2] * w[3]) if isinstance(m, nn.Conv2D) else int(w[0] * w[2] * w[3])
            nn.initializer.Normal(0.0, math.sqrt(2.0 / fan_in))(m.weight)
            if m.bias is not None:
                nn.initializer.Constant(0.0)(m.bias)


def _sync(gpu: bool) -> None:
    if gpu:
        import paddle

        paddle.device.synchronize()


def time_interleaved(fns: dict[str, Callable[[], None]], gpu: bool, warmup: int, repeats: int) -> dict[str, float]:
    """Median seconds per call of each function, timed round-robin (one call of each per round) so that
    load changes on a shared machine hit every case alike and the ratios stay meaningful."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    _sync(gpu)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            _sync(gpu)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def bench(args: argparse.Namespace) -> dict:
    import paddle
    import paddle.nn.functional as F

    from enhancenet_core.complexity import head_complexity
    from enhancenet_core.config import EnhanceNetConfig, ModelConfig
    from enhancenet_paddle.models import EnhanceNet, build_model

    gpu = args.device.startswith(("gpu", "cuda"))
    paddle.set_device(args.device.replace("cuda", "gpu") if gpu else "cpu")
    if not gpu:
        paddle.base.core.set_num_threads(args.threads)
    amp = args.amp and gpu
    paddle.seed(0)
    cfg = ModelConfig()  # SimpleBaseline-R50 + EnhanceNet(L=3, C=128, r=4), 256 x 192
    width, height = cfg.input_size
    n, k = args.batch, cfg.num_keypoints
    h, w = height // 4, width // 4
    r = cfg.head.upscale
    images = paddle.randn([n, 3, height, width])
    f_lr = paddle.randn([n, 256, h, w])
    m_lr = paddle.randn([n, k, h, w])
    targets = {"lr": paddle.rand([n, k, h, w]), "hr": paddle.rand([n, k, r * h, r * w])}

    head = EnhanceNet(cfg.head, 256, k)
    base = build_model(replace(cfg, head=EnhanceNetConfig(enabled=False)))
    full = build_model(cfg)
    for layer in (head, base, full):
        he_normal_(layer)
    cases: dict[str, tuple[Any, tuple]] = {
        "head": (head, (f_lr, m_lr)),
        "base": (base, (images,)),
        "base+head": (full, (images,)),
    }

    def loss_of(out: Any) -> Any:
        if isinstance(out, paddle.Tensor):
            return F.mse_loss(out.astype("float32"), targets["hr"])
        loss = F.mse_loss(out["lr"].astype("float32"), targets["lr"])
        if "hr" in out:
            loss = loss + F.mse_loss(out["hr"].astype("float32"), targets["hr"])
        return loss

    results: dict = {
        "framework": "paddle", "paddle": paddle.__version__, "device": "gpu" if gpu else "cpu", "amp": amp,
        "batch": n, "threads": args.threads, "input_hw": [height, width], "cases": {},
    }
    scaler = paddle.amp.GradScaler(enable=amp)
    forwards: dict[str, Callable[[], None]] = {}
    steps: dict[str, Callable[[], None]] = {}
    flops: dict[str, tuple[int, int]] = {}
    for name, (model, inputs) in cases.items():
        model.eval()
        flops[name] = (count_flops(model, *inputs), count_flops(model, *inputs, deconv_as_paper=True))
        optimizer = paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters())

        def forward(model: Any = model, inputs: tuple = inputs) -> None:
            model.eval()
            with paddle.no_grad(), paddle.amp.auto_cast(enable=amp):
                model(*inputs)

        def train_step(model: Any = model, inputs: tuple = inputs, optimizer: Any = optimizer) -> None:
            model.train()
            optimizer.clear_grad(set_to_zero=False)
            with paddle.amp.auto_cast(enable=amp):
                out = model(*inputs)
            scaled = scaler.scale(loss_of(out))
            scaled.backward()
            scaler.step(optimizer)
            scaler.update()

        forwards[name], steps[name] = forward, train_step
    t_fwd = time_interleaved(forwards, gpu, args.warmup, args.repeats)
    t_train = time_interleaved(steps, gpu, args.warmup, args.repeats)
    for name in cases:
        results["cases"][name] = {
            "gflops_per_image": flops[name][0] / 1e9,
            "gflops_per_image_deconv_as_paper": flops[name][1] / 1e9,
            "forward_ms": 1e3 * t_fwd[name],
            "forward_images_per_s": n / t_fwd[name],
            "train_step_ms": 1e3 * t_train[name],
            "train_images_per_s": n / t_train[name],
        }
    c = results["cases"]
    results["head_overhead"] = {
        "forward_time": c["base+head"]["forward_ms"] / c["base"]["forward_ms"] - 1.0,
        "train_time": c["base+head"]["train_step_ms"] / c["base"]["train_step_ms"] - 1.0,
        "flops": c["head"]["gflops_per_image"] / c["base"]["gflops_per_image"],
        "head_gflops_measured": c["head"]["gflops_per_image"],
        "head_gflops_spec": head_complexity(cfg, 256).gflops,
        "head_gflops_paper": PAPER_HEAD_GFLOPS,
        "base_gflops_measured": c["base"]["gflops_per_image"],
        "base_gflops_deconv_as_paper": c["base"]["gflops_per_image_deconv_as_paper"],
    }
    return results


def _print(results: dict) -> None:
    print(f"paddle {results['paddle']}  device {results['device']}  amp {results['amp']}  batch {results['batch']}"
          f"  threads {results['threads']}  input {results['input_hw'][0]}x{results['input_hw'][1]}")
    print(f"{'case':<10} {'GFLOPs/img':>10} {'fwd ms':>9} {'fwd img/s':>10} {'train ms':>9} {'train img/s':>11}")
    for name, c in results["cases"].items():
        print(f"{name:<10} {c['gflops_per_image']:>10.2f} {c['forward_ms']:>9.1f} {c['forward_images_per_s']:>10.2f}"
              f" {c['train_step_ms']:>9.1f} {c['train_images_per_s']:>11.2f}")
    o = results["head_overhead"]
    print(f"head overhead: forward time +{100 * o['forward_time']:.1f}%, training step +{100 * o['train_time']:.1f}%, "
          f"FLOPs +{100 * o['flops']:.1f}%")
    print(f"head GFLOPs: measured {o['head_gflops_measured']:.3f}, enhancenet_core.complexity "
          f"{o['head_gflops_spec']:.3f}, paper {o['head_gflops_paper']:.2f}; base model {o['base_gflops_measured']:.2f} "
          f"({o['base_gflops_deconv_as_paper']:.2f} with deconvolutions counted as the paper counts them)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu or gpu[:i]")
    parser.add_argument("--amp", action="store_true", help="float16 auto_cast + GradScaler (GPU only)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before Paddle is imported
    os.environ["MKL_NUM_THREADS"] = str(args.threads)
    results = bench(args)
    _print(results)
    if args.json is not None:
        tmp = args.json.with_name(f".{args.json.name}.tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
