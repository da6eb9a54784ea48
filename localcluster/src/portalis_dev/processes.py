"""Background processes of a control plane: started in their own session, tracked by pid file.

A pid file records the pid and the binary it ran, so `stop` never signals an unrelated process that
happens to reuse the pid after a crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

_PF_KTHREAD = 0x00200000  # /proc/<pid>/stat flags bit of kernel threads (which have no command line)


@dataclass(frozen=True)
class Recorded:
    name: str
    pid: int
    exe: str


def start(name: str, argv: list[str], state_dir: Path, env: dict[str, str] | None = None) -> Recorded:
    """Start argv in a new session with output to logs/<name>.log and record it in pids/<name>.pid."""
    logs = state_dir / "logs"
    pids = state_dir / "pids"
    logs.mkdir(parents=True, exist_ok=True)
    pids.mkdir(parents=True, exist_ok=True)
    with (logs / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
            cwd=state_dir,
        )
    rec = Recorded(name, proc.pid, argv[0])
    (pids / f"{name}.pid").write_text(f"{rec.pid}\n{rec.exe}\n")
    if env is None:  # restartable as it was (`restart`): no environment of its own to keep
        (pids / f"{name}.argv").write_text(json.dumps(argv))
    return rec


def restart(name: str, state_dir: Path) -> Recorded:
    """Start `name` again with the argv it was last started with, after `stop` (a component brought back
    after an outage). Only for processes started without an environment of their own."""
    saved = state_dir / "pids" / f"{name}.argv"
    if not saved.is_file():
        raise RuntimeError(f"{name}: no saved command line to restart it with")
    if any(r.name == name and alive(r) for r in recorded(state_dir)):
        raise RuntimeError(f"{name} is still running")
    return start(name, json.loads(saved.read_text()), state_dir)


def recorded(state_dir: Path) -> list[Recorded]:
    out: list[Recorded] = []
    pids = state_dir / "pids"
    if not pids.is_dir():
        return out
    for f in sorted(pids.glob("*.pid")):
        lines = f.read_text().splitlines()
        if len(lines) >= 2 and lines[0].strip().isdigit():
            out.append(Recorded(f.stem, int(lines[0]), lines[1]))
    return out


def alive(rec: Recorded) -> bool:
    """True when rec.pid runs rec.exe (and is not a zombie)."""
    try:
        stat = Path(f"/proc/{rec.pid}/stat").read_text()
        cmdline = Path(f"/proc/{rec.pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    fields = stat.rsplit(")", 1)[-1].split()
    state, flags = fields[0], int(fields[6])
    if state in ("Z", "X") or flags & _PF_KTHREAD:
        return False
    argv = [a.decode(errors="replace") for a in cmdline[:2]]
    # Right after exec (while a large binary is being mapped) the kernel shows an empty command line
    # for a moment: the process exists and is ours. A script started through its shebang line runs as
    # `<interpreter> <script>`, so the recorded program may also be the second word.
    return not argv or argv[0] in ("", rec.exe) or (len(argv) > 1 and argv[1] == rec.exe)


def _reap(pid: int) -> None:
    # Children of this very process (started by `up` in the same Python) must be reaped to vanish.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def stop(rec: Recorded, state_dir: Path, grace: float = 10.0) -> None:
    """SIGTERM the process group, SIGKILL after `grace` seconds, and forget the pid file."""
    if alive(rec):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(rec.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while alive(rec) and time.monotonic() < deadline:
            _reap(rec.pid)
            time.sleep(0.1)
        if alive(rec):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(rec.pid, signal.SIGKILL)
            deadline = time.monotonic() + 5
            while alive(rec) and time.monotonic() < deadline:
                _reap(rec.pid)
                time.sleep(0.05)
        if alive(rec):
            raise RuntimeError(f"{rec.name} (pid {rec.pid}) survived SIGKILL")
    _reap(rec.pid)
    (state_dir / "pids" / f"{rec.name}.pid").unlink(missing_ok=True)
