"""The README blocks marked ``<!-- tested: framework=paddle ... -->`` (top-level README and this package's), run in
this virtualenv (enhancenet_runtime.testing_docs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from enhancenet_runtime.testing_docs import DocExample, find_examples, readme_paths, run_example

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = [e for e in find_examples(readme_paths(ROOT)) if e.framework == "paddle"]


def test_there_are_examples() -> None:
    assert any(e.path.parent.name == "paddle-impl" for e in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_readme_example_runs(example: DocExample, tmp_path: Path) -> None:
    pytest.importorskip("paddle", reason="the block needs paddle")
    out = run_example(example, tmp_path).stdout
    assert out.count("[") >= 17, out[-500:]  # a (17, 2) keypoint array was printed
