import math

import numpy as np
import pytest

from qml_ops.encodings import AmplitudeEncoder, AngleEncoder, encoder_from_dict, make_encoder
from qml_ops.errors import DataError


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.uniform(0, 16, size=(60, 8, 8))


@pytest.mark.parametrize("method, width", [("angle", 4), ("dense_angle", 8)])
def test_angle_range_and_train_only_scaling(images, method, width):
    enc = make_encoder(method, 4).fit(images[:40])
    train = enc.transform(images[:40])
    assert train.shape == (40, width)
    assert np.isclose(train.min(), 0.0) and np.isclose(train.max(), math.pi)
    # val/test are clipped with the train scaler, not rescaled on their own min/max
    other = enc.transform(images[40:] * 3.0)
    assert other.min() >= 0 and other.max() <= math.pi
    assert not np.allclose(other.min(axis=0), 0) or not np.allclose(other.max(axis=0), math.pi)


def test_angle_matches_sklearn_pca(images):
    from sklearn.decomposition import PCA

    enc = AngleEncoder(4).fit(images)
    projected = PCA(4, svd_solver="full").fit_transform(images.reshape(60, -1))
    scaled = (projected - projected.min(0)) / (projected.max(0) - projected.min(0)) * math.pi
    assert np.allclose(enc.transform(images), scaled, atol=1e-9)


def test_amplitude_resize_and_pad(images):
    enc = AmplitudeEncoder(8, "resize").fit(images)
    out = enc.transform(images)
    assert out.shape == (60, 256)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0)
    padded = AmplitudeEncoder(8, "pad").fit(images).transform(images)
    assert np.allclose(padded[:, 64:], 0)
    assert np.allclose(padded[:, :64] * np.linalg.norm(images.reshape(60, -1), axis=1)[:, None], images.reshape(60, -1))
    with pytest.raises(DataError, match="more than 2\\^4 = 16 amplitudes"):
        AmplitudeEncoder(4, "pad").fit(images)
    with pytest.raises(DataError, match="all zeros"):
        enc.transform(np.zeros((1, 8, 8)))


@pytest.mark.parametrize("method", ["angle", "dense_angle", "amplitude"])
def test_round_trip_through_json(images, method):
    import json

    enc = make_encoder(method, 4).fit(images)
    clone = encoder_from_dict(json.loads(json.dumps(enc.to_dict())))
    assert np.allclose(clone.transform(images), enc.transform(images))
    # flat input of the right width is accepted too (e.g. from a pandas frame)
    assert np.allclose(clone.transform(images.reshape(60, -1)), enc.transform(images))


def test_wrong_shape_and_too_many_components(images):
    enc = AngleEncoder(4).fit(images)
    with pytest.raises(DataError, match=r"input samples have shape \(5,\), the encoder was fitted on \(8, 8\)"):
        enc.transform(np.zeros((2, 5)))
    with pytest.raises(DataError, match="needs 16 PCA components, but the training split has 10 samples"):
        AngleEncoder(8, dense=True).fit(images[:10])


@pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")  # sklearn's PCA on constant data
def test_explained_variance_matches_sklearn_and_the_old_stage_formula(images):
    from sklearn.decomposition import PCA

    enc = AngleEncoder(4).fit(images)
    pca = PCA(4, svd_solver="full").fit(images.reshape(60, -1))
    assert np.allclose(enc.explained_variance_ratio_, pca.explained_variance_ratio_, atol=1e-12)
    # what pipelines/encode.py computed before the encoder kept it
    flat = images.reshape(60, -1)
    total = float(np.var(flat - enc.mean_, axis=0).sum())
    kept = float(np.var((flat - enc.mean_) @ enc.components_.T, axis=0).sum())
    summary = enc.summary()
    assert summary == {"method": "angle", "n_qubits": 4, "n_features": 4,
                       "pca_explained_variance": round(kept / total, 6)}
    assert 0 < summary["pca_explained_variance"] < 1
    constant = AngleEncoder(2).fit(np.ones((10, 8)))
    assert constant.summary()["pca_explained_variance"] == 1.0
    assert AmplitudeEncoder(4, "pad").fit(images.reshape(60, -1)[:, :16]).summary() == {
        "method": "amplitude", "n_qubits": 4, "n_features": 16}
