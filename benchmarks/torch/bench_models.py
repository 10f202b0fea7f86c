"""Benchmark: forward and training-step throughput of the EnhanceNet head and of SimpleBaseline-R50 with/without it.

Setting: COCO input 256 x 192 (H x W), K = 17, F^LR 256 x 64 x 48, the paper's head (L = 3, C = 128, r = 4,
sub-pixel). Reports, from one run: ms per iteration and images/s for

- ``head``: EnhanceNet alone on (F^LR, M^LR);
- ``base``: SimpleBaseline-R50 without the head;
- ``base+head``: SimpleBaseline-R50 with the head;

the time overhead of the head (``base+head`` / ``base`` - 1) next to the FLOP overhead, counted on the same
modules with forward hooks (multiply-adds; a transposed convolution counted as the multiply-adds it performs,
``H_in * W_in * C_in * C_out * k^2``) and the paper's 1.52 GFLOPs for the head (Table 5, from
``enhancenet_core.complexity``). Training step = forward, MSE loss on M^LR (and M^HR), backward, Adam step.

    python benchmarks/torch/bench_models.py [--batch 4] [--repeats 5] [--threads 2] [--json out.json]
    python benchmarks/torch/bench_models.py --device cuda --amp --batch 32     # GPU images/s with AMP
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

import torch
import torch.nn.functional as F
from torch import nn

from enhancenet_core.complexity import head_complexity
from enhancenet_core.config import EnhanceNetConfig, ModelConfig
from enhancenet_torch.models import EnhanceNet, build_model

PAPER_HEAD_GFLOPS = 1.52  # Table 5b/5c/5d, C = 128, r = 4


def count_flops(module: nn.Module, *inputs: torch.Tensor, deconv_as_paper: bool = False) -> int:
    """Multiply-adds per image of the Conv2d / ConvTranspose2d layers of one forward (bias, BN, ReLU not counted).

    A transposed convolution is counted as the multiply-adds it performs (``H_in W_in C_in C_out k^2``), or with
    ``deconv_as_paper`` as the paper's Sec. 3.3 counts it (``H_out W_out C_in C_out k^2``, like a convolution).
    """
    total = 0

    def hook(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
        nonlocal total
        k = m.kernel_size[0] * m.kernel_size[1]
        if isinstance(m, nn.ConvTranspose2d) and not deconv_as_paper:
            total += args[0].numel() * m.out_channels // m.groups * k
        elif isinstance(m, nn.ConvTranspose2d):
            total += out.numel() * m.in_channels // m.groups * k
        else:
            total += out.numel() * m.in_channels // m.groups * k

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    try:
        with torch.no_grad():
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total // inputs[0].shape[0]  # per image


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_interleaved(
    fns: dict[str, Callable[[], None]], device: torch.device, warmup: int, repeats: int
) -> dict[str, float]:
    """Median seconds per call of each function, timed round-robin (one call of each per round) so that
    load changes on a shared machine hit every case alike and the ratios stay meaningful."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    _sync(device)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            _sync(device)
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def _loss(out: dict | torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
    if isinstance(out, torch.Tensor):
        return F.mse_loss(out.float(), targets["hr"])
    loss = F.mse_loss(out["lr"].float(), targets["lr"])
    if "hr" in out:
        loss = loss + F.mse_loss(out["hr"].float(), targets["hr"])
    return loss


def bench(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
        # Untrained HRNet-style weights (N(0, 0.001)) with unit BN running statistics shrink activations into
        # float32 denormals in eval mode, which are ~100x slower on x86; trained weights do not do that.
        torch.set_flush_denormal(True)
    amp = args.amp and device.type == "cuda"
    torch.manual_seed(0)
    cfg = ModelConfig()  # SimpleBaseline-R50 + EnhanceNet(L=3, C=128, r=4), 256 x 192
    width, height = cfg.input_size
    n, k = args.batch, cfg.num_keypoints
    h, w = height // 4, width // 4
    r = cfg.head.upscale
    images = torch.randn(n, 3, height, width, device=device)
    f_lr = torch.randn(n, 256, h, w, device=device)
    m_lr = torch.randn(n, k, h, w, device=device)
    targets = {"lr": torch.rand(n, k, h, w, device=device), "hr": torch.rand(n, k, r * h, r * w, device=device)}

    head = EnhanceNet(cfg.head, 256, k).to(device)
    base = build_model(replace(cfg, head=EnhanceNetConfig(enabled=False))).to(device)
    full = build_model(cfg).to(device)
    cases: dict[str, tuple[nn.Module, tuple[torch.Tensor, ...]]] = {
        "head": (head, (f_lr, m_lr)),
        "base": (base, (images,)),
        "base+head": (full, (images,)),
    }
    results: dict = {"device": str(device), "amp": amp, "batch": n, "threads": torch.get_num_threads(),
                     "torch": torch.__version__, "input_hw": [height, width], "cases": {}}
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    forwards: dict[str, Callable[[], None]] = {}
    steps: dict[str, Callable[[], None]] = {}
    flops: dict[str, tuple[int, int]] = {}
    for name, (model, inputs) in cases.items():
        flops[name] = (count_flops(model.eval(), *inputs), count_flops(model, *inputs, deconv_as_paper=True))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def forward(model: nn.Module = model, inputs: tuple = inputs) -> None:
            model.eval()
            with torch.no_grad(), torch.autocast(device.type, enabled=amp):
                model(*inputs)

        def train_step(model: nn.Module = model, inputs: tuple = inputs, optimizer: torch.optim.Optimizer = optimizer) -> None:
            model.train()
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, enabled=amp):
                out = model(*inputs)
            scaler.scale(_loss(out, targets)).backward()
            scaler.step(optimizer)
            scaler.update()

        forwards[name], steps[name] = forward, train_step
    t_fwd = time_interleaved(forwards, device, args.warmup, args.repeats)
    t_train = time_interleaved(steps, device, args.warmup, args.repeats)
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
    print(f"device {results['device']}  amp {results['amp']}  batch {results['batch']}  threads {results['threads']}"
          f"  torch {results['torch']}  input {results['input_hw'][0]}x{results['input_hw'][1]}")
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
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:i]")
    parser.add_argument("--amp", action="store_true", help="float16 autocast + GradScaler (CUDA only)")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "2")))
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    results = bench(args)
    _print(results)
    if args.json is not None:
        tmp = args.json.with_name(f".{args.json.name}.tmp")
        tmp.write_text(json.dumps(results, indent=2) + "\n")
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
