"""A local stand-in for PagerDuty's Events API v2 (and for plain Alertmanager webhooks): tests, the demo.

`validate_event` checks one request body against the Events API v2 format as PagerDuty documents it
(developer.pagerduty.com, "Send an Alert Event" / "Send a Change Event" are different endpoints: this is the
alert one, POST /v2/enqueue). `Receiver` is a small HTTP server that records every request, answers an
invalid event with 400 as PagerDuty does, and lets a caller wait for the request it expects.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ENQUEUE_PATH = "/v2/enqueue"
WEBHOOK_PREFIX = "/webhook/"

EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "error", "warning", "info")
_TOP_LEVEL = {
    "routing_key",
    "event_action",
    "dedup_key",
    "payload",
    "images",
    "links",
    "client",
    "client_url",
}
_PAYLOAD = {"summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"}
_MAX_DEDUP_KEY = 255
_MAX_SUMMARY = 1024


def _is_str(value: object) -> bool:
    return isinstance(value, str)


def validate_event(body: object) -> list[str]:
    """The problems of one Events API v2 alert event (empty when valid).

    Required: `routing_key`; `event_action` (trigger | acknowledge | resolve); `dedup_key` for acknowledge and
    resolve (at most 255 characters); for trigger a `payload` with `summary` (at most 1024 characters),
    `source` and `severity` (critical | error | warning | info), an optional ISO 8601 `timestamp` and an
    object `custom_details`. `links` are objects with an `href` (and optional `text`); `images` have a `src`.
    """
    if not isinstance(body, dict):
        return ["the body is not a JSON object"]
    problems = [f"unknown field {k!r}" for k in sorted(set(body) - _TOP_LEVEL)]
    if not _is_str(body.get("routing_key")) or not body.get("routing_key"):
        problems.append("routing_key is missing or not a string")
    action = body.get("event_action")
    if action not in EVENT_ACTIONS:
        problems.append(f"event_action {action!r} is not one of {', '.join(EVENT_ACTIONS)}")
    dedup = body.get("dedup_key")
    if dedup is not None and (not _is_str(dedup) or not dedup or len(dedup) > _MAX_DEDUP_KEY):
        problems.append("dedup_key is not a string of 1 to 255 characters")
    if action in ("acknowledge", "resolve") and dedup is None:
        problems.append(f"dedup_key is required for {action}")
    payload = body.get("payload")
    if action == "trigger" and payload is None:
        problems.append("payload is required for trigger")
    if payload is not None:
        problems += _payload_problems(payload)
    for key, required in (("links", "href"), ("images", "src")):
        items = body.get(key, [])
        if not isinstance(items, list) or not all(
            isinstance(i, dict) and _is_str(i.get(required)) for i in items
        ):
            problems.append(f"{key} must be a list of objects with a string {required!r}")
    for key in ("client", "client_url"):
        if key in body and not _is_str(body[key]):
            problems.append(f"{key} is not a string")
    return problems


def _payload_problems(payload: object) -> list[str]:
    if not isinstance(payload, dict):
        return ["payload is not an object"]
    problems = [f"unknown payload field {k!r}" for k in sorted(set(payload) - _PAYLOAD)]
    summary = payload.get("summary")
    if not _is_str(summary) or not summary or len(summary) > _MAX_SUMMARY:
        problems.append("payload.summary is not a string of 1 to 1024 characters")
    if not _is_str(payload.get("source")) or not payload.get("source"):
        problems.append("payload.source is missing")
    if payload.get("severity") not in SEVERITIES:
        problems.append(f"payload.severity {payload.get('severity')!r} is not one of {', '.join(SEVERITIES)}")
    if "timestamp" in payload:
        try:
            datetime.fromisoformat(str(payload["timestamp"]))
        except ValueError:
            problems.append(f"payload.timestamp {payload['timestamp']!r} is not ISO 8601")
    for key in ("component", "group", "class"):
        if key in payload and not _is_str(payload[key]):
            problems.append(f"payload.{key} is not a string")
    if "custom_details" in payload and not isinstance(payload["custom_details"], dict):
        problems.append("payload.custom_details is not an object")
    return problems


@dataclass(frozen=True)
class Request:
    """One request the receiver got: its path, its JSON body (None when not JSON), and, for the Events API
    path, the problems `validate_event` found."""

    path: str
    body: Any
    problems: tuple[str, ...] = ()
    at: float = field(default_factory=time.time)

    @property
    def is_event(self) -> bool:
        return self.path == ENQUEUE_PATH


class Receiver:
    """HTTP server on 127.0.0.1 (a free port): POST /v2/enqueue is PagerDuty's Events API v2 (202 when the
    event is valid, 400 with the problems otherwise); POST /webhook/<name> takes any JSON (Alertmanager's
    webhook receivers). Use as a context manager; `requests` is in arrival order."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._lock = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                if self.path == ENQUEUE_PATH:
                    problems = tuple(validate_event(body))
                    status = 400 if problems else 202
                    answer: dict[str, Any] = (
                        {"status": "invalid event", "message": "Event object is invalid", "errors": problems}
                        if problems
                        else {
                            "status": "success",
                            "message": "Event processed",
                            "dedup_key": body.get("dedup_key"),
                        }
                    )
                elif self.path.startswith(WEBHOOK_PREFIX):
                    problems, status, answer = (), 200, {}
                else:
                    self.send_error(404)
                    return
                receiver._record(Request(self.path, body, problems))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="pagerduty-receiver", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def enqueue_url(self) -> str:
        return self.url + ENQUEUE_PATH

    def webhook_url(self, name: str) -> str:
        return self.url + WEBHOOK_PREFIX + name

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)
            self._lock.notify_all()

    def snapshot(self) -> list[Request]:
        with self._lock:
            return list(self.requests)

    def wait_for(
        self, match: Callable[[Request], bool], timeout: float, what: str, after: int = 0
    ) -> Request:
        """The first request from index `after` on that `match`es, waiting up to `timeout` seconds for it."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                for request in self.requests[after:]:
                    if match(request):
                        return request
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(r.path, _brief(r.body)) for r in self.requests[after:]]
                    raise TimeoutError(f"no {what} within {timeout:.0f} s; received: {seen}")
                self._lock.wait(left)


def _brief(body: Any) -> Any:
    if isinstance(body, Mapping) and "event_action" in body:
        payload = body.get("payload") or {}
        return {
            "event_action": body["event_action"],
            "class": payload.get("class"),
            "dedup_key": body.get("dedup_key"),
        }
    if isinstance(body, Mapping) and "status" in body:
        return {
            "status": body["status"],
            "alerts": [a.get("labels", {}).get("alertname") for a in body.get("alerts", [])],
        }
    return body
