"""The clock of QPU runs: sleeping, elapsed time and UTC now, in one replaceable place.

Everything under :mod:`qml_ops.hardware.qpu` reads time through these module
attributes (``clock.sleep(...)``, not an imported name), so a test replaces them
once for all modules: no real sleeping between retries or polls, a fixed "now"
for execution windows.

Example:
    >>> monkeypatch.setattr(clock, "sleep", sleeps.append)        # doctest: +SKIP
    >>> monkeypatch.setattr(clock, "utcnow", lambda: FIXED_UTC)    # doctest: +SKIP
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Callable

sleep: Callable[[float], None] = time.sleep
monotonic: Callable[[], float] = time.monotonic


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(tz=timezone.utc)
