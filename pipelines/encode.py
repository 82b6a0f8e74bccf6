"""DVC stage `encode`: fit the quantum encoding on train, apply it to every split.

Outputs data/encoded/{train,val,test}.npz (X: circuit inputs, y: 0/1),
data/encoded/encoder.json (the fitted encoder, so the registered model can take
raw samples) and metrics/encode.json.
"""

import sys

from qml_ops import io, project
from qml_ops.config import Params
from qml_ops.encodings import make_encoder
from qml_ops.stage import run_stage
from qml_ops.training_data import load_prepared


def main(params: Params) -> None:
    e = params.encode
    splits = {name: load_prepared(name) for name in project.SPLITS}
    encoder = make_encoder(e.method, e.n_qubits, e.amplitude_mode).fit(splits["train"][0])
    for name, (X, y) in splits.items():
        io.write_npz(project.split_file(project.ENCODED_DIR, name), X=encoder.transform(X), y=y)
    io.write_json(project.ENCODER_FILE, encoder.to_dict())
    io.write_json(project.ENCODE_METRICS, encoder.metrics())
    print(f"encoded with {e.method} on {e.n_qubits} qubits ({encoder.n_components} features) -> {project.ENCODED_DIR}/")


if __name__ == "__main__":
    sys.exit(run_stage("encode", main))
