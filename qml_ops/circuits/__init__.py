"""The QCNN, specified once as a gate list (:mod:`.ir`), with its ansätze and layout.

The PennyLane reference QNode lives in :mod:`.reference` (imported on demand:
PennyLane is slow to import).
"""

from qml_ops.circuits.ansatz import CONV_ANSATZE
from qml_ops.circuits.ir import Gate
from qml_ops.circuits.qcnn import QCNNSpec

__all__ = ["CONV_ANSATZE", "Gate", "QCNNSpec"]
