"""qml-ops: experiment tracking MLOps for hybrid quantum machine learning.

Train in simulation, track in MLflow, version data with DVC, validate on QPUs.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
