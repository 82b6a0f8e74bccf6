"""DVC stage `encode`: fit the quantum encoding on train, apply it to every split.

Outputs data/encoded/{train,val,test}.npz (X: circuit inputs, y: 0/1),
data/encoded/encoder.json (the fitted encoder, so the registered model can take
raw samples) and metrics/encode.json.
"""

import sys

import numpy as np

from qml_ops import io, project
from qml_ops.config import Params
from qml_ops.encodings import make_encoder
from qml_ops.errors import DataError
from qml_ops.stage import run_stage


def load_split(name: str) -> tuple[np.ndarray, np.ndarray]:
    path = project.PREPARED_DIR / f"{name}.npz"
    if not path.exists():
        raise DataError(f"{path}: not found (run the prepare stage first)")
    with np.load(path) as archive:
        return archive["X"], archive["y"]


def main(params: Params) -> None:
    e = params.encode
    splits = {name: load_split(name) for name in project.SPLITS}
    encoder = make_encoder(e.method, e.n_qubits, e.amplitude_mode).fit(splits["train"][0])
    out = project.ENCODED_DIR
    for name, (X, y) in splits.items():
        io.write_npz(out / f"{name}.npz", X=encoder.transform(X), y=y)
    io.write_json(out / "encoder.json", encoder.to_dict())
    summary = {"method": e.method, "n_qubits": e.n_qubits, "n_features": encoder.n_components}
    if hasattr(encoder, "components_"):
        flat = splits["train"][0].reshape(len(splits["train"][0]), -1)
        total = float(np.var(flat - encoder.mean_, axis=0).sum())
        kept = float(np.var((flat - encoder.mean_) @ encoder.components_.T, axis=0).sum())
        summary["pca_explained_variance"] = round(kept / total, 6) if total > 0 else 1.0
    io.write_json(project.METRICS_DIR / "encode.json", summary)
    print(f"encoded with {e.method} on {e.n_qubits} qubits ({encoder.n_components} features) -> {out}/")


if __name__ == "__main__":
    sys.exit(run_stage("encode", main))
