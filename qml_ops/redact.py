"""Secrets out of what qml-ops prints and records.

Store URLs (an Optuna RDB, an MLflow tracking server or database) may carry a
password (``postgresql://user:secret@host/db``); everything that reaches a log,
an error message, an MLflow tag or a file goes through :func:`redact_url`.

Example:
    >>> redact_url("postgresql+psycopg2://optuna:s3cret@db-host:5432/optuna")
    'postgresql+psycopg2://optuna:***@db-host:5432/optuna'
    >>> redact_url("https://alice:token@mlflow.example.org")
    'https://alice:***@mlflow.example.org'
"""

from __future__ import annotations

import re

__all__ = ["redact_url"]

_USERINFO_PASSWORD = re.compile(r"(://[^:/@\s]+):[^@\s]*@")


def redact_url(url: str) -> str:
    """``url`` with the password of its user-info part replaced by ``***``."""
    return _USERINFO_PASSWORD.sub(r"\1:***@", url)
