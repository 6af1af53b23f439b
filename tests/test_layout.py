"""The house's one rule: a module imports only from its own level or below, and no import comes back round."""

from __future__ import annotations

import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import tasks
from flows.archive import STAGE_ORDER
from tests.helpers import REPO

# Lowest first. The stage modules are the top of `tasks`: one per stage, and the per-article stage's package.
LEVELS = (
    ("core", ("tasks.core", "tasks.synth")),
    ("runtime and storage", ("tasks.runtime", "tasks.storage")),
    ("stages", ("tasks",)),
    ("entry points", ("flows",)),
    ("benchmarks", ("bench",)),
)


def module_name(path: Path) -> str:
    name = ".".join(path.relative_to(REPO).with_suffix("").parts)
    return name.removesuffix(".__init__")


def level_of(module: str) -> int:
    """The level of a module: the longest package prefix that names it."""
    best, found = -1, -1
    for level, (_, packages) in enumerate(LEVELS):
        for package in packages:
            if (module == package or module.startswith(package + ".")) and len(package) > best:
                best, found = len(package), level
    assert found >= 0, module
    return found


def project_imports(path: Path) -> set[str]:
    """The project modules a file imports, at its top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name for name in found if name.split(".")[0] in ("tasks", "flows", "bench", "tests")}


def code_files(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (REPO / package).rglob("*.py"))


def test_no_module_imports_from_a_level_above_its_own() -> None:
    upward = [
        f"{module_name(path)} ({LEVELS[level_of(module_name(path))][0]}) imports {imported} "
        f"({LEVELS[level_of(imported)][0]})"
        for path in code_files("tasks", "flows", "bench")
        for imported in project_imports(path)
        if not imported.startswith("tests") and level_of(imported) > level_of(module_name(path))
    ]
    assert upward == []


def test_benchmarks_and_the_code_import_nothing_from_the_tests() -> None:
    assert [
        module_name(path)
        for path in code_files("tasks", "flows", "bench")
        if any(name.split(".")[0] == "tests" for name in project_imports(path))
    ] == []


def test_no_import_comes_back_round() -> None:
    graph = {module_name(path): project_imports(path) for path in code_files("tasks", "flows", "bench")}
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as err:
        raise AssertionError(f"import circle: {' -> '.join(err.args[1])}") from err


def test_the_stage_order_is_written_once_and_the_package_docstring_follows_it() -> None:
    assert tasks.__doc__ is not None
    listed = re.findall(r"^\s*\d+\. `([a-z-]+)`", tasks.__doc__, flags=re.MULTILINE)
    assert listed == [stage.name for stage in STAGE_ORDER]


def test_a_stage_the_order_does_not_name_is_refused() -> None:
    from prefect import task

    from tasks.runtime.progress import InProcessStages, UnknownStage

    @task(name="a-stage-of-its-own")
    def stray() -> int:
        return 1

    with pytest.raises(UnknownStage, match="a-stage-of-its-own"):
        InProcessStages(STAGE_ORDER).run(stray)
