"""A local Prometheus and Alertmanager running the project's own rules and routing, as managed processes.

The servers are the real ones (built from Go modules by the toolchain: `prometheus`, `alertmanager`), and they
load monitoring/rules/portalis.rules.yaml and monitoring/alertmanager/alertmanager.yml. What a cluster
would supply differently is supplied here, and only that (docs/monitoring.md, "Running the alerting pipeline
locally"):

- the Secret mounts: every path under /etc/alertmanager/secrets/<secret>/<key> in alertmanager.yml is read
  from <secrets_dir>/<secret>/<key> instead (the same layout, so the same files a Secret would mount);
- where notifications go: Alertmanager's documented `global.pagerduty_url` (the Events API v2 endpoint)
  and the URL of each plain webhook receiver point at a local receiver;
- time: scrape and evaluation intervals, the routes' group_wait/group_interval/repeat_interval, and the
  `for:` of named alerts may be shortened, so that a test sees in seconds what production sees in minutes.
  Alert expressions, labels, annotations, routes, matchers and inhibitions stay exactly as shipped.
"""

from __future__ import annotations

import copy
import json
import socket
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from portalis_dev import processes
from portalis_dev.layout import REPO_ROOT
from portalis_dev.toolchain import ensure_built

RULES = REPO_ROOT / "monitoring" / "rules" / "portalis.rules.yaml"
ALERTMANAGER_CONFIG = REPO_ROOT / "monitoring" / "alertmanager" / "alertmanager.yml"
SECRETS_MOUNT = "/etc/alertmanager/secrets/"
ROUTE_TIMINGS = ("group_wait", "group_interval", "repeat_interval")


class AlertingError(RuntimeError):
    """A server did not start or answer; the message names its log."""


def load_yaml(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text())
    if not isinstance(doc, dict):
        raise AlertingError(f"{path} is not a YAML mapping")
    return doc


def rules_with_for(rules: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    """A copy of a rule file with the `for:` of the named alerts replaced (every rule of that name, e.g.
    both severities); nothing else changes. KeyError when a name matches no alert, so a renamed alert fails
    loudly."""
    out = copy.deepcopy(dict(rules))
    seen: set[str] = set()
    for group in out["groups"]:
        for rule in group["rules"]:
            name = rule.get("alert")
            if name in overrides:
                rule["for"] = overrides[name]
                seen.add(name)
    missing = set(overrides) - seen
    if missing:
        raise KeyError(f"no alert named {', '.join(sorted(missing))} in the rules")
    return out


def _routes(route: dict[str, Any]) -> Iterable[dict[str, Any]]:
    yield route
    for child in route.get("routes", []):
        yield from _routes(child)


def local_alertmanager_config(
    config: Mapping[str, Any],
    *,
    secrets_dir: Path,
    pagerduty_url: str,
    webhook_urls: Mapping[str, str],
    timings: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """alertmanager.yml as a local Alertmanager runs it (see the module docstring).

    `webhook_urls` maps a receiver name to the URL its `webhook_configs` with a literal `url` post to (a
    receiver that reads its URL from a secret file, `url_file`, gets it from `secrets_dir` like every secret).
    `timings` (group_wait, group_interval, repeat_interval) replace those of the root route and of every route
    that sets its own."""
    out = copy.deepcopy(dict(config))
    out.setdefault("global", {})["pagerduty_url"] = pagerduty_url

    def relocate(value: Any) -> Any:
        if isinstance(value, str) and value.startswith(SECRETS_MOUNT):
            return str(secrets_dir / value[len(SECRETS_MOUNT) :])
        if isinstance(value, dict):
            return {k: relocate(v) for k, v in value.items()}
        if isinstance(value, list):
            return [relocate(v) for v in value]
        return value

    out["receivers"] = relocate(out.get("receivers", []))
    for receiver in out["receivers"]:
        for hook in receiver.get("webhook_configs", []):
            if "url" in hook:
                if receiver["name"] not in webhook_urls:
                    raise KeyError(f"no local URL for the webhook receiver {receiver['name']!r}")
                hook["url"] = webhook_urls[receiver["name"]]
    for key, value in (timings or {}).items():
        if key not in ROUTE_TIMINGS:
            raise KeyError(f"{key!r} is not one of {', '.join(ROUTE_TIMINGS)}")
        for i, route in enumerate(_routes(out["route"])):
            if i == 0 or key in route:
                route[key] = value
    return out


def prometheus_config(
    scrape_targets: Mapping[str, Iterable[str]],
    alertmanager: str,
    rule_files: Iterable[Path],
    interval: str = "1s",
) -> dict[str, Any]:
    """prometheus.yml: one static scrape job per `scrape_targets` entry (job name -> host:port list), the
    rule files, and one Alertmanager (host:port)."""
    return {
        "global": {"scrape_interval": interval, "evaluation_interval": interval, "scrape_timeout": interval},
        "rule_files": [str(p) for p in rule_files],
        "alerting": {
            "alertmanagers": [{"api_version": "v2", "static_configs": [{"targets": [alertmanager]}]}]
        },
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": list(targets)}]}
            for job, targets in scrape_targets.items()
        ],
    }


def get_json(url: str, timeout: float = 5.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return json.loads(resp.read())


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@dataclass(frozen=True)
class Server:
    name: str
    url: str
    record: processes.Recorded
    log: Path


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _poll(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.2)
    return True


def _start(state_dir: Path, name: str, argv: list[str], url: str, timeout: float) -> Server:
    log = state_dir / "logs" / f"{name}.log"
    for rec in processes.recorded(state_dir):
        if rec.name == name:
            processes.stop(rec, state_dir)
    rec = processes.start(name, argv, state_dir)
    if not _poll(lambda: _ready(url + "/-/ready") or not processes.alive(rec), timeout):
        processes.stop(rec, state_dir)
        raise AlertingError(f"{name} was not ready after {timeout:.0f} s; log: {log}")
    if not processes.alive(rec):
        tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
        processes.stop(rec, state_dir)
        raise AlertingError(f"{name} exited during start-up; log: {log}\n{tail}")
    return Server(name, url, rec, log)


def start_alertmanager(
    state_dir: Path, config: Mapping[str, Any], name: str = "alertmanager", timeout: float = 60.0
) -> Server:
    """Alertmanager as managed process `name` (stopped by `portalis-dev down`), on a free loopback port,
    clustering off, its data under <state>/monitoring/<name>/."""
    binary = ensure_built(["alertmanager"])["alertmanager"]
    home = state_dir / "monitoring" / name
    home.mkdir(parents=True, exist_ok=True)
    (home / "alertmanager.yml").write_text(yaml.safe_dump(dict(config), sort_keys=False))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        str(binary),
        f"--config.file={home / 'alertmanager.yml'}",
        f"--storage.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        f"--web.external-url={url}",
        "--cluster.listen-address=",
    ]
    return _start(state_dir, name, argv, url, timeout)


def start_prometheus(
    state_dir: Path,
    rules: Mapping[str, Any],
    scrape_targets: Mapping[str, Iterable[str]],
    alertmanager: Server,
    name: str = "prometheus",
    interval: str = "1s",
    timeout: float = 60.0,
) -> Server:
    """Prometheus as managed process `name` with `rules` (written to its own file) and the given static scrape
    jobs, sending alerts to `alertmanager`; its TSDB under <state>/monitoring/<name>/."""
    binary = ensure_built(["prometheus"])["prometheus"]
    home = state_dir / "monitoring" / name
    home.mkdir(parents=True, exist_ok=True)
    rules_file = home / "portalis.rules.yaml"
    rules_file.write_text(yaml.safe_dump(dict(rules), sort_keys=False))
    am = urllib.parse.urlparse(alertmanager.url).netloc
    config = prometheus_config(scrape_targets, am, [rules_file], interval)
    (home / "prometheus.yml").write_text(yaml.safe_dump(config, sort_keys=False))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        str(binary),
        f"--config.file={home / 'prometheus.yml'}",
        f"--storage.tsdb.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        # Firing alerts are re-sent at most this often; resolved ones are sent at once either way.
        f"--rules.alert.resend-delay={interval}",
    ]
    return _start(state_dir, name, argv, url, timeout)


def stop(server: Server, state_dir: Path) -> None:
    processes.stop(server.record, state_dir)


def query(prometheus: Server, promql: str) -> list[dict[str, Any]]:
    """The result vector of an instant query."""
    data = get_json(f"{prometheus.url}/api/v1/query?{urllib.parse.urlencode({'query': promql})}")
    if data.get("status") != "success":
        raise AlertingError(f"query {promql!r} failed: {data}")
    return list(data["data"]["result"])


def alerts(prometheus: Server) -> list[dict[str, Any]]:
    """Prometheus' pending and firing alerts."""
    return list(get_json(f"{prometheus.url}/api/v1/alerts")["data"]["alerts"])
