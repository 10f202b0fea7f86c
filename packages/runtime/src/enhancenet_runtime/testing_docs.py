"""Test support: the README code blocks marked as tested, extracted and run (not used by the library).

A block is tested when the line right before its opening fence is a marker comment::

    <!-- tested: framework=torch files=person.jpg,model.safetensors config=coco_simplebaseline_r50_256x192_enhancenet -->
    ```python
    ...
    ```

``framework`` (``torch``, ``paddle``, ``mindspore`` or ``none``) names the package the block needs: it runs only in a
virtualenv where ``enhancenet_<framework>`` imports, and is skipped (with that reason) elsewhere. ``files`` are
created in the block's empty working directory before it runs: an image (``.jpg``, ``.png``: a deterministic test
picture, :func:`enhancenet_runtime.testing_inference.write_test_image`) or canonical weights (``.safetensors``:
random tensors of ``config``'s model). Each block runs in a fresh interpreter (the current one), so a block cannot
lean on another's state. No framework and no pytest import.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["FRAMEWORKS", "DocExample", "find_examples", "prepare_files", "readme_paths", "run_example", "skip_reason"]

FRAMEWORKS = ("torch", "paddle", "mindspore", "none")
_MARKER = re.compile(r"^\s*<!--\s*tested:(?P<body>.*?)-->\s*$")
_FENCE = re.compile(r"^\s*```(?P<lang>\w*)")


@dataclass(frozen=True)
class DocExample:
    """One marked block: where it is, what it needs and its code."""

    path: Path
    line: int  # 1-based line of the opening fence
    framework: str
    code: str
    files: tuple[str, ...] = ()
    config: str | None = None
    options: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.path.parent.name}/{self.path.name}:{self.line}:{self.framework}"


def readme_paths(repo_root: str | Path) -> list[Path]:
    """The top-level README and every package's README."""
    root = Path(repo_root)
    return [root / "README.md", *sorted(root.glob("packages/*/README.md"))]


def _parse(body: str, where: str) -> dict[str, str]:
    out = {}
    for item in body.split():
        key, eq, value = item.partition("=")
        if not eq or not value:
            raise ValueError(f"{where}: marker entry {item!r}: expected key=value")
        out[key] = value
    unknown = sorted(set(out) - {"framework", "files", "config"})
    if unknown:
        raise ValueError(f"{where}: unknown marker keys {unknown} (framework, files, config)")
    if out.get("framework") not in FRAMEWORKS:
        raise ValueError(f"{where}: framework={out.get('framework')!r}: expected one of {', '.join(FRAMEWORKS)}")
    return out


def find_examples(paths: list[Path]) -> list[DocExample]:
    """Every marked block of ``paths``. A marker not followed by a ```python block raises ``ValueError``."""
    found = []
    for path in paths:
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            m = _MARKER.match(line)
            if not m:
                continue
            where = f"{path}:{i + 1}"
            opts = _parse(m.group("body"), where)
            fence = _FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
            if fence is None or fence.group("lang") != "python":
                raise ValueError(f"{where}: a 'tested' marker must be followed by a ```python block")
            end = next((j for j in range(i + 2, len(lines)) if lines[j].strip().startswith("```")), None)
            if end is None:
                raise ValueError(f"{where}: the python block is never closed")
            files = tuple(f for f in opts.get("files", "").split(",") if f)
            if any(f.endswith(".safetensors") for f in files) and "config" not in opts:
                raise ValueError(f"{where}: .safetensors files need config=<the model's config>")
            found.append(DocExample(path, i + 2, opts["framework"], "\n".join(lines[i + 2 : end]) + "\n", files,
                                    opts.get("config"), opts))
    return found


def skip_reason(example: DocExample) -> str | None:
    """Why ``example`` cannot run in this interpreter (its framework package does not import), else ``None``."""
    if example.framework == "none":
        return None
    module = f"enhancenet_{example.framework}"
    if importlib.util.find_spec(module) is None or importlib.util.find_spec(example.framework) is None:
        return f"{example.name}: needs {module} and {example.framework}, not installed in this virtualenv"
    return None


def _random_weights(path: Path, config: str) -> None:
    from enhancenet_core.canonical import save_canonical_arrays
    from enhancenet_core.namemap import TensorKind, parameter_specs
    from enhancenet_runtime.engine.inference import model_config

    model_cfg = model_config(config).model
    rng = np.random.default_rng(0)
    arrays = {}
    for name, spec in parameter_specs(model_cfg).items():
        low, high = (0.5, 1.5) if spec.kind in (TensorKind.BN_WEIGHT, TensorKind.BN_RUNNING_VAR) else (-0.05, 0.05)
        arrays[name] = rng.uniform(low, high, spec.shape).astype(np.float32)
    save_canonical_arrays(path, arrays, model_cfg)


def prepare_files(example: DocExample, directory: str | Path) -> None:
    """Create ``example.files`` in ``directory``."""
    from enhancenet_runtime.testing_inference import write_test_image

    d = Path(directory)
    for name in example.files:
        target = d / name
        if target.suffix.lower() in (".jpg", ".jpeg", ".png"):
            write_test_image(target, 320, 240)
        elif target.suffix == ".safetensors":
            _random_weights(target, example.config or "")
        else:
            raise ValueError(f"{example.name}: cannot make file {name!r} (an image or .safetensors weights)")


def run_example(example: DocExample, directory: str | Path, timeout: float = 600) -> subprocess.CompletedProcess:
    """Prepare the files and run the block with this interpreter in ``directory``; raises ``AssertionError`` with
    its output when it fails."""
    prepare_files(example, directory)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, "-c", example.code], cwd=directory, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise AssertionError(f"{example.name} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr[-3000:]}")
    return proc
