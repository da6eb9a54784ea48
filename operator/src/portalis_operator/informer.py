"""A cache of one kind of object kept current by a watch: list once, then follow the watch stream.

Each object is reduced on arrival (`reduce(raw) -> value | None`) to the compact value the loop needs;
objects reduced to None are not kept, so the cache holds only what matters (our worker pods, pods that
hold GPUs, pool nodes) and never a raw object. Every change reaches `on_change(key, old, new)`.

Restart and relist safety: the watch resumes from the last resourceVersion seen (bookmarks included).
When the API server has compacted that version away (410 Gone, or an ERROR event with code 410), the
informer lists again and reports the difference to the previous contents as changes: objects deleted
while nobody watched are reported as deleted, so no decision rests on an object that no longer exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Generic, TypeVar

from kubernetes_asyncio.client.exceptions import ApiException

log = logging.getLogger(__name__)

V = TypeVar("V")
Key = tuple[str, str]
"""(namespace, name); namespace "" for cluster-scoped objects."""

PAGE = 500
WATCH_SECONDS = 300  # the API server ends each watch after this; the informer resumes it
RETRY_SECONDS = 1.0


class Expired(Exception):
    """The resourceVersion to resume from is gone (410): list again."""


def _version(raw: Mapping[str, Any]) -> int:
    """An object's resourceVersion as a number, to order our own writes against watch events of the
    same object. Opaque by contract; etcd's revision in practice. Unreadable: 0 (never skips)."""
    try:
        return int((raw.get("metadata") or {}).get("resourceVersion") or 0)
    except ValueError:
        return 0


async def checked(resp: Any) -> Any:
    """A response of a call made with `_preload_content=False`: the client raises for errors only when
    it reads the body itself, so an error status is raised here (ApiException, with the API server's
    message as its reason and its body, as the client would)."""
    if 200 <= resp.status <= 299:
        return resp
    try:
        body = await resp.read()
    finally:
        resp.release()
    try:
        message = str(json.loads(body).get("message") or resp.reason)
    except (ValueError, AttributeError):
        message = str(resp.reason)
    exc = ApiException(status=resp.status, reason=message)
    exc.body = body
    raise exc


def reason_of(exc: ApiException) -> str:
    """The API server's message in a refusal, or the HTTP reason when its body has none."""
    try:
        return str(json.loads(exc.body or b"{}").get("message", exc.reason))
    except (ValueError, TypeError, AttributeError):
        return str(exc.reason)


async def read_json(resp: Any) -> Any:
    """The JSON body of a checked response, read and released."""
    try:
        return json.loads(await resp.read())
    finally:
        resp.release()


async def sent(call: Callable[[], Awaitable[Any]]) -> None:
    """A write made with `_preload_content=False` whose answer nobody reads: its status checked (an error
    raises ApiException, as `checked`), its body read (so the connection is kept for the next request)
    and dropped, never decoded into the client's models. `call` is made only when this is awaited (a
    write dropped before it starts leaves no coroutine behind). A test's stand-in client answers None."""
    resp = await call()
    if resp is None or not hasattr(resp, "read"):
        return
    resp = await checked(resp)
    try:
        await resp.read()
    finally:
        resp.release()


def key_of(raw: Mapping[str, Any]) -> Key:
    meta = raw.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


class Informer(Generic[V]):
    """`list_fn` is a kubernetes_asyncio list call (the informer adds paging, watch and raw JSON);
    `kwargs` its fixed arguments (namespace, label or field selector)."""

    def __init__(
        self,
        name: str,
        list_fn: Callable[..., Awaitable[Any]],
        reduce: Callable[[Mapping[str, Any]], V | None],
        on_change: Callable[[Key, V | None, V | None], None],
        **kwargs: Any,
    ) -> None:
        self.name = name
        self.items: dict[Key, V] = {}
        self.synced = asyncio.Event()
        self.relists = 0  # lists after the first (410s): a figure for tests and logs
        self.connected = False  # the last list or watch request was answered; False after an error
        self.resource_version: str | None = None  # where the watch resumes; None: list first
        self._assumed: dict[Key, int] = {}  # our own writes, ahead of the watch: key -> resourceVersion
        self._seen: dict[Key, int] = {}  # the version of each object the store holds, where readable
        self._list_fn = list_fn
        self._reduce = reduce
        self._on_change = on_change
        self._kwargs = kwargs

    async def run(self) -> None:
        """List, then watch for ever; errors are logged and retried, a 410 lists again."""
        while True:
            try:
                if self.resource_version is None:
                    await self.relist()
                await self.watch()
            except asyncio.CancelledError:
                raise
            except Expired:
                log.info("%s: resourceVersion %s expired; listing again", self.name, self.resource_version)
                self.resource_version = None
            except Exception as exc:  # the API server restarted, a connection dropped: resume shortly
                self.connected = False
                log.warning("%s: watch interrupted (%s); resuming", self.name, exc)
                await asyncio.sleep(RETRY_SECONDS)

    async def relist(self) -> None:
        """Replace the contents with a fresh list, reporting every difference as a change."""
        fresh: dict[Key, V] = {}
        seen: dict[Key, int] = {}
        kw: dict[str, Any] = {"limit": PAGE, **self._kwargs}
        version = ""
        while True:
            data = await self._request(**kw)
            version = str((data.get("metadata") or {}).get("resourceVersion") or version)
            for raw in data.get("items") or ():
                value = self._reduce(raw)
                if value is not None:
                    fresh[key_of(raw)] = value
                    seen[key_of(raw)] = _version(raw)
            token = (data.get("metadata") or {}).get("continue")
            if not token:
                break
            kw = {"limit": PAGE, "_continue": token, **self._kwargs}
        if self.synced.is_set():
            self.relists += 1
        self._assumed.clear()  # a list is a consistent read, newer than anything written before it
        self._seen = seen
        old, self.items = self.items, fresh
        for key in old.keys() - fresh.keys():
            self._on_change(key, old[key], None)
        for key, value in fresh.items():
            if old.get(key) != value:
                self._on_change(key, old.get(key), value)
        self.resource_version = version
        self.connected = True
        self.synced.set()

    async def watch(self) -> None:
        """Follow the watch from `resource_version` until the server ends it."""
        try:
            resp = await checked(
                await self._list_fn(
                    watch=True,
                    resource_version=self.resource_version,
                    allow_watch_bookmarks=True,
                    timeout_seconds=WATCH_SECONDS,
                    _preload_content=False,
                    _request_timeout=WATCH_SECONDS + 30,
                    **self._kwargs,
                )
            )
        except ApiException as exc:
            if exc.status == 410:
                raise Expired(exc.reason) from exc
            raise
        self.connected = True
        try:
            while line := await resp.content.readline():
                self.apply(json.loads(line))
        finally:
            with contextlib.suppress(Exception):
                resp.release()

    def apply(self, event: Mapping[str, Any]) -> None:
        """One watch event: the store and `resource_version` follow it; an expired version raises."""
        kind = event.get("type")
        raw = event.get("object") or {}
        if kind == "ERROR":
            if raw.get("code") == 410:
                raise Expired(raw.get("message"))
            raise ApiException(status=raw.get("code"), reason=raw.get("message"))
        version = (raw.get("metadata") or {}).get("resourceVersion")
        if version:
            self.resource_version = str(version)
        if kind == "BOOKMARK":
            return
        key = key_of(raw)
        assumed = self._assumed.get(key)
        if assumed is not None:
            if kind != "DELETED" and _version(raw) <= assumed:
                if _version(raw) == assumed:
                    del self._assumed[key]  # the echo of our own write: the store holds it already
                return  # older than our own write, or the write itself: nothing to reduce again
            del self._assumed[key]
        old = self.items.get(key)
        new = None if kind == "DELETED" else self._reduce(raw)
        if new is None:
            self.items.pop(key, None)
            self._seen.pop(key, None)
        else:
            self.items[key] = new
            self._seen[key] = _version(raw)
        if old != new:
            self._on_change(key, old, new)

    def assume(self, raw: Mapping[str, Any]) -> None:
        """The object as our own write left it (the API server's answer), stored before the watch
        delivers it: the next cycle must not decide on the state before the write (admitting onto
        GPUs it just gave away). Watch events older than it are skipped until it arrives."""
        key = key_of(raw)
        version = _version(raw)
        if version <= self._assumed.get(key, -1) or version <= self._seen.get(key, -1):
            return  # the store already holds this version or a newer one
        self._assumed[key] = version
        self._seen[key] = version
        old = self.items.get(key)
        new = self._reduce(raw)
        if new is None:
            self.items.pop(key, None)
        else:
            self.items[key] = new
        if old != new:
            self._on_change(key, old, new)

    async def _request(self, **kw: Any) -> dict[str, Any]:
        try:
            resp = await checked(await self._list_fn(_preload_content=False, **kw))
        except ApiException as exc:
            if exc.status == 410:  # a continue token outlived its version: start the list again
                raise Expired(exc.reason) from exc
            raise
        data: dict[str, Any] = await read_json(resp)
        return data
