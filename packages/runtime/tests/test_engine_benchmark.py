"""enhancenet_runtime.engine.benchmark: the framework-free part of the model benchmarks (setting and shapes, options,
convolution multiply-adds, timing with a fake clock, the measurement with fake framework hooks, JSON fields, the
printed table, the JSON file, no framework or NumPy on import)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from enhancenet_core.complexity import head_complexity
from enhancenet_core.config import ModelConfig
from enhancenet_runtime.engine.benchmark import (
    CASES,
    PAPER_HEAD_GFLOPS,
    BenchHooks,
    ModelBenchSetting,
    call_then_remove,
    case_results,
    conv_macs,
    head_overhead,
    header_line,
    measure_cases,
    model_bench_parser,
    report,
    report_lines,
    time_first_and_median,
    time_interleaved,
    timing_fields,
    write_json,
)


class FakeClock:
    """A clock that only moves when a benchmarked function says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_setting_is_the_paper_coco_setting() -> None:
    s = ModelBenchSetting(3)
    assert s.input_hw == (256, 192)
    assert s.feature_channels == 256
    assert s.shapes == {
        "images": (3, 3, 256, 192),
        "f_lr": (3, 256, 64, 48),
        "m_lr": (3, 17, 64, 48),
        "t_lr": (3, 17, 64, 48),
        "t_hr": (3, 17, 256, 192),
    }
    assert list(s.shapes) == ["images", "f_lr", "m_lr", "t_lr", "t_hr"]  # the order the scripts draw them in
    assert s.cfg.head.enabled and not s.base_cfg.head.enabled
    assert s.base_cfg.base == s.cfg.base
    assert s.head_gflops_spec() == head_complexity(ModelConfig(), 256).gflops
    assert s.head_gflops_spec() == pytest.approx(PAPER_HEAD_GFLOPS, abs=0.005)


def test_setting_rejects_an_empty_batch() -> None:
    with pytest.raises(ValueError, match="batch"):
        ModelBenchSetting(0)


def test_parser_shared_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    args = model_bench_parser("d").parse_args([])
    assert vars(args) == {"batch": 4, "repeats": 5, "warmup": 1, "threads": 3, "json": None}
    parser = model_bench_parser("d", device_help="cpu or cuda", amp_help="autocast")
    args = parser.parse_args(["--device", "cuda", "--amp", "--batch", "2", "--json", "x/r.json"])
    assert (args.device, args.amp, args.batch, args.json) == ("cuda", True, 2, Path("x/r.json"))
    assert parser.parse_args([]).device == "cpu" and not parser.parse_args([]).amp
    with pytest.raises(SystemExit):
        model_bench_parser("d").parse_args(["--amp"])  # no --amp unless the script has one


def test_conv_macs_counts_what_is_performed_or_as_the_paper_counts() -> None:
    # 3x3 convolution, 8 -> 16 channels, groups 2, batch 2, 10x12 output: 2*16*10*12 outputs of 4*9 MACs each
    assert conv_macs(False, 2 * 8 * 10 * 12, 2 * 16 * 10 * 12, 4, 8, 9) == 2 * 16 * 10 * 12 * 4 * 9
    assert conv_macs(False, 1, 2 * 16 * 10 * 12, 4, 8, 9, deconv_as_paper=True) == 2 * 16 * 10 * 12 * 4 * 9
    # 4x4 transposed convolution, stride 2, 256 -> 17 channels, 8x6 -> 16x12: every input pixel scatters into
    # C_out k^2 outputs (performed); the paper counts H_out W_out C_in C_out k^2, 4x as many here (stride^2)
    performed = conv_macs(True, 256 * 8 * 6, 17 * 16 * 12, 256, 17, 16)
    as_paper = conv_macs(True, 256 * 8 * 6, 17 * 16 * 12, 256, 17, 16, deconv_as_paper=True)
    assert performed == 8 * 6 * 256 * 17 * 16
    assert as_paper == 16 * 12 * 256 * 17 * 16 == 4 * performed


def test_call_then_remove_removes_the_hooks_also_on_error() -> None:
    class Handle:
        removed = 0

        def remove(self) -> None:
            self.removed += 1

    handles = [Handle(), Handle()]
    calls = []
    call_then_remove(handles, lambda: calls.append(1))
    assert calls == [1] and [h.removed for h in handles] == [1, 1]

    def boom() -> None:
        raise RuntimeError("forward failed")

    with pytest.raises(RuntimeError, match="forward failed"):
        call_then_remove(handles, boom)
    assert [h.removed for h in handles] == [2, 2]


def test_time_interleaved_round_robin_medians_and_untimed_warmup() -> None:
    clock = FakeClock()
    calls: list[str] = []
    syncs: list[str] = []
    cost = {"a": [9.0, 1.0, 3.0, 2.0], "b": [9.0, 5.0, 7.0, 6.0]}  # first entry: the warm-up call

    def make(name: str):
        def fn() -> None:
            calls.append(name)
            clock.now += cost[name][sum(c == name for c in calls) - 1]

        return fn

    def sync() -> None:
        syncs.append(calls[-1] if calls else "")
        clock.now += 0.5  # waiting for the device is part of the timed call

    out = time_interleaved({"a": make("a"), "b": make("b")}, sync, warmup=1, repeats=3, clock=clock)
    assert calls == ["a", "b", "a", "b", "a", "b", "a", "b"]  # warm-up, then one call of each per round
    assert len(syncs) == 1 + 6
    assert list(out) == ["a", "b"]
    assert out["a"] == pytest.approx(2.5)  # median of 1.5, 3.5, 2.5: the warm-up's 9 is not counted
    assert out["b"] == pytest.approx(6.5)


def test_time_first_and_median() -> None:
    clock = FakeClock()
    costs = iter([30.0, 8.0, 8.0, 4.0, 1.0, 2.0])
    n = 0

    def fn() -> None:
        nonlocal n
        n += 1
        clock.now += next(costs)

    first, median = time_first_and_median(fn, warmup=3, repeats=3, clock=clock)
    assert n == 6  # the first call counts as one of the three warm-up calls
    assert first == 30.0
    assert median == 2.0
    n = 0
    costs = iter([5.0, 1.0])
    assert time_first_and_median(fn, warmup=0, repeats=1, clock=clock) == (5.0, 1.0)


def test_timing_fields_order_and_values() -> None:
    f = timing_fields(4, 0.02, 0.5)
    assert list(f) == ["forward_ms", "forward_images_per_s", "train_step_ms", "train_images_per_s"]
    assert f["forward_ms"] == pytest.approx(20.0) and f["forward_images_per_s"] == pytest.approx(200.0)
    assert f["train_step_ms"] == pytest.approx(500.0) and f["train_images_per_s"] == pytest.approx(8.0)
    g = timing_fields(4, 0.02, 0.5, forward_first_s=3.0, train_first_s=7.0)
    assert list(g) == ["forward_ms", "forward_images_per_s", "forward_first_call_s", "train_step_ms",
                       "train_images_per_s", "train_first_call_s"]
    assert (g["forward_first_call_s"], g["train_first_call_s"]) == (3.0, 7.0)


def _cases() -> dict[str, dict[str, float]]:
    flops = {"head": (1_500_000_000, 1_500_000_000), "base": (5_000_000_000, 9_000_000_000),
             "base+head": (6_500_000_000, 10_500_000_000)}
    return case_results(2, flops, {"head": 0.01, "base": 0.04, "base+head": 0.05},
                        {"head": 0.1, "base": 0.4, "base+head": 0.6})


def test_case_results_and_head_overhead_with_flops() -> None:
    cases = _cases()
    assert tuple(cases) == CASES
    assert list(cases["base"]) == ["gflops_per_image", "gflops_per_image_deconv_as_paper", "forward_ms",
                                   "forward_images_per_s", "train_step_ms", "train_images_per_s"]
    assert cases["base"]["gflops_per_image"] == 5.0 and cases["base"]["gflops_per_image_deconv_as_paper"] == 9.0
    assert cases["head"]["forward_images_per_s"] == pytest.approx(200.0)
    o = head_overhead(cases, 1.523)
    assert list(o) == ["forward_time", "train_time", "flops", "head_gflops_measured", "head_gflops_spec",
                       "head_gflops_paper", "base_gflops_measured", "base_gflops_deconv_as_paper"]
    assert o["forward_time"] == pytest.approx(0.25)
    assert o["train_time"] == pytest.approx(0.5)
    assert o["flops"] == pytest.approx(0.3)
    assert (o["head_gflops_measured"], o["head_gflops_spec"], o["head_gflops_paper"]) == (1.5, 1.523, 1.52)
    assert (o["base_gflops_measured"], o["base_gflops_deconv_as_paper"]) == (5.0, 9.0)


def test_head_overhead_without_flops() -> None:
    cases = {name: timing_fields(1, t, 10 * t, 1.0, 2.0) for name, t in zip(CASES, (0.1, 0.2, 0.3), strict=True)}
    o = head_overhead(cases, 1.5)
    assert list(o) == ["forward_time", "train_time", "head_gflops_spec", "head_gflops_paper"]
    assert o["forward_time"] == pytest.approx(0.5) and o["train_time"] == pytest.approx(0.5)


def test_measure_cases_with_fake_framework_hooks(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = FakeClock()
    monkeypatch.setattr("enhancenet_runtime.engine.benchmark.time.perf_counter", clock)
    log: list[tuple] = []
    cost = {"head": 0.01, "base": 0.04, "base+head": 0.05}  # seconds per forward; a training step costs 10x

    def count_flops(model: str, *inputs: str, deconv_as_paper: bool = False) -> int:
        log.append(("flops", model, inputs, deconv_as_paper))
        return {"head": 3, "base": 10, "base+head": 13}[model] * 10**9 * (2 if deconv_as_paper else 1)

    def forward(model: str, inputs: tuple) -> None:
        log.append(("forward", model, inputs))
        clock.now += cost[model]

    def train_step(model: str, inputs: tuple, optimizer: str) -> None:
        log.append(("step", model, optimizer))
        clock.now += 10 * cost[model]

    hooks = BenchHooks(count_flops=count_flops, forward=forward, optimizer=lambda model: f"adam({model})",
                       train_step=train_step, sync=lambda: log.append(("sync",)))
    cases = {"head": ("head", ("f", "m")), "base": ("base", ("x",)), "base+head": ("base+head", ("x",))}
    out = measure_cases(ModelBenchSetting(2), cases, hooks, warmup=1, repeats=3)

    assert log[:2] == [("flops", "head", ("f", "m"), False), ("flops", "head", ("f", "m"), True)]
    forwards = [e for e in log if e[0] == "forward"]
    steps = [e for e in log if e[0] == "step"]
    assert len(forwards) == len(steps) == 3 * (1 + 3)
    assert forwards[0] == ("forward", "head", ("f", "m"))
    assert {e[2] for e in steps if e[1] == "base"} == {"adam(base)"}  # one optimizer per case
    assert log.index(forwards[-1]) < log.index(steps[0])  # all forwards are timed before any training step
    assert list(out) == ["cases", "head_overhead"]
    c = out["cases"]
    assert list(c) == list(CASES)
    assert c["base"]["forward_ms"] == pytest.approx(40.0)
    assert c["base+head"]["train_step_ms"] == pytest.approx(500.0)
    assert c["head"]["gflops_per_image"] == 3.0 and c["head"]["gflops_per_image_deconv_as_paper"] == 6.0
    assert c["head"]["train_images_per_s"] == pytest.approx(20.0)
    o = out["head_overhead"]
    assert o["forward_time"] == pytest.approx(0.25) and o["train_time"] == pytest.approx(0.25)
    assert o["flops"] == pytest.approx(0.3)
    assert o["head_gflops_spec"] == ModelBenchSetting(2).head_gflops_spec()


def test_header_line() -> None:
    results = {"framework": "x", "device": "cpu", "amp": False, "batch": 4, "threads": 2, "torch": "2.13.0",
               "input_hw": [256, 192]}
    assert (header_line(results, ("device", "amp", "batch", "threads", "torch"))
            == "device cpu  amp False  batch 4  threads 2  torch 2.13.0  input 256x192")
    assert header_line(results, ()) == "input 256x192"


def test_report_lines() -> None:
    cases = _cases()
    lines = report_lines({"cases": cases, "head_overhead": head_overhead(cases, 1.523)})
    assert lines == [
        "case       GFLOPs/img    fwd ms  fwd img/s  train ms train img/s",
        "head             1.50      10.0     200.00     100.0       20.00",
        "base             5.00      40.0      50.00     400.0        5.00",
        "base+head        6.50      50.0      40.00     600.0        3.33",
        "head overhead: forward time +25.0%, training step +50.0%, FLOPs +30.0%",
        "head GFLOPs: measured 1.500, enhancenet_core.complexity 1.523, paper 1.52; base model 5.00 "
        "(9.00 with deconvolutions counted as the paper counts them)",
    ]
    assert len({len(line) for line in lines[:4]}) == 1  # columns line up under the header


def test_report_prints_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cases = _cases()
    results = {"device": "cpu", "batch": 2, "input_hw": [256, 192], "cases": cases,
               "head_overhead": head_overhead(cases, 1.523)}
    report(results, ("device", "batch"), None)
    printed = capsys.readouterr().out.splitlines()
    assert printed == ["device cpu  batch 2  input 256x192", *report_lines(results)]
    assert list(tmp_path.iterdir()) == []
    report(results, ("device",), tmp_path / "r.json")
    assert capsys.readouterr().out.splitlines()[0] == "device cpu  input 256x192"
    assert json.loads((tmp_path / "r.json").read_text()) == results


def test_write_json_is_indented_and_atomic(tmp_path: Path) -> None:
    results = {"framework": "x", "cases": _cases(), "input_hw": [256, 192]}
    path = tmp_path / "sub" / "r.json"
    assert write_json(path, results) == path
    assert path.read_text() == json.dumps(results, indent=2) + "\n"
    assert json.loads(path.read_text()) == results
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temporary left behind


def test_import_loads_no_framework_and_no_numpy() -> None:
    code = ("import sys, enhancenet_runtime.engine.benchmark; "
            "print(sorted({'numpy', 'torch', 'paddle', 'mindspore'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
