"""The project's shape: no import cycle between the library's modules, counting imports
inside functions (a cycle hidden by a function-local import still couples the two
modules); no module over 400 lines and no function over 80; workflow scripts read their
rule's params and inputs, never the config."""

import ast
from pathlib import Path

from workflow_helpers import ROOT

PACKAGE = ROOT / "src" / "grpo_difficulty"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def library_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The library modules `name` imports anywhere in its file: `from pkg import x` counts
    as an import of the submodule pkg.x where x is one, else of pkg; relative imports are
    resolved against the module's package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            target = ".".join([*base, *([node.module] if node.module else [])])
            found |= {f"{target}.{a.name}" if f"{target}.{a.name}" in modules else target for a in node.names}
    return {module for module in found if module in modules and module != name}


def import_graph() -> dict[str, set[str]]:
    modules = library_modules()
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as [a, b, ..., a], or None (depth-first search)."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_import_graph_is_read_as_python_resolves_it(tmp_path):
    source = tmp_path / "stage.py"
    source.write_text(
        "from . import tasks, helper\n"  # a submodule, and a name defined in the package
        "from ..top import thing\n"  # a name from a module two levels up
        "import numpy\n"  # not the library's
        "def late():\n    from .config.sections import Config\n"  # inside a function
    )
    modules = dict.fromkeys(["pkg", "pkg.sub", "pkg.sub.tasks", "pkg.top", "pkg.sub.config.sections"])
    found = imported_modules("pkg.sub.stage", source, modules)
    assert found == {"pkg.sub.tasks", "pkg.sub", "pkg.top", "pkg.sub.config.sections"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle_in_the_library():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_config_sections_are_a_leaf_and_tasks_imports_only_them():
    graph = import_graph()
    assert graph["grpo_difficulty.config.sections"] == set()
    config = {name for name in graph if name.startswith("grpo_difficulty.config")}
    used_by_tasks = {dep for name, deps in graph.items() if name.startswith("grpo_difficulty.tasks") for dep in deps}
    assert used_by_tasks & config == {"grpo_difficulty.config.sections"}


def config_reads(path: Path) -> list[str]:
    """Where a workflow script reads `snakemake.config`, as file:line."""
    return [
        f"{path.name}:{node.lineno}"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.Attribute)
        and node.attr == "config"
        and isinstance(node.value, ast.Name)
        and node.value.id == "snakemake"
    ]


def test_scripts_read_their_rule_params_not_the_config(tmp_path):
    """Snakemake reruns a job when its params or inputs change: a value a script read from
    the config itself could change its output without a rerun."""
    bad = tmp_path / "bad.py"
    bad.write_text("cfg = snakemake.config['probe']\n")
    assert config_reads(bad) == ["bad.py:1"]
    scripts = sorted((ROOT / "workflow" / "scripts").glob("*.py"))
    assert scripts
    reads = [where for path in scripts for where in config_reads(path)]
    assert not reads, f"scripts read snakemake.config (pass the value as a rule param): {reads}"


MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 80


def oversized(name: str, path: Path) -> list[str]:
    """What in one module is over the size limits: the module itself, or a function."""
    text = path.read_text()
    lines = len(text.splitlines())
    found = [f"{name}: {lines} lines"] if lines > MAX_MODULE_LINES else []
    for node in ast.walk(ast.parse(text, str(path))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{name}.{node.name} (line {node.lineno}): {length} lines")
    return found


def test_no_module_over_400_lines_and_no_function_over_80():
    too_big = [where for name, path in library_modules().items() for where in oversized(name, path)]
    assert not too_big, f"over {MAX_MODULE_LINES} lines a module or {MAX_FUNCTION_LINES} a function: {too_big}"
