"""Conformance plumbing: the ``impl`` fixture (one adapter per implementation) and per-check result records.

Options: ``--impl NAME`` (repeatable; default every adapter key), ``--artifacts DIR`` (default
``conformance/.artifacts``). Every test records ``(check, implementation, max_error, tolerance)`` through the
``record`` fixture; at the end the session writes ``<artifacts>/results-<impls>.json``: one entry per test
with status pass / fail / not run (a skip, with its reason). ``conformance/report.py`` merges those files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("GLOG_v", "3")  # MindSpore: errors only

from conformance.adapters import ADAPTERS, load_adapter

HERE = Path(__file__).resolve().parent
_RESULTS: list[dict[str, Any]] = []
_ADAPTERS: dict[str, Any] = {}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--impl", action="append", default=None, help="implementation(s) to check (default: all)")
    parser.addoption("--artifacts", default=str(HERE / ".artifacts"), help="where results and artifacts go")


def _impls(config: pytest.Config) -> list[str]:
    chosen = config.getoption("--impl") or list(ADAPTERS)
    unknown = [n for n in chosen if n not in ADAPTERS]
    if unknown:
        raise pytest.UsageError(f"--impl: unknown implementation(s) {unknown}; known: {list(ADAPTERS)}")
    return chosen


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "impl" in metafunc.fixturenames:
        metafunc.parametrize("impl", _impls(metafunc.config), indirect=True)


@pytest.fixture(scope="session")
def artifacts_dir(pytestconfig: pytest.Config) -> Path:
    path = Path(pytestconfig.getoption("--artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def impl(request: pytest.FixtureRequest):
    name = request.param
    if name not in _ADAPTERS:
        try:
            _ADAPTERS[name] = load_adapter(name)
        except ImportError as exc:
            _ADAPTERS[name] = exc
    adapter = _ADAPTERS[name]
    if isinstance(adapter, Exception):
        pytest.skip(f"{name}: {adapter}")
    return adapter


@pytest.fixture(scope="session")
def numpy_ref():
    """The numpy-ref adapter (the ground truth), needed by every session."""
    return load_adapter("numpy")


class _Recorder:
    def __init__(self, item: pytest.Item) -> None:
        self.item = item
        self.entries: list[dict[str, Any]] = []

    def __call__(self, check: str, max_error: float | None, tolerance: float | None, detail: str = "") -> bool:
        """Record one measurement; returns whether it is within tolerance (the test still asserts)."""
        ok = max_error is None or tolerance is None or (max_error <= tolerance)
        self.entries.append({"check": check, "max_error": None if max_error is None else float(max_error),
                             "tolerance": None if tolerance is None else float(tolerance), "detail": detail,
                             "within": bool(ok)})
        return ok


@pytest.fixture
def record(request: pytest.FixtureRequest) -> _Recorder:
    rec = _Recorder(request.node)
    request.node._conformance_recorder = rec
    return rec


def _impl_of(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "impl" in callspec.params:
        return str(callspec.params["impl"])
    return "spec"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    rep = outcome.get_result()
    if rep.when == "call" or (rep.when == "setup" and rep.outcome != "passed"):
        rec = getattr(item, "_conformance_recorder", None)
        entries = rec.entries if rec is not None else []
        impl = _impl_of(item)
        base = item.originalname if hasattr(item, "originalname") else item.name
        if rep.skipped:
            reason = rep.longrepr[2] if isinstance(rep.longrepr, tuple) else str(rep.longrepr)
            reason = reason.removeprefix("Skipped: ")
            for e in entries or [{"check": base}]:
                _RESULTS.append({"check": e["check"], "implementation": impl, "status": "not run",
                                 "max_error": None, "tolerance": None, "detail": reason})
            return
        status = "pass" if rep.passed else "fail"
        if not entries:
            _RESULTS.append({"check": item.nodeid.split("::", 1)[-1], "implementation": impl, "status": status,
                             "max_error": None, "tolerance": None,
                             "detail": "" if rep.passed else str(rep.longrepr).splitlines()[-1][:300]})
        for e in entries:
            st = status if (e["within"] or status == "fail") else "fail"
            if rep.failed and e["within"]:
                st = "fail"
            _RESULTS.append({"check": e["check"], "implementation": impl, "status": st,
                             "max_error": e["max_error"], "tolerance": e["tolerance"],
                             "detail": e["detail"] if rep.passed else (e["detail"] + " " + str(rep.longrepr).splitlines()[-1][:300]).strip()})


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _RESULTS or not hasattr(session.config, "getoption"):
        return
    out_dir = Path(session.config.getoption("--artifacts"))
    out_dir.mkdir(parents=True, exist_ok=True)
    versions = {}
    for name, adapter in _ADAPTERS.items():
        versions[name] = adapter.versions() if not isinstance(adapter, Exception) else {"not run": str(adapter)}
    impls = "-".join(_impls(session.config))
    payload = {"implementations": _impls(session.config), "versions": versions, "checks": _RESULTS}
    tmp = out_dir / f".results-{impls}.json.tmp"
    tmp.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    os.replace(tmp, out_dir / f"results-{impls}.json")
