"""Braket and S3 calls: clients from the standard credential chain, bounded retries.

Only throttling and transient errors (HTTP 5xx, the throttling codes, dropped
connections) are retried, with exponential backoff and full jitter; every other
error propagates at once. Errors are described as ``Code: message``, never with
request parameters or credentials.

Example:
    >>> braket, s3 = braket_clients("eu-north-1")                    # doctest: +SKIP
    >>> read(braket.get_device, "GetDevice", deviceArn=arn)           # doctest: +SKIP
"""

from __future__ import annotations

import logging
import random
from typing import Any, Callable

from qml_ops.errors import HardwareError
from qml_ops.hardware.qpu import clock

__all__ = ["READ_ATTEMPTS", "CREATE_ATTEMPTS", "BACKOFF_BASE_S", "BACKOFF_CAP_S", "braket_clients",
           "credentials_problem", "describe_error", "is_transient", "read", "retrying"]

log = logging.getLogger(__name__)

READ_ATTEMPTS, CREATE_ATTEMPTS = 6, 4
BACKOFF_BASE_S, BACKOFF_CAP_S = 0.5, 16.0
TRANSIENT_CODES = frozenset({
    "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
    "InternalServiceException", "InternalServerException", "InternalError",
    "ServiceUnavailableException", "ServiceUnavailable", "RequestTimeout",
    "RequestTimeoutException", "SlowDown", "PriorRequestNotComplete",
})


def _error_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return response.get("Error", {}).get("Code")
    return None


def is_transient(exc: BaseException) -> bool:
    """True for an error worth retrying: throttling, HTTP 5xx, a dropped connection."""
    from botocore.exceptions import (
        ClientError, ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError,
        ReadTimeoutError,
    )

    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return _error_code(exc) in TRANSIENT_CODES or int(status) >= 500
    return isinstance(exc, (EndpointConnectionError, ConnectionClosedError, ConnectTimeoutError,
                            ReadTimeoutError))


def describe_error(exc: BaseException) -> str:
    """An AWS error as ``Code: message`` (never request parameters or credentials)."""
    code = _error_code(exc)
    if code is not None:
        return f"{code}: {exc.response.get('Error', {}).get('Message', '')}".rstrip(": ")
    return type(exc).__name__


def retrying(fn: Callable, what: str, attempts: int, **kwargs: Any):
    """Call ``fn(**kwargs)``, retrying throttling and transient errors with bounded
    exponential backoff (full jitter). Other errors propagate at once.

    Args:
        fn: a boto3 client method.
        what: the call as people read it (logged with each retry).
        attempts: calls at most (>= 1).
    """
    for attempt in range(attempts):
        try:
            return fn(**kwargs)
        except Exception as exc:
            if attempt == attempts - 1 or not is_transient(exc):
                raise
            delay = random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** attempt))
            log.info("%s: %s, retrying in %.1f s (%d/%d)", what, describe_error(exc), delay,
                     attempt + 1, attempts - 1)
            clock.sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover


def read(fn: Callable, what: str, **kwargs: Any):
    """A read (get/search), retried; failures become :class:`HardwareError`."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return retrying(fn, what, READ_ATTEMPTS, **kwargs)
    except (ClientError, BotoCoreError) as exc:
        raise HardwareError(f"{what} failed: {describe_error(exc)}") from None


def credentials_problem(region: str) -> str | None:
    """Why the standard AWS credential chain gives no credentials for ``region``,
    or ``None`` if it does (the message never shows a key)."""
    import boto3
    from botocore.exceptions import BotoCoreError

    try:
        credentials = boto3.Session(region_name=region).get_credentials()
    except BotoCoreError as exc:
        return f"cannot load AWS credentials ({type(exc).__name__})"
    if credentials is None:
        return ("no AWS credentials found: configure the standard chain (AWS_PROFILE, ~/.aws/credentials, "
                "SSO or an instance role)")
    return None


def braket_clients(region: str, braket_client=None, s3_client=None):
    """Braket and S3 clients for ``region`` from the standard AWS credential chain.

    Injected clients are used as they are (their region must be ``region``).

    Raises:
        HardwareError: without credentials (the message never shows a key) or
            for an injected client of another region.
    """
    if braket_client is None or s3_client is None:
        import boto3
        from botocore.exceptions import BotoCoreError

        try:
            session = boto3.Session(region_name=region)
            credentials = session.get_credentials()
        except BotoCoreError as exc:
            raise HardwareError(f"cannot load AWS credentials ({type(exc).__name__})") from None
        if credentials is None:
            raise HardwareError(
                "no AWS credentials found: configure the standard chain (AWS_PROFILE, "
                "~/.aws/credentials, SSO or an instance role) and retry; nothing was submitted"
            )
        braket_client = braket_client or session.client("braket")
        s3_client = s3_client or session.client("s3")
    got = braket_client.meta.region_name
    if got != region:
        raise HardwareError(f"the Braket client is for region {got}, but the device is in {region}")
    return braket_client, s3_client
