"""Paths are defined once in qml_ops.project; dvc.yaml repeats them as literals and must agree."""

from pathlib import Path

import yaml

from qml_ops import project

REPO = Path(__file__).resolve().parents[1]
#: Stores that are not DVC outputs (git-ignored; always in the real project root), and tracked inputs.
NOT_OUTPUTS = {project.MLFLOW_DIR, project.OPTUNA_DIR, project.QPU_LEDGER}
TRACKED_INPUTS = {project.PROFILES_DIR, project.SNAPSHOTS_DIR}


def dvc_paths() -> tuple[set[Path], set[Path]]:
    """(outputs: outs, metrics and plots of every stage; deps of every stage) in dvc.yaml."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    outputs, deps = set(), set()
    for stage in stages.values():
        for key in ("outs", "metrics", "plots"):
            for entry in stage.get(key) or []:
                outputs.add(Path(next(iter(entry)) if isinstance(entry, dict) else entry))
        deps |= {Path(d) for d in stage.get("deps") or []}
    return outputs, deps


def project_paths() -> dict[str, Path]:
    return {name: value for name, value in vars(project).items() if name.isupper() and isinstance(value, Path)}


def test_every_dvc_output_is_a_project_path():
    outputs, _ = dvc_paths()
    known = set(project_paths().values())
    loose = {p for p in outputs if p not in known and project.HARDWARE_PLOTS_DIR not in p.parents}
    assert loose == set(), f"dvc.yaml outputs missing from qml_ops/project.py: {sorted(map(str, loose))}"


def test_every_project_path_is_a_dvc_output_inside_or_around_one():
    outputs, _ = dvc_paths()
    for name, path in project_paths().items():
        if path in NOT_OUTPUTS:
            continue
        if path in TRACKED_INPUTS:  # in git, and deps of the stages that read them
            _, deps = dvc_paths()
            assert any(path == d or d in path.parents for d in deps), f"project.{name} = {path} is no dependency"
            continue
        output = path in outputs or any(out in path.parents for out in outputs)  # e.g. data/encoded/encoder.json
        folder = any(path in out.parents for out in outputs)  # e.g. metrics/, plots/hardware/
        assert output or folder, f"project.{name} = {path} is no output of any stage in dvc.yaml"


def test_data_files_stages_read_are_project_paths():
    _, deps = dvc_paths()
    data_deps = {d for d in deps if not str(d).startswith(("qml_ops", "pipelines", "profiles"))}
    known = set(project_paths().values())
    assert data_deps <= known, f"dvc.yaml reads paths project.py does not define: {sorted(map(str, data_deps - known))}"


def test_split_files_and_the_encoder_live_where_the_encode_stage_writes():
    assert project.split_file(project.ENCODED_DIR, "train") == Path("data/encoded/train.npz")
    assert project.ENCODER_FILE == Path("data/encoded/encoder.json")
    assert project.TUNED_PARAMS_FILE == Path("tune/best_params.json")
