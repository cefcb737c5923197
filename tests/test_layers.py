"""The package's imports run one way: no circles, and each layer imports only those below it.

Every import counts, those inside functions too: they hide circles without breaking them."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "inrcodec"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Each inrcodec module -> the inrcodec modules it imports anywhere in its body."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # "from inrcodec import api" imports the module inrcodec.api
                targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                           for alias in node.names]
            else:
                continue
            found |= {t for t in targets if t in modules and t != name}
        graph[name] = found
    return graph


def _circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle, if there is any (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_the_package_has_no_import_circle():
    assert _circle(_imports()) is None


def test_the_circle_finder_finds_a_circle():
    assert _circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]


# Layers from the bottom up; a module may import its own layer and those below.
LAYERS = [
    ("core", ("errors", "signal", "bitstream", "container", "files", "fixed_point", "octree", "metrics",
              "compile_cache")),
    ("modalities", ("modalities",)),
    ("networks", ("inr", "latent_arm", "occupancy")),
    ("training", ("config", "fit", "fit_occupancy", "rate", "quantize", "entropy", "weights")),
    ("codecs", ("codecs",)),
    ("segments", ("segments",)),
    ("api", ("api",)),
    ("cli", ("cli", "__main__")),
]


def _layer(module: str) -> int:
    if module == "inrcodec":
        return len(LAYERS)  # the package's lazy __getattr__ reaches the api
    first = module.split(".")[1]
    return next(i for i, (_, prefixes) in enumerate(LAYERS) if first in prefixes)


def test_every_module_belongs_to_a_layer_and_imports_only_layers_below():
    upward = [f"{module} imports {target}" for module, targets in _imports().items() for target in targets
              if module != "inrcodec" and target != "inrcodec" and _layer(target) > _layer(module)]
    assert upward == []
