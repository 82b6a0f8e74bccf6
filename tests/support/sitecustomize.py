"""Test support: record which project files a stage script reads.

Put this folder first on ``PYTHONPATH`` and set ``QML_OPS_TRACE_READS`` to a
file: every Python process started that way appends one line per file it
opens for reading, ``<script>\\t<path>``, where ``<script>`` is the process's
``sys.argv[0]`` as given. ``tests/test_pipeline_full.py`` uses it to check that
each DVC stage lists every file it reads as a dependency.
"""

import os
import sys

_TRACE = os.environ.get("QML_OPS_TRACE_READS")

if _TRACE:
    _seen: set = set()

    def _hook(event, args):
        if event != "open" or not args:
            return
        path, mode = args[0], (args[1] if len(args) > 1 else "r")
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        if not isinstance(path, (str, bytes, os.PathLike)) or isinstance(path, int):
            return
        if mode and any(c in str(mode) for c in "wax+"):
            return
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND):
            return
        try:
            text = os.path.abspath(os.fsdecode(path))
        except (TypeError, ValueError):
            return
        if not os.path.isfile(text):
            return
        script = sys.argv[0] if sys.argv and sys.argv[0] else "?"
        key = (script, text)
        if key in _seen or text == _TRACE:
            return
        _seen.add(key)
        with open(_TRACE, "a", encoding="utf-8") as out:  # our own open: not a read, skipped above
            out.write(f"{script}\t{text}\n")

    sys.addaudithook(_hook)
