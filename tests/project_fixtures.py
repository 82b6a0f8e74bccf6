"""A tiny real project in a temp folder: prepared + encoded digits, MLflow on SQLite."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from qml_ops import data, io, project
from qml_ops.encodings import make_encoder

REPO = Path(__file__).resolve().parents[1]


def make_project(root: Path, n_qubits: int = 4, method: str = "angle", max_per_class: int = 40,
                 params_text: str | None = None) -> Path:
    """Write data/prepared and data/encoded (as the stages would) and params.yaml."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "dvc.yaml").write_text("stages: {}\n")
    prepared = data.prepare("digits", [0, 1], {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0,
                            max_per_class=max_per_class)
    for name, split in prepared.splits.items():
        io.write_npz(root / project.PREPARED_DIR / f"{name}.npz", X=split.X, y=split.y)
    io.write_json(root / project.PREPARED_DIR / "meta.json", prepared.meta)
    encoder = make_encoder(method, n_qubits).fit(prepared.splits["train"].X)
    for name, split in prepared.splits.items():
        io.write_npz(root / project.ENCODED_DIR / f"{name}.npz", X=encoder.transform(split.X), y=split.y)
    io.write_json(root / project.ENCODED_DIR / "encoder.json", encoder.to_dict())
    (root / "params.yaml").write_text(params_text or small_params(n_qubits, method))
    shutil.copytree(REPO / "profiles", root / "profiles")  # the project's calibration profiles
    return root


def small_params(n_qubits: int = 4, method: str = "angle") -> str:
    return f"""
encode: {{method: {method}, n_qubits: {n_qubits}}}
model: {{ansatz: 2, loss: mse}}
train: {{epochs: 4, batch_size: 16, lr: 0.05, patience: 0, use_tuned: false, threads: 1}}
evaluate: {{shots: 256, shot_seeds: 2}}
tune:
  n_trials: 3
  seed: 1
  space: {{ansatz: [1, 2], lr: {{low: 0.01, high: 0.1, log: true}}, batch_size: [16], epochs: [3],
          optimizer: [adam], loss: [mse]}}
tracking: {{experiment: test}}
"""


def use_project(monkeypatch, root: Path) -> None:
    monkeypatch.chdir(root)
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(root))
    os.environ.pop("MLFLOW_TRACKING_URI", None)


def run_stage_main(name: str, params_path: str = "params.yaml") -> None:
    """Run ``pipelines/<name>.py``'s ``main`` in this process (in the working directory),
    as ``python pipelines/<name>.py`` would, but with errors raised, not printed."""
    import importlib.util

    from qml_ops.config import load_params

    spec = importlib.util.spec_from_file_location(f"stage_{name}", REPO / "pipelines" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(load_params(params_path))


def files_under(root: Path, ignore: tuple[str, ...] = ()) -> set[str]:
    """Every file below ``root`` (relative paths), except under the ``ignore`` folders."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and not p.relative_to(root).as_posix().startswith(ignore)}
