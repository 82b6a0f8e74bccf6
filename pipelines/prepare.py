"""DVC stage `prepare`: load the dataset, keep two classes, split train/val/test.

Outputs data/prepared/{train,val,test}.npz (X: samples as loaded, y: 0/1) and
data/prepared/meta.json (classes, counts per split, source, checksum).
"""

import sys

from qml_ops import data, io, project
from qml_ops.config import Params
from qml_ops.stage import run_stage


def main(params: Params) -> None:
    p = params.prepare
    prepared = data.prepare(
        dataset=p.dataset,
        classes=p.classes,
        fractions=p.split.model_dump(),
        seed=p.seed,
        path=p.path,
        label_column=p.label_column,
        max_per_class=p.max_per_class,
    )
    for name, split in prepared.splits.items():
        io.write_npz(project.split_file(project.PREPARED_DIR, name), X=split.X, y=split.y)
    io.write_json(project.PREPARED_META, prepared.meta)
    counts = ", ".join(f"{s}: {sum(c.values())}" for s, c in prepared.meta["counts"].items())
    print(f"prepared {prepared.source} classes {prepared.classes} ({counts}) -> {project.PREPARED_DIR}/")


if __name__ == "__main__":
    sys.exit(run_stage("prepare", main))
