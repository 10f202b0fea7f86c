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

The framework-free part (setting and shapes, options, the multiply-add rule, per-case measurement with round-robin
timing, JSON fields, table, JSON file) is ``enhancenet_runtime.engine.benchmark`` (installed with enhancenet-core, so a
plain ``python <script>`` imports it), shared with the Paddle and MindSpore scripts; this file holds the torch hooks.

    python benchmarks/torch/bench_models.py [--batch 4] [--repeats 5] [--threads 2] [--json out.json]
    python benchmarks/torch/bench_models.py --device cuda --amp --batch 32     # GPU images/s with AMP
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch import nn

from enhancenet_runtime.engine import benchmark as eb
from enhancenet_torch.models import EnhanceNet, build_model


def count_flops(module: nn.Module, *inputs: torch.Tensor, deconv_as_paper: bool = False) -> int:
    """Multiply-adds per image of the Conv2d / ConvTranspose2d layers in one eval-mode forward, each counted by
    :func:`enhancenet_runtime.engine.benchmark.conv_macs` (``deconv_as_paper``: see there)."""
    module.eval()
    total = 0

    def hook(m: nn.Module, args: tuple, out: torch.Tensor) -> None:
        nonlocal total
        total += eb.conv_macs(isinstance(m, nn.ConvTranspose2d), args[0].numel(), out.numel(),
                              m.in_channels // m.groups, m.out_channels // m.groups,
                              m.kernel_size[0] * m.kernel_size[1], deconv_as_paper)

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    with torch.no_grad():
        eb.call_then_remove(handles, lambda: module(*inputs))
    return total // inputs[0].shape[0]  # per image


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
    setting = eb.ModelBenchSetting(args.batch)  # SimpleBaseline-R50 + EnhanceNet(L=3, C=128, r=4), 256 x 192
    cfg, n, shapes = setting.cfg, setting.batch, setting.shapes
    images = torch.randn(*shapes["images"], device=device)
    f_lr = torch.randn(*shapes["f_lr"], device=device)
    m_lr = torch.randn(*shapes["m_lr"], device=device)
    targets = {"lr": torch.rand(*shapes["t_lr"], device=device), "hr": torch.rand(*shapes["t_hr"], device=device)}

    head = EnhanceNet(cfg.head, setting.feature_channels, cfg.num_keypoints).to(device)
    base = build_model(setting.base_cfg).to(device)
    full = build_model(cfg).to(device)
    cases: dict[str, tuple[nn.Module, tuple[torch.Tensor, ...]]] = {
        "head": (head, (f_lr, m_lr)),
        "base": (base, (images,)),
        "base+head": (full, (images,)),
    }
    results: dict = {"device": str(device), "amp": amp, "batch": n, "threads": torch.get_num_threads(),
                     "torch": torch.__version__, "input_hw": list(setting.input_hw), "cases": {}}
    scaler = torch.amp.GradScaler("cuda", enabled=amp)

    def forward(model: nn.Module, inputs: tuple) -> None:
        model.eval()
        with torch.no_grad(), torch.autocast(device.type, enabled=amp):
            model(*inputs)

    def train_step(model: nn.Module, inputs: tuple, optimizer: torch.optim.Optimizer) -> None:
        model.train()
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device.type, enabled=amp):
            out = model(*inputs)
        scaler.scale(_loss(out, targets)).backward()
        scaler.step(optimizer)
        scaler.update()

    hooks = eb.BenchHooks(count_flops=count_flops, forward=forward,
                          optimizer=lambda model: torch.optim.Adam(model.parameters(), lr=1e-3),
                          train_step=train_step, sync=lambda: _sync(device))
    return results | eb.measure_cases(setting, cases, hooks, args.warmup, args.repeats)


def main(argv: list[str] | None = None) -> None:
    parser = eb.model_bench_parser(__doc__.splitlines()[0], device_help="cpu or cuda[:i]",
                                amp_help="float16 autocast + GradScaler (CUDA only)")
    args = parser.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is available")
    eb.report(bench(args), ("device", "amp", "batch", "threads", "torch"), args.json)


if __name__ == "__main__":
    main()
