"""The README code blocks marked ``<!-- tested: ... -->`` (enhancenet_runtime.testing_docs): every framework has its
one-call inference example in the top-level README and in its own, each block runs where its framework is installed
and is skipped with the reason elsewhere (each framework's ``test_readme_examples.py`` runs its own blocks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from enhancenet_runtime.testing_docs import DocExample, find_examples, readme_paths, run_example, skip_reason

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = find_examples(readme_paths(ROOT))


def test_every_framework_documents_tested_inference() -> None:
    for fw in ("torch", "paddle", "mindspore"):
        where = {e.path.relative_to(ROOT).as_posix() for e in EXAMPLES if e.framework == fw}
        assert f"packages/{fw}-impl/README.md" in where, fw
        blocks = [e for e in EXAMPLES if e.framework == fw]
        assert all(f"from enhancenet_{fw} import inference_topdown, init_model" in e.code for e in blocks)
        assert all(len(e.code.strip().splitlines()) <= 6 for e in blocks)  # the 5-line example (+ blank line)
    assert any(e.path == ROOT / "README.md" for e in EXAMPLES)


def test_markers_are_checked(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("<!-- tested: framework=jax -->\n```python\nprint(1)\n```\n")
    with pytest.raises(ValueError, match="framework='jax'"):
        find_examples([readme])
    readme.write_text("<!-- tested: framework=none -->\n```bash\nls\n```\n")
    with pytest.raises(ValueError, match="python block"):
        find_examples([readme])
    readme.write_text("<!-- tested: framework=none files=w.safetensors -->\n```python\nprint(1)\n```\n")
    with pytest.raises(ValueError, match="config="):
        find_examples([readme])
    readme.write_text("<!-- tested: framework=none -->\n```python\nraise SystemExit('boom')\n```\n")
    (example,) = find_examples([readme])
    assert example.line == 2 and skip_reason(example) is None
    with pytest.raises(AssertionError, match="boom"):  # a failing block fails the test
        run_example(example, tmp_path)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.name)
def test_readme_example_runs(example: DocExample, tmp_path: Path) -> None:
    reason = skip_reason(example)
    if reason:
        pytest.skip(reason)
    out = run_example(example, tmp_path).stdout
    assert out.strip(), f"{example.name} printed nothing"
