import numpy as np
import pytest

from qml_ops import io
from qml_ops.errors import DataError
from qml_ops.lineage import dvc_md5, dvc_md5_or_none
from qml_ops.project import find_root


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "out.json"
    io.write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        io.write_json(target, {"a": object()})
    assert io.read_json(target) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp files left


def test_write_npz_round_trip_and_reproducible_bytes(tmp_path):
    import time

    io.write_npz(tmp_path / "a" / "x.npz", X=np.eye(3), y=np.arange(3))
    with np.load(tmp_path / "a" / "x.npz") as archive:
        assert np.array_equal(archive["X"], np.eye(3)) and np.array_equal(archive["y"], np.arange(3))
    time.sleep(2.1)  # zip timestamps have 2 s resolution: a stamped file would differ now
    io.write_npz(tmp_path / "b.npz", X=np.eye(3), y=np.arange(3))
    assert (tmp_path / "a" / "x.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_dvc_md5_reads_lock(tmp_path):
    lock = tmp_path / "dvc.lock"
    lock.write_text(
        "schema: '2.0'\nstages:\n  encode:\n    cmd: x\n    outs:\n    - path: data/encoded\n"
        "      hash: md5\n      md5: abc123.dir\n      size: 10\n      nfiles: 4\n"
    )
    assert dvc_md5("data/encoded", lock) == "abc123.dir"
    assert dvc_md5("data/encoded/", lock) == "abc123.dir"
    with pytest.raises(DataError, match="no stage has an output 'data/other'"):
        dvc_md5("data/other", lock)
    assert dvc_md5_or_none("x", tmp_path / "missing.lock") is None


def test_find_root_maps_dvc_temp_workspace(tmp_path, monkeypatch):
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")
    nested = tmp_path / ".dvc" / "tmp" / "exps" / "tmpabc"
    nested.mkdir(parents=True)
    assert find_root(nested) == tmp_path
    assert find_root(tmp_path / ".dvc") == tmp_path
    monkeypatch.setenv("QML_OPS_PROJECT_ROOT", str(nested))
    assert find_root(tmp_path) == nested
