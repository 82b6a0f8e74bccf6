"""Models-from-code entry of the QCNN pyfunc: MLflow stores this file with every
logged QCNN model and runs it, as stored, whenever the model is loaded.

It must stay this small and use only the public, stable name
``qml_ops.tracking.QCNNPyfuncModel``: a model version runs the copy of this
file it was logged with, whatever the package layout is by then.
"""

from mlflow.models import set_model

from qml_ops.tracking import QCNNPyfuncModel

set_model(QCNNPyfuncModel())
