"""List-then-watch against the API server, on plain dicts, relisting when the watch expires (410)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

WATCH_SECONDS = 240
RETRY_SECONDS = 1.0

OnList = Callable[[list[dict[str, Any]]], None]
OnEvent = Callable[[str, dict[str, Any]], None]


async def list_watch(
    list_fn: Callable[..., Awaitable[Any]], on_list: OnList, on_event: OnEvent, **selectors: Any
) -> None:
    """Run forever: `on_list` with every full listing, `on_event(type, object)` for each change."""
    while True:
        try:
            resp = await list_fn(**selectors, _preload_content=False, _request_timeout=60)
            try:
                listing = await resp.json()
            finally:
                resp.release()
            on_list(listing["items"])
            rv = listing["metadata"]["resourceVersion"]
            while True:
                rv = await _watch(list_fn, rv, on_event, selectors)
        except _Expired:
            continue
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            name = getattr(list_fn, "__name__", "")
            log.warning("watch %s (%s) failed: %s; relisting", name, selectors, exc)
            await asyncio.sleep(RETRY_SECONDS)


class _Expired(Exception):
    pass


async def _watch(
    list_fn: Callable[..., Awaitable[Any]], rv: str, on_event: OnEvent, selectors: dict[str, Any]
) -> str:
    resp = await list_fn(
        **selectors,
        watch=True,
        resource_version=rv,
        allow_watch_bookmarks=True,
        timeout_seconds=WATCH_SECONDS,
        _preload_content=False,
        _request_timeout=WATCH_SECONDS + 30,
    )
    try:
        async for line in resp.content:
            if not line.strip():
                continue
            event = json.loads(line)
            kind, obj = event["type"], event["object"]
            if kind == "ERROR":
                if obj.get("code") == 410:
                    raise _Expired
                raise RuntimeError(f"watch error: {obj.get('message')}")
            rv = obj["metadata"]["resourceVersion"]
            if kind != "BOOKMARK":
                on_event(kind, obj)
    finally:
        resp.release()
    return rv
