import numpy as np
import pytest

from qml_ops.errors import ModelError
from qml_ops.model import QCNNClassifier, shot_predictions
from qml_ops.training_data import load_encoded
from project_fixtures import make_project


@pytest.fixture(scope="module")
def splits(tmp_path_factory):
    root = make_project(tmp_path_factory.mktemp("proj"), n_qubits=4)
    return load_encoded(root)


def small(**kw):
    defaults = dict(n_qubits=4, ansatz=2, epochs=3, batch_size=16, lr=0.05, patience=0, threads=1)
    return QCNNClassifier(**{**defaults, **kw})


def test_estimator_habit_and_determinism(splits):
    (X, y), (Xv, yv) = splits["train"], splits["val"]
    clf = small()
    assert clf.get_params()["ansatz"] == 2 and not hasattr(clf, "weights_")
    a = clf.fit(X, y, Xv, yv)
    assert a is clf and clf.weights_.shape == (clf.spec.n_weights,)
    b = small().fit(X, y, Xv, yv)
    assert np.array_equal(a.weights_, b.weights_)
    c = small(seed=1).fit(X, y, Xv, yv)
    assert not np.array_equal(a.weights_, c.weights_)
    assert [r.epoch for r in a.history_] == [1, 2, 3]


def test_predictions_are_consistent(splits):
    (X, y), (Xt, yt) = splits["train"], splits["test"]
    clf = small(epochs=6).fit(X, y)
    z = clf.expval(Xt)
    assert np.all(np.abs(z) <= 1 + 1e-6)
    assert np.array_equal(clf.decision_function(Xt), -z)  # scikit-learn's sign: positive -> classes_[1]
    proba = clf.predict_proba(Xt)
    assert np.allclose(proba.sum(axis=1), 1) and np.allclose(proba[:, 1], (1 - z) / 2)
    assert np.array_equal(clf.predict(Xt), (z < 0).astype(int))
    assert clf.score(Xt, yt) > 0.8  # digits 0 vs 1 is easy even for 6 epochs of ansatz 2


@pytest.mark.parametrize("loss, optimizer", [("cross_entropy", "adam"), ("mse", "nesterov")])
def test_losses_and_optimizers_learn(splits, loss, optimizer):
    (X, y), (Xv, yv) = splits["train"], splits["val"]
    clf = small(loss=loss, optimizer=optimizer, epochs=5, lr=0.1 if optimizer == "nesterov" else 0.05).fit(X, y, Xv, yv)
    assert clf.history_[-1].loss < clf.history_[0].loss


def test_early_stopping_keeps_best_epoch(splits):
    (X, y), (Xv, yv) = splits["train"], splits["val"]
    clf = small(epochs=40, patience=2).fit(X, y, Xv, yv)
    assert len(clf.history_) < 40
    best = max(r.val_accuracy for r in clf.history_)
    assert clf.history_[clf.best_epoch_ - 1].val_accuracy == best
    assert np.isclose(clf.score(Xv, yv), best)


def test_save_load_round_trip(splits, tmp_path):
    (X, y), (Xt, _) = splits["train"], splits["test"]
    clf = small().fit(X, y)
    clf.save(tmp_path)
    loaded = QCNNClassifier.load(tmp_path)
    assert np.allclose(loaded.decision_function(Xt), clf.decision_function(Xt))
    with pytest.raises(ModelError, match="no trained model"):
        QCNNClassifier.load(tmp_path / "missing")


def test_bad_input_and_divergence(splits, monkeypatch):
    (X, y) = splits["train"]
    with pytest.raises(ModelError, match=r"expected encoded features of shape \(N, 4\).*got \(.*, 3\)"):
        small().fit(X[:, :3], y)
    with pytest.raises(ModelError, match="not fitted"):
        small().predict(X)
    calls = {"n": 0}
    original = QCNNClassifier._loss

    def exploding(self, z, target):
        calls["n"] += 1
        loss = original(self, z, target)
        return loss * float("nan") if calls["n"] > 3 else loss

    monkeypatch.setattr(QCNNClassifier, "_loss", exploding)
    with pytest.raises(ModelError, match="training diverged at epoch 2: loss is nan"):
        small().fit(X, y)


def test_shot_predictions_statistics():
    z = np.array([0.9, -0.9, 0.02, -0.02])
    draws = np.array([shot_predictions(z, 1000, seed) for seed in range(200)])
    assert np.all(draws[:, 0] == 0) and np.all(draws[:, 1] == 1)
    # near the boundary, finite shots flip predictions sometimes: P(1) = 0.49 -> ~26% wrong at 1000 shots
    assert 0.1 < draws[:, 2].mean() < 0.45
    assert 0.55 < draws[:, 3].mean() < 0.9
