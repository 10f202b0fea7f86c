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

The JSON goes to stdout (last line) and optionally to ``--json``. The framework-free part (setting and shapes,
options, first-call/median timing, JSON fields, JSON file) is ``enhancenet_runtime.engine.benchmark`` (installed with
enhancenet-core), shared with the torch and Paddle scripts.
"""

from __future__ import annotations

import argparse
import json

import mindspore as ms
import numpy as np
from mindspore import nn, ops

from enhancenet_mindspore.models import EnhanceNet, build_model
from enhancenet_runtime.engine import benchmark as eb


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
    setting = eb.ModelBenchSetting(args.batch)  # SimpleBaseline-R50 + EnhanceNet(L=3, C=128, r=4), 256 x 192
    cfg, n = setting.cfg, setting.batch
    rng = np.random.default_rng(0)
    # drawn in the order of ``setting.shapes``: images, f_lr, m_lr, t_lr, t_hr
    images, f_lr, m_lr, t_lr, t_hr = (ms.Tensor(rng.standard_normal(shape).astype(np.float32))
                                      for shape in setting.shapes.values())
    head = EnhanceNet(cfg.head, setting.feature_channels, cfg.num_keypoints)
    base = build_model(setting.base_cfg)
    full = build_model(cfg)
    cases = {
        "head": (head, (f_lr, m_lr), _HeadLoss(head), (f_lr, m_lr, t_lr, t_hr)),
        "base": (base, (images,), _ModelLoss(base), (images, t_lr, t_hr)),
        "base+head": (full, (images,), _ModelLoss(full), (images, t_lr, t_hr)),
    }
    out: dict = {}
    for name, (net, inputs, with_loss, loss_inputs) in cases.items():
        net.set_train(False)
        first_fwd, t_fwd = eb.time_first_and_median(lambda net=net, inputs=inputs: _sync(net(*inputs)), args.warmup,
                                                    args.repeats)
        step = nn.TrainOneStepCell(with_loss, nn.Adam(with_loss.trainable_params(), learning_rate=1e-3))
        step.set_train(True)
        first_train, t_train = eb.time_first_and_median(lambda step=step, li=loss_inputs: step(*li).asnumpy(),
                                                        args.warmup, args.repeats)
        out[name] = eb.timing_fields(n, t_fwd, t_train, forward_first_s=first_fwd, train_first_s=first_train)
    out["head_overhead"] = eb.head_overhead(out, setting.head_gflops_spec())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = eb.model_bench_parser(__doc__.splitlines()[0])
    parser.add_argument("--modes", nargs="+", default=["pynative", "graph"], choices=["pynative", "graph"])
    args = parser.parse_args(argv)
    ms.set_context(device_target="CPU")
    try:
        ms.set_context(runtime_num_threads=args.threads)
    except (TypeError, ValueError, RuntimeError):  # the option moved between MindSpore versions
        pass
    input_hw = list(eb.ModelBenchSetting(args.batch).input_hw)
    results = {"framework": "mindspore", "mindspore": ms.__version__, "device": "cpu", "batch": args.batch,
               "threads": args.threads, "input_hw": input_hw, "repeats": args.repeats, "modes": {}}
    for mode in args.modes:
        results["modes"][mode] = bench_mode(mode, args)
        c = results["modes"][mode]
        for name in eb.CASES:
            print(f"{mode:<9} {name:<10} fwd {c[name]['forward_ms']:8.1f} ms  train {c[name]['train_step_ms']:8.1f} ms"
                  f"  (first calls {c[name]['forward_first_call_s']:.1f} s / {c[name]['train_first_call_s']:.1f} s)",
                  flush=True)
    text = json.dumps(results, indent=None)
    if args.json is not None:
        eb.write_json(args.json, results)
    print(text)


if __name__ == "__main__":
    main()
