"""A DVC remote on S3 (moto's server): push, a colleague's clone pulls and finds the stages up to date.

Everything goes through the README's wrapper (`scripts/dvc`). The endpoint is in
the remote's *local* config and the credentials only in the environment, so
nothing secret is committed.
"""

import os
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import REPO
from pipeline_helpers import copy_repo, git, ran_stages, set_params

pytestmark = [pytest.mark.dvc_remote, pytest.mark.dvc, pytest.mark.slow]

TINY = dict(
    prepare={"max_per_class": 40},
    encode={"n_qubits": 4},
    tune={"n_trials": 2, "space": {"ansatz": [1, 2], "lr": {"low": 0.02, "high": 0.1, "log": True},
                                   "batch_size": [16], "epochs": [2], "optimizer": ["adam"], "loss": ["mse"]}},
)


def with_environments(repo: Path) -> Path:
    """The environments `make` built, shared by a copy or clone (and kept out of its git)."""
    for env in (".venv", ".tools"):
        (repo / env).symlink_to(REPO / env)
    with open(repo / ".git" / "info" / "exclude", "a") as exclude:
        exclude.write(".venv\n.tools\n")
    return repo


def scripts_dvc(repo: Path, s3, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("QML_OPS_PROJECT_ROOT", "MLFLOW_TRACKING_URI")}
    env.update(s3.credentials)  # credentials from the environment only
    proc = subprocess.run([str(repo / "scripts/dvc"), *args], cwd=repo, capture_output=True, text=True, env=env,
                          timeout=900)
    if check:
        assert proc.returncode == 0, f"scripts/dvc {' '.join(args)}:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return proc


def test_clone_pulls_data_and_finds_prepare_and_encode_up_to_date(tmp_path, s3_endpoint):
    repo = with_environments(copy_repo(tmp_path / "repo"))
    set_params(repo, **TINY)
    first = scripts_dvc(repo, s3_endpoint, "repro", "train")
    assert ran_stages(first.stdout) == {"prepare", "encode", "tune", "train"}

    bucket = s3_endpoint.new_bucket("qml-ops-dvc")
    scripts_dvc(repo, s3_endpoint, "remote", "add", "-d", "team", f"s3://{bucket}/store")
    scripts_dvc(repo, s3_endpoint, "remote", "modify", "--local", "team", "endpointurl", s3_endpoint.url)
    pushed = scripts_dvc(repo, s3_endpoint, "push")
    assert "pushed" in pushed.stdout
    assert s3_endpoint.keys(bucket, "store/files/md5/"), "the data are objects in the bucket"
    in_sync = scripts_dvc(repo, s3_endpoint, "status", "--cloud")
    assert "in sync" in in_sync.stdout, in_sync.stdout
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "results and the team remote")

    committed = git(repo, "ls-files").split()
    assert ".dvc/config.local" not in committed and ".venv" not in committed
    config = (repo / ".dvc" / "config").read_text()
    assert f"s3://{bucket}/store" in config and "endpointurl" not in config
    for secret in s3_endpoint.credentials.values():
        if secret != "us-east-1":
            grep = subprocess.run(["git", "grep", "-I", "-l", secret, "--", ".", ":!tests"], cwd=repo,
                                  capture_output=True, text=True)  # (the tests define the fake keys)
            assert grep.stdout == "", f"a credential is committed in {grep.stdout}"

    # a colleague: clone, set the endpoint locally, pull
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    with_environments(clone)
    scripts_dvc(clone, s3_endpoint, "remote", "modify", "--local", "team", "endpointurl", s3_endpoint.url)
    scripts_dvc(clone, s3_endpoint, "pull")
    for rel in ("data/encoded/train.npz", "data/prepared/test.npz", "models/qcnn"):
        assert (clone / rel).exists(), rel
    assert (clone / "data/encoded/train.npz").read_bytes() == (repo / "data/encoded/train.npz").read_bytes()
    status = scripts_dvc(clone, s3_endpoint, "status", "prepare", "encode")
    assert "Data and pipelines are up to date" in status.stdout, status.stdout
    again = scripts_dvc(clone, s3_endpoint, "repro", "train")
    assert ran_stages(again.stdout) == set(), "nothing upstream of train (nor train) re-runs"


def test_missing_bucket_is_named_on_push_and_pull(tmp_path, s3_endpoint):
    repo = tmp_path / "small"
    repo.mkdir()
    git(repo, "init", "-q")
    with_environments(repo)
    (repo / "scripts").mkdir()
    for name in ("dvc", "dvc_remote_check.py"):
        (repo / "scripts" / name).write_bytes((REPO / "scripts" / name).read_bytes())
    (repo / "scripts" / "dvc").chmod(0o755)
    scripts_dvc(repo, s3_endpoint, "init", "-q")
    (repo / "data.txt").write_text("some data\n")
    scripts_dvc(repo, s3_endpoint, "add", "-q", "data.txt")
    missing = f"qml-ops-missing-{uuid.uuid4().hex[:8]}"
    scripts_dvc(repo, s3_endpoint, "remote", "add", "-d", "team", f"s3://{missing}/store")
    scripts_dvc(repo, s3_endpoint, "remote", "modify", "--local", "team", "endpointurl", s3_endpoint.url)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "data")

    push = scripts_dvc(repo, s3_endpoint, "push", check=False)
    assert push.returncode != 0
    assert f"bucket '{missing}' does not exist at {s3_endpoint.url}" in push.stderr, push.stderr
    assert "remote 'team'" in push.stderr

    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(repo), str(clone))
    with_environments(clone)
    scripts_dvc(clone, s3_endpoint, "remote", "modify", "--local", "team", "endpointurl", s3_endpoint.url)
    pull = scripts_dvc(clone, s3_endpoint, "pull", "-r", "team", check=False)
    assert pull.returncode != 0 and f"bucket '{missing}' does not exist" in pull.stderr, pull.stderr
    assert not (clone / "data.txt").exists()
    assert s3_endpoint.credentials["AWS_SECRET_ACCESS_KEY"] not in push.stderr + pull.stderr
