"""One exception hierarchy for qml-ops.

Every error a user can cause derives from :class:`QmlOpsError`; the CLI and the
stage entry points print its message (no traceback) and exit with
:attr:`QmlOpsError.exit_code`.
"""

from __future__ import annotations


class QmlOpsError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""

    exit_code = 1


class ConfigError(QmlOpsError):
    """params.yaml (or a CLI argument) has a bad key, type, value or combination."""

    exit_code = 2


class DataError(QmlOpsError):
    """An input file is missing, unreadable or holds unusable data."""

    exit_code = 1


class ModelError(QmlOpsError):
    """A model cannot be built, trained (diverged) or used with the given input."""

    exit_code = 1


class ModelInputError(ModelError, ValueError):
    """Features or labels a model cannot take (shape, NaN/inf, not two classes).

    Also a ``ValueError``, as scikit-learn's tools expect of an estimator's input checks.
    """


class TrackingError(QmlOpsError):
    """MLflow tracking or registry problem (missing alias, unknown model)."""

    exit_code = 1


class HardwareError(QmlOpsError):
    """Device catalogue, calibration profile, compilation or submission problem."""

    exit_code = 1


class BudgetError(HardwareError):
    """A hardware spend was not estimated, within budget and approved."""

    exit_code = 1
