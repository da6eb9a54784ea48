"""First-seen times of objects in a watch, for the admission benchmark's timings (operator_admission.py
for pods, kueue_side.py for Workloads and the Job controller's pods)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from portalis_dev.demo import wait_until


class FirstSeen:
    """Records the local time at which each key is first seen in a watch. `stream` is a list call of the
    Kubernetes client (watch arguments are added); `key(obj)` names what an event is about, or None while
    it is not there yet.

    Reads the watch as raw JSON lines: decoding every event into the client's models made this thread,
    not what is measured, the bottleneck at 5,000 pods on a loaded machine. Resumes from the last
    resourceVersion; lists again (a new watch) after 410."""

    def __init__(self, stream: Callable[..., Any], key: Callable[[dict[str, Any]], str | None]) -> None:
        self.seen: dict[str, float] = {}
        self._key = key
        self._stream_fn = stream
        self._stop = threading.Event()
        self._resp: Any = None
        self._version: str | None = None
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._stream()
            except Exception:
                if self._stop.is_set():
                    return
                time.sleep(0.5)

    def _stream(self) -> None:
        self._resp = self._stream_fn(
            watch=True,
            timeout_seconds=30,
            allow_watch_bookmarks=True,
            resource_version=self._version,
            _preload_content=False,
        )
        try:
            for line in self._resp:
                if not line.strip():
                    continue
                ev = json.loads(line)
                obj = ev.get("object") or {}
                if ev.get("type") == "ERROR":
                    self._version = None
                    return
                self._version = (obj.get("metadata") or {}).get("resourceVersion") or self._version
                if ev.get("type") in ("ADDED", "MODIFIED"):
                    k = self._key(obj)
                    if k is not None:
                        self.seen.setdefault(k, time.monotonic())
                if self._stop.is_set():
                    return
        finally:
            self._resp.release_conn()

    def wait_for(self, count: int, timeout: float, what: str) -> None:
        """Until `count` keys are seen (the demo library's one wait helper); DemoError on timeout."""
        wait_until(lambda: len(self.seen) >= count, timeout, f"{count} {what}", interval=0.05)

    def stop(self) -> None:
        self._stop.set()
        resp = self._resp
        if resp is not None:
            with contextlib.suppress(Exception):
                resp.close()
