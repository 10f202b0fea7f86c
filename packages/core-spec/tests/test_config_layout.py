"""Layout of the config package: small modules, no import cycle in the spec, every former name importable."""

from __future__ import annotations

import ast
from pathlib import Path

import enhancenet_core
import enhancenet_core.config as config_pkg

SRC = Path(enhancenet_core.__file__).parent

#: ``from enhancenet_core.config import X`` for every X the single-module config exported, plus the names the
#: repository imports from it.
FORMER_NAMES = [
    "COCO_FLIP_PAIRS", "MPII_FLIP_PAIRS", "AugmentationConfig", "BaseModelConfig", "Config", "ConfigError",
    "DataConfig", "EnhanceNetConfig", "LossConfig", "ModelConfig", "TargetConfig", "TestConfig", "TrainConfig",
    "base_model_stride", "config_from_dict", "config_json_schema", "config_to_dict", "list_shipped_configs",
    "load_config", "load_config_dict", "override", "required_input_multiple", "save_config",
    "shipped_config_path", "validate_config", "_atomic_write_text", "_check_rules", "_dataclass_from_dict",
]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Every enhancenet_core module -> the enhancenet_core modules it imports anywhere (TYPE_CHECKING and
    function bodies included)."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("enhancenet_core"):
                deps.add(node.module)
                deps.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules)
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name.startswith("enhancenet_core"))
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep):], dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_former_names_import_from_the_package() -> None:
    missing = [name for name in FORMER_NAMES if not hasattr(config_pkg, name)]
    assert not missing
    assert set(config_pkg.__all__) >= {n for n in FORMER_NAMES if not n.startswith("_")}


def test_modules_are_small() -> None:
    for path in [*sorted((SRC / "config").glob("*.py")), SRC / "architecture.py", SRC / "complexity.py"]:
        lines = len(path.read_text(encoding="utf-8").splitlines())
        assert lines <= 500, f"{path.name}: {lines} lines"


def test_no_import_cycle_in_the_spec() -> None:
    graph = _imports()
    assert "enhancenet_core.config.rules" in graph["enhancenet_core.config"]  # the scan sees package imports
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_architecture_is_below_the_config() -> None:
    graph = _imports()
    assert not {d for d in graph["enhancenet_core.architecture"] if d.startswith("enhancenet_core.config")}
    assert "enhancenet_core.architecture" in graph["enhancenet_core.config.rules"]


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_architecture_facts() -> None:
    from enhancenet_core.architecture import (
        base_model_stride,
        head_input_channels,
        required_input_multiple,
        subpixel_channels,
    )
    from enhancenet_core.config import BaseModelConfig
    from enhancenet_core.conventions import BaseModelName, HeadInput

    assert subpixel_channels(17, 4) == 272  # Eq. 4: w_L has K*r^2 filters
    assert head_input_channels(HeadInput.BOTH, 256, 17) == 273  # Eq. 1: [F^LR, M^LR]
    assert required_input_multiple("hourglass") == 64 == required_input_multiple(BaseModelName.HOURGLASS)
    assert required_input_multiple(BaseModelConfig(name=BaseModelName.HRNET)) == 32
    assert base_model_stride(BaseModelConfig(num_deconv_layers=2)) == 8
