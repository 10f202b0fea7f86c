"""Shared machinery of the fuzz suite: run a CLI's ``main(argv)`` in-process on one bad input and check the refusal.

Every generated input must be refused the same way (issue 14): exit status 2, exactly one line on stderr that
names the file or field at fault, nothing on stdout, and no file in the working directory created, changed or
left behind (an existing output file keeps its bytes). :data:`TALLY` counts the inputs per class; the
``fuzz`` conftest prints it at the end of the session.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import signal
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from hypothesis import HealthCheck, Phase, settings

#: input class -> [inputs fed, inputs refused cleanly]
TALLY: dict[str, Counter] = {}
#: seconds one CLI call may take on one bad input (a hang is a failure too)
CALL_TIMEOUT_S = int(os.environ.get("ENHANCENET_FUZZ_CALL_TIMEOUT", "20"))
#: examples per strategy (``ENHANCENET_FUZZ_EXAMPLES``): 6 strategies x 60 = 360 bad inputs per run
EXAMPLES = int(os.environ.get("ENHANCENET_FUZZ_EXAMPLES", "60"))

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    # no shrinking: every input is already small, and a refusal that fails is reported as generated
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)


class _Timeout(Exception):
    pass


def _alarm(signum, frame):  # pragma: no cover - only on a hang
    raise _Timeout


def run_cli(main: Callable[[Sequence[str]], int | None], argv: Sequence[str]) -> tuple[object, str, str]:
    """(exit status or a description of the escaped exception, stdout, stderr) of ``main(argv)``."""
    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(CALL_TIMEOUT_S)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code: object = main(list(argv))
                code = 0 if code is None else code
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except _Timeout:
                code = f"no answer within {CALL_TIMEOUT_S} s"
            except Exception as exc:
                code = f"traceback: {type(exc).__name__}: {str(exc)[:300]}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return code, out.getvalue(), err.getvalue()


def snapshot(directory: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``directory``."""
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def assert_refused(
    kind: str,
    main: Callable[[Sequence[str]], int | None],
    argv: Sequence[str],
    workdir: Path,
    names: Iterable[str],
    what: str,
) -> None:
    """Feed one bad input; assert the refusal contract. ``names``: words of which the error line must hold one
    (the file's name, the field); ``what``: the mutation, for the failure message."""
    tally = TALLY.setdefault(kind, Counter())
    tally["fed"] += 1
    before = snapshot(workdir)
    code, out, err = run_cli(main, argv)
    lines = err.strip().splitlines()
    where = f"[{kind}] {what}: argv {list(argv)}"
    assert code == 2, f"{where}: exit {code!r}, expected 2; stderr: {err.strip()[:400]!r}"
    assert len(lines) == 1, f"{where}: expected one line on stderr, got {len(lines)}: {err.strip()[:400]!r}"
    wanted = [n for n in names if n]
    assert any(n.lower() in lines[0].lower() for n in wanted), (
        f"{where}: the error line names none of {wanted}: {lines[0][:300]!r}")
    assert out == "", f"{where}: partial output on stdout: {out[:300]!r}"
    after = snapshot(workdir)
    assert after == before, f"{where}: files changed: {sorted(set(after.items()) ^ set(before.items()))[:5]}"
    tally["refused"] += 1


def dump_json(path: Path, data: object) -> Path:
    """JSON as Python writes it (NaN / Infinity literals kept: exactly what a careless producer emits)."""
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


#: file-level damage applied to any text file (name, function text -> bytes)
def byte_damage() -> dict[str, Callable[[bytes], bytes]]:
    return {
        "empty file": lambda b: b"",
        "truncated": lambda b: b[: max(1, len(b) // 2)],
        "binary garbage": lambda b: bytes(range(256)) * 4,
        "invalid UTF-8": lambda b: b[:10] + b"\xff\xfe\xc3\x28" + b[10:],
        "deeply nested": lambda b: b"[" * 100_000 + b"]" * 100_000,
        "NUL bytes": lambda b: b"\x00" * 64,
    }


def terminal_summary(terminalreporter) -> None:
    """The tally at the end of a session (called from the fuzz suites' conftest files)."""
    if not TALLY:
        return
    fed = sum(c["fed"] for c in TALLY.values())
    ok = sum(c["refused"] for c in TALLY.values())
    terminalreporter.section("fuzz: bad inputs fed through the command lines")
    for kind, c in sorted(TALLY.items()):
        terminalreporter.write_line(f"{kind:<28} {c['fed']:>5} fed, {c['refused']:>5} refused cleanly")
    terminalreporter.write_line(f"{'total':<28} {fed:>5} fed, {ok:>5} refused cleanly "
                                "(a strategy stops at its first bad refusal: see its test)")
