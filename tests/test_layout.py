"""The package shows the flow: each folder imports only from the folders below it in the
flow, modules import each other without cycles, and no function-local import dodges one
(the one exception is the recorded-action reader, imported on call by the oracles only)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: the flow, bottom first: a module may import from its own folder and the ones before it
LAYERS = ("lfo.data", "lfo.envs", "lfo.demonstrations", "lfo.algorithms", "encoders",
          "lfo.shifts", "lfo.loop", "lfo.scaling", "lfo.analysis", "lfo.testing", "lfo.cli")

#: imported inside functions on purpose: the learning path must be able to run without it
CALL_TIME_ONLY = {"lfo.demonstrations.labels"}


def _modules() -> dict[str, Path]:
    mods = {}
    for top in ("lfo", "encoders"):
        for path in (ROOT / top).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join(parts)] = path
    return mods


def _project(name: str | None) -> bool:
    return bool(name) and name.split(".")[0] in ("lfo", "encoders")


def _imports(tree: ast.AST, mods: dict[str, Path]) -> set[str]:
    """Project modules named by the import statements directly in ``tree``'s body."""
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and _project(node.module):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in mods else node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if _project(a.name))
    return {m for m in found if m in mods}


def _layer(module: str) -> int:
    for i, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            return i
    return -1  # the package roots (lfo, encoders/__init__) sit with their own folder


def test_every_module_belongs_to_a_layer():
    loose = [m for m in _modules() if _layer(m) < 0 and m not in ("lfo", "encoders")]
    assert not loose, f"modules outside the documented folders: {loose}"


def test_no_folder_imports_one_above_it_in_the_flow():
    mods = _modules()
    upward = []
    for name, path in mods.items():
        for dep in _imports(ast.parse(path.read_text()), mods):
            if _layer(dep) > max(_layer(name), 0):
                upward.append(f"{name} -> {dep}")
    assert not upward, upward


def test_module_imports_have_no_cycle():
    mods = _modules()
    graph = {name: _imports(ast.parse(path.read_text()), mods) for name, path in mods.items()}
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in graph[node]:
            if state.get(dep) == 1:
                raise AssertionError("import cycle: " + " -> ".join(path + [node, dep]))
            if dep not in state:
                visit(dep, path + [node])
        state[node] = 2

    for node in graph:
        if node not in state:
            visit(node, [])


def test_no_function_local_import_of_project_modules():
    local = []
    for name, path in _modules().items():
        for fn in ast.walk(ast.parse(path.read_text())):
            if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(fn):
                target = (node.module if isinstance(node, ast.ImportFrom)
                          else node.names[0].name if isinstance(node, ast.Import) else None)
                if _project(target) and target not in CALL_TIME_ONLY:
                    local.append(f"{name}: {target}")
    assert not local, local


def test_the_checker_sees_an_upward_import():
    """The layer rule catches what it is meant to: a data module importing the loop."""
    tree = ast.parse("from lfo.loop.trainer import Trainer\n")
    deps = _imports(tree, _modules())
    assert deps == {"lfo.loop.trainer"}
    assert _layer("lfo.loop.trainer") > _layer("lfo.data.video")
