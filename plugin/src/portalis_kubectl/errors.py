"""Exit codes and the one error type every command raises (printed as one line, never a traceback)."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """`kubectl portalis` exit codes (docs/kubectl-plugin.md)."""

    OK = 0
    JOB_FAILED = 1  # the job ended Failed (submit --wait, watch)
    USAGE = 2  # bad arguments or input (argparse uses 2 too)
    NOT_FOUND = 3  # the job, its output or a file is not there
    API = 4  # the API server refused or could not be reached (forbidden, invalid, connection)
    TIMEOUT = 5  # --timeout ran out
    TRANSFER = 6  # a transfer pod failed, or what came back does not match its digest
    INTERRUPTED = 130  # Ctrl-C


class PluginError(Exception):
    """A problem the user can act on; `str()` is the whole message."""

    def __init__(self, message: str, code: Exit = Exit.USAGE) -> None:
        super().__init__(message)
        self.code = code
