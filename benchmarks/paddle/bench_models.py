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
and Paddle scripts in separate interpreters and merge the JSON files (``"framework": "paddle"``). The
framework-free part (setting and shapes, options, the multiply-add rule, per-case measurement with round-robin
timing, JSON fields, table, JSON file) is ``enhancenet_runtime.engine.benchmark`` (installed with enhancenet-core),
shared with the torch and MindSpore scripts; it imports neither a framework nor NumPy, so the thread variables are
still set before any BLAS is loaded.

    python benchmarks/paddle/bench_models.py [--batch 4] [--repeats 5] [--threads 2] [--json out.json]
    python benchmarks/paddle/bench_models.py --device gpu --amp --batch 32     # GPU images/s with AMP
    python benchmarks/paddle/bench_models.py --engine inference   # forwards through Paddle Inference + oneDNN

``--engine inference`` (CPU): each case's forward runs in a ``paddle.inference`` predictor with oneDNN (the layer
saved by ``paddle.jit.save`` to a temporary directory, NumPy in and out, as ``enhancenet_paddle.predictor`` runs
evaluation and prediction); the training steps stay in dygraph.
"""

from __future__ import annotations

import argparse
import math
import os
from typing import Any

from enhancenet_runtime.engine import benchmark as eb


def count_flops(layer: Any, *inputs: Any, deconv_as_paper: bool = False) -> int:
    """Multiply-adds per image of the Conv2D / Conv2DTranspose layers in one eval-mode forward, each counted by
    :func:`enhancenet_runtime.engine.benchmark.conv_macs` (``deconv_as_paper``: see there)."""
    import paddle
    from paddle import nn

    layer.eval()
    total = 0

    def hook(m: Any, args: tuple, out: Any) -> None:
        nonlocal total
        w = [int(d) for d in m.weight.shape]  # Conv2D (C_out, C_in/g, kh, kw); Conv2DTranspose (C_in, C_out/g, kh, kw)
        transposed = isinstance(m, nn.Conv2DTranspose)
        in_per_group, out_per_group = (w[0] // int(m._groups), w[1]) if transposed else (w[1], w[0] // int(m._groups))
        total += eb.conv_macs(transposed, int(math.prod(args[0].shape)), int(math.prod(out.shape)), in_per_group,
                              out_per_group, w[2] * w[3], deconv_as_paper)

    handles = [m.register_forward_post_hook(hook) for m in layer.sublayers(include_self=True)
               if isinstance(m, nn.Conv2D | nn.Conv2DTranspose)]
    with paddle.no_grad():
        eb.call_then_remove(handles, lambda: layer(*inputs))
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


def _inference_forward(layer: Any, inputs: tuple, threads: int) -> Any:
    """A ``() -> None`` running ``layer`` on ``inputs`` through a Paddle Inference predictor (CPU, oneDNN)."""
    import tempfile

    import numpy as np
    import paddle
    from paddle import inference
    from paddle.static import InputSpec

    def as_tuple(out: Any) -> Any:  # a PoseModel's dict -> (M^LR, M^HR); the head's tensor as it is
        if not isinstance(out, dict):
            return out
        return (out["lr"], out["hr"]) if "hr" in out else (out["lr"],)

    class One(paddle.nn.Layer):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: Any) -> Any:
            return as_tuple(self.inner(x))

    class Two(One):
        def forward(self, x: Any, y: Any) -> Any:
            return as_tuple(self.inner(x, y))

    layer.eval()
    specs = [InputSpec([None, *[int(d) for d in x.shape[1:]]], "float32", f"x{i}") for i, x in enumerate(inputs)]
    with tempfile.TemporaryDirectory() as tmp:
        paddle.jit.save(paddle.jit.to_static((One if len(inputs) == 1 else Two)(layer), input_spec=specs, full_graph=True), f"{tmp}/m")
        config = inference.Config(f"{tmp}/m.json", f"{tmp}/m.pdiparams")
        config.disable_gpu()
        config.enable_onednn()
        config.set_cpu_math_library_num_threads(threads)
        config.disable_glog_info()
        predictor = inference.create_predictor(config)
    arrays = [np.ascontiguousarray(x.numpy()) for x in inputs]

    def run() -> None:
        for name, a in zip(predictor.get_input_names(), arrays, strict=True):
            handle = predictor.get_input_handle(name)
            handle.reshape(list(a.shape))
            handle.copy_from_cpu(a)
        predictor.run()
        for name in predictor.get_output_names():
            predictor.get_output_handle(name).copy_to_cpu()

    return run


def _sync(gpu: bool) -> None:
    if gpu:
        import paddle

        paddle.device.synchronize()


def bench(args: argparse.Namespace) -> dict:
    import paddle
    import paddle.nn.functional as F

    from enhancenet_paddle.models import EnhanceNet, build_model

    gpu = args.device.startswith(("gpu", "cuda"))
    paddle.set_device(args.device.replace("cuda", "gpu") if gpu else "cpu")
    if not gpu:
        paddle.base.core.set_num_threads(args.threads)
    amp = args.amp and gpu
    paddle.seed(0)
    setting = eb.ModelBenchSetting(args.batch)  # SimpleBaseline-R50 + EnhanceNet(L=3, C=128, r=4), 256 x 192
    cfg, n, shapes = setting.cfg, setting.batch, setting.shapes
    images = paddle.randn(list(shapes["images"]))
    f_lr = paddle.randn(list(shapes["f_lr"]))
    m_lr = paddle.randn(list(shapes["m_lr"]))
    targets = {"lr": paddle.rand(list(shapes["t_lr"])), "hr": paddle.rand(list(shapes["t_hr"]))}

    head = EnhanceNet(cfg.head, setting.feature_channels, cfg.num_keypoints)
    base = build_model(setting.base_cfg)
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
        "batch": n, "threads": args.threads, "input_hw": list(setting.input_hw), "engine": "dygraph", "cases": {},
    }
    scaler = paddle.amp.GradScaler(enable=amp)

    predictors: dict[int, Any] = {}
    if args.engine == "inference" and not gpu:
        results["engine"] = "inference"
        for model, inputs in cases.values():
            predictors[id(model)] = _inference_forward(model, inputs, args.threads)

    def forward(model: Any, inputs: tuple) -> None:
        if id(model) in predictors:
            predictors[id(model)]()
            return
        model.eval()
        with paddle.no_grad(), paddle.amp.auto_cast(enable=amp):
            model(*inputs)

    def train_step(model: Any, inputs: tuple, optimizer: Any) -> None:
        model.train()
        optimizer.clear_grad(set_to_zero=False)
        with paddle.amp.auto_cast(enable=amp):
            out = model(*inputs)
        scaled = scaler.scale(loss_of(out))
        scaled.backward()
        scaler.step(optimizer)
        scaler.update()

    hooks = eb.BenchHooks(count_flops=count_flops, forward=forward,
                          optimizer=lambda model: paddle.optimizer.Adam(learning_rate=1e-3, parameters=model.parameters()),
                          train_step=train_step, sync=lambda: _sync(gpu))
    return results | eb.measure_cases(setting, cases, hooks, args.warmup, args.repeats)


def main(argv: list[str] | None = None) -> None:
    parser = eb.model_bench_parser(__doc__.splitlines()[0], device_help="cpu or gpu[:i]",
                                amp_help="float16 auto_cast + GradScaler (GPU only)")
    parser.add_argument("--engine", choices=("dygraph", "inference"), default="dygraph",
                        help="forwards in dygraph, or through Paddle Inference with oneDNN (CPU)")
    args = parser.parse_args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # before Paddle is imported
    os.environ["MKL_NUM_THREADS"] = str(args.threads)
    eb.report(bench(args), ("paddle", "device", "amp", "batch", "threads", "engine"), args.json)


if __name__ == "__main__":
    main()
