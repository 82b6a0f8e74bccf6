"""End to end: `dvc repro` of prepare → encode in a real git + DVC repo."""

import json

import numpy as np
import pytest

from pipeline_helpers import copy_repo, dvc, ran_stages, set_params
from qml_ops.lineage import dvc_md5

pytestmark = pytest.mark.dvc


def test_repro_then_param_change_reruns_only_dependents(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    set_params(repo, prepare={"max_per_class": 40})

    first = dvc(repo, "repro", "encode")
    assert ran_stages(first.stdout) == {"prepare", "encode"}
    meta = json.loads((repo / "data/prepared/meta.json").read_text())
    assert meta["classes"] == ["0", "1"]
    with np.load(repo / "data/encoded/train.npz") as archive:
        assert archive["X"].shape[1] == 8
        assert archive["X"].min() >= 0 and archive["X"].max() <= np.pi + 1e-12
    md5_angle = dvc_md5("data/encoded", repo / "dvc.lock")
    assert md5_angle.endswith(".dir")

    again = dvc(repo, "repro", "encode")
    assert ran_stages(again.stdout) == set()

    set_params(repo, encode={"method": "dense_angle"})
    second = dvc(repo, "repro", "encode")
    assert ran_stages(second.stdout) == {"encode"}
    assert dvc_md5("data/encoded", repo / "dvc.lock") != md5_angle
    with np.load(repo / "data/encoded/test.npz") as archive:
        assert archive["X"].shape[1] == 16

    set_params(repo, prepare={"classes": [3, 8]})
    third = dvc(repo, "repro", "encode")
    assert ran_stages(third.stdout) == {"prepare", "encode"}
    assert json.loads((repo / "data/prepared/meta.json").read_text())["classes"] == ["3", "8"]


def test_bad_params_fail_the_stage_and_keep_earlier_outputs(tmp_path):
    repo = copy_repo(tmp_path / "repo")
    set_params(repo, prepare={"max_per_class": 40})
    dvc(repo, "repro", "encode")
    before = (repo / "data/encoded/train.npz").read_bytes()
    lock_before = (repo / "dvc.lock").read_text()

    set_params(repo, encode={"method": "amplitude", "amplitude_mode": "pad", "n_qubits": 4})
    failed = dvc(repo, "repro", "encode", check=False)
    assert failed.returncode != 0
    assert "encode.amplitude_mode = 'pad'" in failed.stderr + failed.stdout
    assert "Traceback" not in failed.stderr + failed.stdout
    # the failed stage did not touch the lock; prepare's outputs are intact
    assert (repo / "dvc.lock").read_text() == lock_before
    assert (repo / "data/prepared/train.npz").exists()
    del before
