"""Registry versions and aliases, and `qml-ops promote`."""

import pytest

from qml_ops import tracking
from qml_ops.cli import main
from qml_ops.errors import TrackingError
from project_fixtures import use_project


@pytest.fixture
def two_versions(tmp_path, monkeypatch):
    """A registered model ``m`` with versions 1 and 2 (real registry entries, from one run)."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "dvc.yaml").write_text("stages: {}\n")
    use_project(monkeypatch, root)
    tracking.configure("test")
    with tracking.start_run("r") as run:
        tracking.log_dict({"x": 1}, "model/x.json")
    client = tracking.client()
    client.create_registered_model("m")
    for _ in range(2):
        client.create_model_version("m", f"{run.info.artifact_uri}/model", run_id=run.info.run_id)
    return root


def test_aliases_resolve_move_and_report_absence(two_versions):
    assert tracking.alias_version("m", "candidate") is None
    assert tracking.alias_version("no-such-model", "candidate") is None
    tracking.set_alias("m", "1", "candidate")
    assert tracking.alias_version("m", "candidate") == "1"
    assert str(tracking.resolve_alias("m", "candidate").version) == "1"
    with pytest.raises(TrackingError, match=r"registered model 'm' has no version '9'"):
        tracking.set_alias("m", "9", "candidate")
    with pytest.raises(TrackingError, match=r"no model version at models:/m@gone.*qml-ops promote m VERSION gone"):
        tracking.resolve_alias("m", "gone")


def test_cli_promote_moves_alias_and_says_from_where(two_versions, capsys):
    assert main(["promote", "m", "1", "candidate"]) == 0
    assert capsys.readouterr().out.strip() == "models:/m@candidate -> version 1"
    assert main(["promote", "m", "2", "candidate"]) == 0
    assert capsys.readouterr().out.strip() == "models:/m@candidate -> version 2 (was version 1)"
    assert main(["promote", "m", "7", "candidate"]) == 1
    assert "registered model 'm' has no version '7'" in capsys.readouterr().err
    assert tracking.alias_version("m", "candidate") == "2"


def test_registration_round_trip_and_missing_fields():
    registration = tracking.ModelRegistration("models:/m-1", "m-1", "run1", "exp", "qcnn", "3", "candidate")
    assert tracking.ModelRegistration.from_dict(registration.to_dict()) == registration
    with pytest.raises(TrackingError, match=r"lacks \['run_id'\]"):
        tracking.ModelRegistration.from_dict({"model_uri": "x", "model_id": "y", "experiment": "e"})
