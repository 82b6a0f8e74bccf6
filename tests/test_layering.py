"""The layering rules, checked on the code: who imports mlflow, import-time side effects, ⟨Z⟩ vs decision_function."""

import ast
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "qml_ops"
TRACKING = PACKAGE / "tracking"
#: Not library modules: the models-from-code script MLflow runs when it loads a QCNN (it calls set_model).
NOT_IMPORTED = {"qml_ops.tracking.pyfunc_entry"}


def python_files(*folders: Path) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*.py"))


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.AST, top_level_only: bool = False) -> set[str]:
    nodes = tree.body if top_level_only else ast.walk(tree)
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_mlflow_is_imported_only_inside_the_tracking_package():
    offenders = []
    for path in python_files(PACKAGE, REPO / "pipelines"):
        if TRACKING in path.parents:
            continue
        names = imported_names(ast.parse(path.read_text()))
        offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if n == "mlflow" or n.startswith("mlflow.")]
    assert offenders == [], "mlflow imported outside qml_ops/tracking/ (route it through qml_ops.tracking)"
    # and the rule is not vacuous: the tracking package does import it
    assert any("mlflow.pyfunc" in imported_names(ast.parse(p.read_text())) for p in python_files(TRACKING))


def test_importing_library_modules_installs_no_warning_filter():
    """Import every qml_ops module in a fresh interpreter: warnings.filters must not change.

    The third-party packages those modules import at module level are imported first, so a
    filter a dependency installs on its own import is not blamed on qml_ops.
    """
    modules, third_party = [], set()
    for path in python_files(PACKAGE):
        name = module_name(path)
        if name in NOT_IMPORTED:
            continue
        modules.append(name)
        for imported in imported_names(ast.parse(path.read_text()), top_level_only=True):
            if not imported.startswith(("qml_ops", "__future__")):
                third_party.add(imported)
    script = (
        "import importlib, json, sys, warnings\n"
        f"for name in {sorted(third_party)!r}:\n"
        "    importlib.import_module(name)\n"
        "before = [repr(f) for f in warnings.filters]\n"
        "changed = {}\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "    now = [repr(f) for f in warnings.filters]\n"
        "    if now != before:\n"
        "        changed[name] = [f for f in now if f not in before]\n"
        "        before = now\n"
        "print(json.dumps(changed))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    changed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert changed == {}, f"modules that install warning filters when imported: {changed}"
    assert len(modules) > 30  # every module was imported, not a handful


def test_library_code_reads_expval_not_decision_function():
    """``QCNNClassifier.decision_function`` is scikit-learn's score (−⟨Z⟩, positive → classes_[1]);
    code that means ⟨Z⟩ on the read-out qubit must call ``expval``."""
    offenders = []
    for path in python_files(PACKAGE, REPO / "pipelines"):
        if path == PACKAGE / "model.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "decision_function":
                offenders.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert offenders == [], f"use model.expval() for ⟨Z⟩: {offenders}"
