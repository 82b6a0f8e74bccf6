"""The registered QCNN pyfunc: models-from-code now, pickled class before; both load in a fresh process."""

import json
import pickletools
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from qml_ops import io, tracking
from qml_ops.model import QCNNClassifier
from qml_ops.training_data import load_encoded, load_prepared
from project_fixtures import make_project, run_stage_main, use_project

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy_qcnn_pyfunc"
OUTPUTS = ("label", "class", "proba", "expval")

FRESH_PREDICT = """
import json, sys
import mlflow, numpy as np
if sys.argv[3]:
    mlflow.set_tracking_uri(sys.argv[3])
model = mlflow.pyfunc.load_model(sys.argv[1])
X = np.load(sys.argv[2])
out = {o: np.asarray(model.predict(X, params={'output': o})).tolist() for o in %r}
print(json.dumps(out))
""" % (OUTPUTS,)


def predict_in_fresh_process(model_uri: str, raw: np.ndarray, cwd: Path, tracking_uri: str = "") -> dict:
    """Load ``model_uri`` with ``mlflow.pyfunc.load_model`` in a new interpreter; its four outputs on ``raw``."""
    np.save(cwd / "raw.npy", raw)
    proc = subprocess.run([sys.executable, "-c", FRESH_PREDICT, model_uri, str(cwd / "raw.npy"), tracking_uri],
                          cwd=cwd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def trained_root(tmp_path_factory):
    """One project with a trained, registered candidate, shared by this module's tests."""
    root = make_project(tmp_path_factory.mktemp("pyfunc") / "proj")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        use_project(patch, root)
        run_stage_main("train")
    return root


@pytest.fixture
def trained(trained_root, monkeypatch):
    use_project(monkeypatch, trained_root)
    return trained_root


def test_fresh_process_loads_candidate_and_predicts_raw_images(trained):
    root = trained
    X_raw, y = load_prepared("test")
    out = predict_in_fresh_process("models:/qcnn@candidate", X_raw, root, tracking.tracking_uri(root))
    local = QCNNClassifier.load(root / "models/qcnn")
    X_test = load_encoded()["test"][0]
    expected = local.predict(X_test)
    assert out["label"] == expected.tolist()
    assert out["class"] == [["0", "1"][i] for i in expected]
    assert np.allclose(out["proba"], local.predict_proba(X_test)[:, 1])
    assert np.allclose(out["expval"], local.expval(X_test))


def test_registered_version_stores_code_not_a_pickle(trained):
    root = trained
    registration = io.read_json(root / "models/qcnn/registry.json")
    local = Path(tracking.download_registered_model("qcnn", "candidate", root / "dl")[1]).parent
    mlmodel = yaml.safe_load((local / "MLmodel").read_text())
    flavor = mlmodel["flavors"]["python_function"]
    assert "python_model" not in flavor and not (local / "python_model.pkl").exists()
    code = local / flavor["model_code_path"].split("/")[-1]
    assert code.read_text() == (Path(tracking.__file__).parent / "pyfunc_entry.py").read_text()
    assert {"model.json", "encoder.json", "classes.json"} <= {p.name for p in (local / "artifacts").iterdir()}
    assert json.loads(mlmodel["signature"]["params"])[0] == {"name": "output", "default": "label", "shape": None,
                                                              "type": "string"}
    assert registration["model_id"] == mlmodel["model_id"]


def test_pyfunc_rejects_wrong_shape(trained):
    import mlflow

    mlflow.set_tracking_uri(tracking.tracking_uri())
    model = mlflow.pyfunc.load_model("models:/qcnn@candidate")
    with pytest.raises(Exception, match=r"(?i)shape"):
        model.predict(np.zeros((2, 5, 5)))
    with pytest.raises(Exception, match=r"params.output = 'logits': allowed \['label', 'class', 'proba', 'expval'\]"):
        model.predict(load_prepared("test")[0][:2], params={"output": "logits"})


def test_legacy_pickled_model_from_before_the_split_loads_in_a_fresh_process(tmp_path):
    """A model saved by qml-ops 0.1.0 (a cloudpickle of qml_ops.tracking.QCNNPyfuncModel, see the fixture's README)."""
    pickled = (LEGACY / "model" / "python_model.pkl").read_bytes()
    assert ("qml_ops.tracking", "QCNNPyfuncModel") == _pickled_class(pickled)
    model = shutil.copytree(LEGACY / "model", tmp_path / "model")
    out = predict_in_fresh_process(str(model), np.load(LEGACY / "raw_samples.npy"), tmp_path)
    expected = json.loads((LEGACY / "expected.json").read_text())
    assert out["label"] == expected["label"] and out["class"] == expected["class"]
    # to the simulator's own agreement with PennyLane (1e-6): the engine's float32 arithmetic may change
    assert np.allclose(out["proba"], expected["proba"], atol=1e-6)
    assert np.allclose(out["expval"], expected["expval"], atol=1e-6)


def test_version_logged_the_old_way_still_loads_in_a_fresh_process(trained):
    """Log as the code before models-from-code did (``python_model=`` an instance), register, reload."""
    import mlflow

    root = trained
    registration = io.read_json(root / "models/qcnn/registry.json")
    (root / "classes.json").write_text(json.dumps(["0", "1"]))
    artifacts = {"model": str(root / "models/qcnn/model.json"), "encoder": str(root / "data/encoded/encoder.json"),
                 "classes": str(root / "classes.json")}
    X_raw, _ = load_prepared("test")
    tracking.configure("test")
    signature = mlflow.models.get_model_info("models:/qcnn@candidate").signature  # with the `output` param
    with tracking.start_run("legacy", run_id=registration["run_id"]):
        info = mlflow.pyfunc.log_model(name="legacy", python_model=tracking.QCNNPyfuncModel(), artifacts=artifacts,
                                       signature=signature, input_example=X_raw[:3],
                                       registered_model_name="qcnn-legacy")
    local = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(root / "legacy")))
    assert _pickled_class((local / "python_model.pkl").read_bytes()) == ("qml_ops.tracking", "QCNNPyfuncModel")
    out = predict_in_fresh_process("models:/qcnn-legacy/1", X_raw, root, tracking.tracking_uri(root))
    fresh = predict_in_fresh_process("models:/qcnn@candidate", X_raw, root, tracking.tracking_uri(root))
    assert out == fresh


def _pickled_class(data: bytes) -> tuple[str, str]:
    """(module, name) of the first global a pickle loads: the pickled model's class."""
    strings = [arg for op, arg, _ in pickletools.genops(data) if op.name in ("SHORT_BINUNICODE", "BINUNICODE")]
    return strings[0], strings[1]
