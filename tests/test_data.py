import numpy as np
import pytest
from PIL import Image

from qml_ops import data
from qml_ops.errors import DataError

FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}


def test_digits_two_classes_stratified():
    prepared = data.prepare("digits", [0, 1], FRACTIONS, seed=0)
    assert prepared.classes == ["0", "1"]
    total = sum(sum(c.values()) for c in prepared.meta["counts"].values())
    assert total == 360  # FACTS §5: digits 0 vs 1
    for split in prepared.splits.values():
        assert split.X.shape[1:] == (8, 8)
        assert set(np.unique(split.y)) == {0, 1}
        # stratified: both classes in roughly equal share (178 vs 182 overall)
        assert abs(split.y.mean() - 0.5) < 0.1


def test_split_is_deterministic_and_seeded():
    a = data.prepare("digits", [3, 8], FRACTIONS, seed=1)
    b = data.prepare("digits", [3, 8], FRACTIONS, seed=1)
    c = data.prepare("digits", [3, 8], FRACTIONS, seed=2)
    assert a.meta["checksum_sha256"] == b.meta["checksum_sha256"]
    assert a.meta["checksum_sha256"] != c.meta["checksum_sha256"]


def test_mnist_bundled():
    prepared = data.prepare("mnist", [0, 1], FRACTIONS, seed=0)
    assert prepared.splits["train"].X.shape[1:] == (28, 28)
    assert sum(sum(c.values()) for c in prepared.meta["counts"].values()) == 1000


def test_npz_file(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 5))
    y = np.array(["cat", "dog"] * 20)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    prepared = data.prepare("file", ["dog", "cat"], FRACTIONS, path=str(tmp_path / "d.npz"))
    assert prepared.classes == ["dog", "cat"]
    train = prepared.splits["train"]
    assert train.X.shape == (24, 5)


def test_csv_file_and_missing_label_column(tmp_path):
    path = tmp_path / "d.csv"
    rows = ["f1,f2,target"] + [f"{i},{i * 2},{i % 2}" for i in range(30)]
    path.write_text("\n".join(rows) + "\n")
    prepared = data.prepare("file", [0, 1], FRACTIONS, path=str(path), label_column="target")
    assert prepared.splits["test"].X.shape[1] == 2
    with pytest.raises(DataError, match=r"label column 'label' not found; columns are \['f1', 'f2', 'target'\]"):
        data.prepare("file", [0, 1], FRACTIONS, path=str(path), label_column="label")


def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("ants", "bees"):
        (tmp_path / name).mkdir()
        for i in range(10):
            Image.fromarray(rng.integers(0, 255, (6, 6), dtype=np.uint8)).save(tmp_path / name / f"{i}.png")
    prepared = data.prepare("file", ["ants", "bees"], FRACTIONS, path=str(tmp_path))
    assert prepared.splits["train"].X.shape[1:] == (6, 6)
    Image.fromarray(np.zeros((7, 7), dtype=np.uint8)).save(tmp_path / "bees" / "odd.png")
    with pytest.raises(DataError, match=r"odd.png: image is 7x7, others are 6x6"):
        data.prepare("file", ["ants", "bees"], FRACTIONS, path=str(tmp_path))


@pytest.mark.parametrize(
    "setup, match",
    [
        (lambda p: None, "no such file or folder"),
        (lambda p: p.write_text("not a zip"), "cannot read as .npz"),
        (lambda p: np.savez(p, X=np.zeros((4, 2))), r"missing array\(s\) \['y'\]"),
        (lambda p: np.savez(p, X=np.zeros((4, 2)), y=np.zeros(3)), r"y must have shape \(4,\)"),
        (lambda p: np.savez(p, X=np.zeros(4), y=np.zeros(4)), "one row per sample"),
    ],
)
def test_bad_npz_names_file_and_problem(tmp_path, setup, match):
    path = tmp_path / "bad.npz"
    setup(path)
    with pytest.raises(DataError, match=match) as info:
        data.load_file(path)
    assert "bad.npz" in str(info.value)


def test_class_without_samples_nan_and_too_few(tmp_path):
    X = np.arange(40, dtype=float).reshape(20, 2)
    y = np.array([0, 1] * 10)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    with pytest.raises(DataError, match=r"class '7' has no samples; available classes: \['0', '1'\]"):
        data.prepare("file", [0, 7], FRACTIONS, path=str(tmp_path / "d.npz"))
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    np.savez(tmp_path / "n.npz", X=X_nan, y=y)
    with pytest.raises(DataError, match="1 sample.* NaN or inf"):
        data.prepare("file", [0, 1], FRACTIONS, path=str(tmp_path / "n.npz"))
    np.savez(tmp_path / "s.npz", X=X[:4], y=y[:4])
    with pytest.raises(DataError, match="too few for a"):
        data.prepare("file", [0, 1], FRACTIONS, path=str(tmp_path / "s.npz"))


def test_max_per_class_caps():
    prepared = data.prepare("digits", [0, 1], FRACTIONS, seed=0, max_per_class=30)
    assert sum(sum(c.values()) for c in prepared.meta["counts"].values()) == 60
