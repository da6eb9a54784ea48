"""Containers as local processes: resolving the program, starting it, signalling and reaping it.

The image is ignored; the host provides the programs. argv[0] is looked up in the agent's command map
first (`--command-map tritonserver=/path/to/stand-in`), then, when it has no '/', on the container's
PATH. Each run is its own session (process group = pid), so signals reach the whole tree, and it
gets SIGKILL should the agent itself die (PR_SET_PDEATHSIG), so no container outlives its kubelet.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import shutil
import signal
from collections.abc import Mapping
from pathlib import Path

PR_SET_PDEATHSIG = 1
START_ERROR_EXIT_CODE = 128  # what container runtimes report when exec fails


class StartError(RuntimeError):
    """The program could not be started (not found, not executable)."""


def resolve_argv(argv: list[str], command_map: Mapping[str, tuple[str, ...]], path: str) -> list[str]:
    if not argv:
        raise StartError("container has neither command nor args (no image entrypoint to fall back on)")
    program, rest = argv[0], argv[1:]
    if program in command_map:
        return [*command_map[program], *rest]
    if os.path.basename(program) in command_map and "/" in program:
        return [*command_map[os.path.basename(program)], *rest]
    if "/" in program:
        if not os.access(program, os.X_OK):
            raise StartError(f'exec: "{program}": no such file or not executable')
        return argv
    found = shutil.which(program, path=path)
    if found is None:
        raise StartError(f'exec: "{program}": executable file not found in $PATH')
    return [found, *rest]


def exit_code(returncode: int) -> int:
    """A Popen returncode in the container convention: killed by signal N -> 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def _die_with_agent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class Process:
    """One run of one container."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self._proc = proc
        self.pid = proc.pid
        self.term_sent = False
        self._waiter = asyncio.ensure_future(proc.wait())

    @classmethod
    async def spawn(cls, argv: list[str], env: Mapping[str, str], cwd: Path, log_path: Path) -> Process:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=asyncio.subprocess.STDOUT,
                    env=dict(env),
                    cwd=cwd,
                    start_new_session=True,
                    preexec_fn=_die_with_agent,
                )
            except OSError as exc:
                raise StartError(f'exec: "{argv[0]}": {exc.strerror}') from exc
        return cls(proc)

    @property
    def running(self) -> bool:
        return not self._waiter.done()

    async def wait(self) -> int:
        """The exit code (128 + signal when killed); the rest of its process group is killed then."""
        rc = await asyncio.shield(self._waiter)
        self._signal_group(signal.SIGKILL)  # leftovers of the tree must not outlive the container
        return exit_code(rc)

    def send(self, sig: signal.Signals) -> None:
        if sig == signal.SIGTERM:
            self.term_sent = True
        if self.running:
            self._signal_group(sig)

    def terminate_once(self) -> None:
        """SIGTERM unless already sent (a termination notice then a deletion must not signal twice)."""
        if not self.term_sent:
            self.send(signal.SIGTERM)

    async def stop(self, grace: float) -> int:
        """SIGTERM (once), up to `grace` seconds to exit, then SIGKILL."""
        if self.running:
            self.terminate_once()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._waiter), timeout=max(grace, 0))
        if self.running:
            self.send(signal.SIGKILL)
        return await self.wait()

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)
