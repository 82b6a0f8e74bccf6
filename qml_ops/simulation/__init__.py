"""Batched, differentiable state-vector simulation of the QCNN in torch."""

from qml_ops.simulation.engine import BatchedSimulator

__all__ = ["BatchedSimulator"]
