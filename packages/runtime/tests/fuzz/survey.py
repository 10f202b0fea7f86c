"""Survey a fuzz module damage by damage (the tests stop at a strategy's first bad refusal; this does not).

    PYTHONPATH=... python packages/runtime/tests/fuzz/survey.py test_fuzz_coco [EXAMPLES]

Prints ``OK`` or ``FAIL`` with the first bad refusal for every damage of the module's ``SURVEY`` tables; run it in
the environment of the module (the torch one for packages/torch-impl/tests/fuzz, with that directory on sys.path).
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent))


def _one(runner, damage: str, examples: int):
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def one(data) -> None:
        runner(damage, data)

    return one


def survey(module_name: str, examples: int = 8) -> int:
    mod = importlib.import_module(module_name)
    failed = 0
    for table_name, (table, runner) in mod.SURVEY.items():
        for damage in sorted(table):
            try:
                _one(runner, damage, examples)()
                print(f"OK   {table_name}: {damage}")
            except Exception as exc:  # a failed refusal: print its first line and go on
                failed += 1
                print(f"FAIL {table_name}: {damage}: {str(exc).splitlines()[0][:300]}")
    return failed


if __name__ == "__main__":
    sys.exit(1 if survey(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 8) else 0)
