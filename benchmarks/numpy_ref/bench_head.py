"""EnhanceNet head forward: numpy-ref vs PyTorch on the CPU, measured in the same run.

Paper setting (Sec. 4): batch 8, F^LR 256x64x48, M^LR 17x64x48, L=3, C=128, r=4, sub-pixel 3x3, float32.
Both use the same canonical weights (numpy-ref's ``init_weights``) and the same number of threads; the
torch side is ``torch.nn.functional`` (conv2d, relu, pixel_shuffle), so this measures the op libraries,
not a model class. The two run alternately ``--repeat`` times; prints the median times and the median, min
and max of the per-pair ratio numpy / torch (aim: <= 1.4, issue 15).

    python benchmarks/numpy_ref/bench_head.py [--threads 2] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)  # before NumPy / torch load their BLAS

    import numpy as np
    import torch
    import torch.nn.functional as F

    from enhancenet_core.config import EnhanceNetConfig, ModelConfig
    from enhancenet_numpy.head import head_forward
    from enhancenet_numpy.weights import init_weights

    torch.set_num_threads(args.threads)
    cfg = ModelConfig(head=EnhanceNetConfig(channels=128, upscale=4, num_layers=3), num_keypoints=17)
    params = init_weights(cfg, 0, np.float32, feature_channels=256)
    rng = np.random.default_rng(0)
    f = rng.standard_normal((args.batch, 256, 64, 48), dtype=np.float32)
    m = rng.random((args.batch, 17, 64, 48), dtype=np.float32)
    tp = {k: torch.from_numpy(v) for k, v in params.items()}
    tf, tm = torch.from_numpy(f), torch.from_numpy(m)

    def run_numpy():
        return head_forward(params, f, m, cfg.head)

    def run_torch():
        with torch.inference_mode():
            x = torch.cat([tf, tm], 1)
            x = F.relu(F.conv2d(x, tp["enhance.convs.0.weight"], tp["enhance.convs.0.bias"]))
            x = F.relu(F.conv2d(x, tp["enhance.convs.1.weight"], tp["enhance.convs.1.bias"], padding=1))
            x = F.conv2d(x, tp["enhance.upsample.weight"], tp["enhance.upsample.bias"], padding=1)
            return F.pixel_shuffle(x, 4)

    out_np, out_t = run_numpy(), run_torch().numpy()  # warm-up and agreement check
    err = float(np.abs(out_np - out_t).max() / np.abs(out_t).max())
    if err > 1e-5:
        print(f"numpy-ref and torch disagree: max abs diff / max abs = {err:.2e}", file=sys.stderr)
        return 1

    t_np, t_torch = [], []
    for _ in range(args.repeat):  # interleaved, so a change in machine load hits both sides alike
        for fn, times in ((run_numpy, t_np), (run_torch, t_torch)):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    ratios = sorted(a / b for a, b in zip(t_np, t_torch, strict=True))
    print(f"EnhanceNet head forward, batch {args.batch}, F 256x64x48 + M 17x64x48, C=128, r=4, float32, {args.threads} threads")
    print(f"  numpy-ref (numpy {np.__version__}): {statistics.median(t_np) * 1e3:8.1f} ms (median of {args.repeat})")
    print(f"  torch {torch.__version__} CPU:      {statistics.median(t_torch) * 1e3:8.1f} ms")
    print(f"  ratio numpy/torch per interleaved pair: median {statistics.median(ratios):.2f}x "
          f"[min {ratios[0]:.2f} - max {ratios[-1]:.2f}]   (outputs agree to {err:.1e} of scale)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
