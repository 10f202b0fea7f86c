"""The publish gate's re-run: ``python -m conformance.spotcheck --case head_L2 --impl torch [--impl ...]``.

Runs exactly what ``test_golden.test_head`` measures for one golden head case (float32 forward vs the float64
golden output, tolerance HEAD_RTOL x max(1, max |ref|)) and prints one JSON line per implementation:
``{"check", "implementation", "max_error", "tolerance"}``. Exit 2 (one line on stderr) when the case or an
adapter is not available in this interpreter. ``enhancenet_runtime.gate_evidence.spot_check`` runs it in each
framework's own interpreter and compares the numbers with the report.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from conformance._common import GOLDEN, HEAD_RTOL, case_config, golden, manifest, scaled_error
from conformance.adapters import ADAPTERS, load_adapter
from enhancenet_numpy.weights import load_weights


def measure(impl_key: str, case: str) -> dict:
    entry = manifest()["cases"][case]
    tensors, _ = golden(case)
    cfg = case_config(case)
    params = load_weights(GOLDEN / entry["weights_file"], cfg, int(entry["feature_channels"]))
    impl = load_adapter(impl_key)
    out = impl.head_forward(params, cfg, tensors["input.F"], tensors["input.M"], np.float32)
    err, scale = scaled_error(out, tensors["output.M_HR"])
    return {"check": f"golden.head.{case}", "implementation": impl_key, "max_error": err,
            "tolerance": HEAD_RTOL * scale}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m conformance.spotcheck")
    parser.add_argument("--case", required=True, help="a golden head case (conformance/golden/data/manifest.json)")
    parser.add_argument("--impl", action="append", required=True, choices=list(ADAPTERS))
    args = parser.parse_args(argv)
    entry = manifest()["cases"].get(args.case)
    if entry is None or entry.get("kind") != "head":
        print(f"spotcheck: error: {args.case!r} is not a golden head case", file=sys.stderr)
        return 2
    for key in args.impl:
        try:
            row = measure(key, args.case)
        except ImportError as exc:
            print(f"spotcheck: error: {key}: {exc}", file=sys.stderr)
            return 2
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
