"""DVC code dependencies that cannot go stale.

Every stage in ``dvc.yaml`` must list, as a dependency, every ``qml_ops`` module
its script imports, directly or transitively (imports inside functions count:
they run when the stage runs), so that editing any of them marks the stage's
outputs out of date. A dependency on a folder covers the modules inside it.

The import closure is computed from the source (``ast``), not by importing, so
the test is fast and sees lazy imports too.
"""

from __future__ import annotations

import ast
import shlex
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from conftest import REPO

PACKAGE = "qml_ops"


def module_file(name: str) -> Path | None:
    """The source file of module ``name`` (``a.b`` -> a/b.py or a/b/__init__.py), if in the repository."""
    base = REPO.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _absolute(node: ast.ImportFrom, current: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_type_checking(node: ast.AST) -> bool:
    """``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``): imports for type checkers only, never run."""
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"))


def _walk_run_time(node: ast.AST):
    """``ast.walk`` without the bodies of ``if TYPE_CHECKING:`` blocks."""
    todo = [node]
    while todo:
        current = todo.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if _is_type_checking(child):
                todo.extend(child.orelse)
            else:
                todo.append(child)


def imported_modules(path: Path) -> set[str]:
    """``qml_ops`` modules named by the imports of one file (with their parent packages).

    Counts ``import``/``from … import`` statements anywhere (lazy imports inside
    functions run when the stage calls them) and ``importlib.import_module("…")``
    with a literal name; skips ``if TYPE_CHECKING:`` blocks.
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    current = module_name(path) if path.is_relative_to(REPO / PACKAGE) else "__main__"
    found: set[str] = set()
    for node in _walk_run_time(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, current, path.name == "__init__.py")
            names = [module] + [f"{module}.{alias.name}" for alias in node.names]
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None))
              == "import_module" and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            names = [node.args[0].value]
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                parts = name.split(".")
                for i in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b too
                    prefix = ".".join(parts[:i])
                    if module_file(prefix):
                        found.add(prefix)
    return found


@lru_cache(maxsize=None)
def closure(script: str) -> frozenset[Path]:
    """Files of every ``qml_ops`` module ``script`` imports, transitively."""
    seen: set[str] = set()
    todo = list(imported_modules(REPO / script))
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(imported_modules(module_file(name)) - seen)
    return frozenset(module_file(name).relative_to(REPO) for name in seen)


def stages() -> dict[str, dict]:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def script_of(stage: dict) -> str:
    words = shlex.split(stage["cmd"])
    scripts = [w for w in words if w.endswith(".py")]
    assert len(scripts) == 1, f"cannot find the script in cmd {stage['cmd']!r}"
    return scripts[0]


def dep_paths(stage: dict) -> list[Path]:
    return [Path(next(iter(d)) if isinstance(d, dict) else d) for d in stage.get("deps", [])]


def out_paths(stage: dict) -> list[Path]:
    """A stage's outputs: ``outs``, ``metrics`` and ``plots`` entries."""
    paths = []
    for key in ("outs", "metrics", "plots"):
        for item in stage.get(key) or []:
            paths.append(Path(next(iter(item)) if isinstance(item, dict) else item))
    return paths


def covered(path: Path, deps: list[Path]) -> bool:
    return any(path == d or d in path.parents for d in deps)


@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_lists_every_module_its_script_imports(name):
    stage = stages()[name]
    script = script_of(stage)
    deps = dep_paths(stage)
    assert Path(script) in deps, f"stage {name}: its script {script} is not a dependency"
    missing = sorted(str(p) for p in closure(script) if not covered(p, deps))
    assert not missing, (
        f"stage {name!r} imports these qml_ops modules (transitively) but dvc.yaml does not list them "
        f"(or a folder holding them) as deps: {missing}"
    )


@pytest.mark.parametrize("name", sorted(stages()))
def test_stage_deps_exist(name):
    missing = [str(d) for d in dep_paths(stages()[name]) if not (REPO / d).exists()
               and not str(d).startswith(("data/", "models/", "tune/", "metrics/"))]
    assert not missing, f"stage {name!r} depends on paths that do not exist: {missing}"


def test_closure_sees_lazy_and_relative_imports(tmp_path):
    """The closure follows imports inside functions (as qml_ops uses for slow libraries)."""
    hardware_closure = closure("pipelines/hardware.py")
    assert Path("qml_ops/config.py") in hardware_closure
    assert any(p.parts[:2] == ("qml_ops", "hardware") for p in hardware_closure)
    assert Path("qml_ops/__init__.py") in hardware_closure


# ---- files read at run time (checked on a real `dvc repro` in tests/test_pipeline_full.py)

#: What a stage may read without listing it: DVC's and git's own files, the
#: params file (listed under `params`), the lock file (read for provenance tags:
#: it cannot be a dependency of the stages it describes), and state that is
#: deliberately not a DVC output (the MLflow store, Optuna studies, the QPU ledger).
NOT_DEPENDENCIES = ("params.yaml", "dvc.lock", ".dvc/", ".git/", "mlruns/", "optuna/", "hardware/", ".venv/",
                    ".tools/")
TRACE_SUPPORT = REPO / "tests" / "support"


def undeclared_reads(repo: Path, trace: Path) -> dict[str, list[str]]:
    """Per stage, the files under ``repo`` its script read that dvc.yaml does not list as deps."""
    declared = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    by_script = {script_of(stage): name for name, stage in declared.items()}
    problems: dict[str, list[str]] = {}
    root = repo.resolve()
    for line in trace.read_text().splitlines():
        script, _, path = line.partition("\t")
        name = by_script.get(script)
        if name is None:
            continue
        target = Path(path).resolve()
        if not target.is_relative_to(root) or target.is_dir():
            continue
        rel = target.relative_to(root)
        if str(rel).startswith(NOT_DEPENDENCIES) or "__pycache__" in rel.parts:
            continue
        # a stage may read back what it wrote itself in the same run
        if not covered(rel, dep_paths(declared[name]) + out_paths(declared[name])):
            problems.setdefault(name, []).append(str(rel))
    return {name: sorted(set(paths)) for name, paths in problems.items()}
