"""ConfigMap output (`spec.output.configMap`): the shards' ledgers and the crate in ConfigMaps.

The shards of a job run in separate pods, so with an emptyDir output their ledgers never meet and the
crate never assembles. With a ConfigMap output the operator creates, owned by the job, one ConfigMap per
shard (`<pod>-ledger`) and the output ConfigMap, each annotated with the pods whose tokens may update it
(`protocol.WRITERS_ANNOTATION`; the chart's worker-token policy enforces it). Then:

- each shard mirrors its ledger, gzip'd, into its own ConfigMap at checkpoints (best effort) and when it
  finishes (required: the shard exits 3, transient, if the API server does not take it in time);
- a shard that starts without a local ledger (a pod replaced after a reclaim, an emptyDir lost with its
  node) restores it from that ConfigMap, so finished work is kept without a PVC;
- a finished shard, after mirroring its final ledger, reads every shard's ledger ConfigMap; when all are
  done it assembles the crate (`loop.assemble_if_complete`) and writes it, as a deterministic tar.gz, into
  the output ConfigMap. Each shard writes its own ledger before it reads the others', so the last one to
  finish always sees all done; shards that finish together write the same bytes.

A value over `CONFIGMAP_MAX_BYTES` is refused here with `OutputRefused` (exit 5: use a PVC output), never
sent. Pure encoding (`pack_*`, `unpack_*`) is apart from the API client (`ConfigMapClient`).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import logging
import ssl
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from portalis_worker.assignment import Assignment
from portalis_worker.ledger import ledger_path
from portalis_worker.protocol import (
    CONFIGMAP_MAX_BYTES,
    CRATE_KEY,
    LEDGER_KEY,
    WRITERS_ANNOTATION,
    ResultReport,
)

LOG = logging.getLogger(__name__)

REQUEST_TIMEOUT_SECONDS = 10.0
FINAL_WRITE_DEADLINE_SECONDS = 600.0
"""How long a finished shard keeps trying to write its final ledger (and the crate) while the API
server is unreachable, before it exits 3 (transient) and is retried."""
MIN_MIRROR_SECONDS = 5.0


class OutputRefused(Exception):
    """The output cannot be written and retrying cannot help (exit 5): too big, or not this job's."""


class ApiUnavailable(Exception):
    """The API server did not answer, or answered with a transient error, until the deadline."""


# --- encoding (pure) -------------------------------------------------------------------------------


def pack_ledger(data: bytes) -> bytes:
    """The ledger's complete records (a torn last line is left out), gzip'd deterministically."""
    end = data.rfind(b"\n") + 1
    return gzip.compress(data[:end], mtime=0)


def unpack_ledger(payload: bytes) -> bytes:
    return gzip.decompress(payload)


def pack_crate(files: Mapping[str, bytes]) -> bytes:
    """A tar.gz of the crate's files (relative POSIX paths): sorted, no times, owners or modes but 0644,
    so the same crate gives the same bytes in every shard."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files, key=lambda p: p.encode("utf-8")):
            info = tarfile.TarInfo(path)
            info.size = len(files[path])
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(files[path]))
    return gzip.compress(raw.getvalue(), mtime=0)


def unpack_crate(payload: bytes) -> dict[str, bytes]:
    """The files of a packed crate; refuses members that are not plain files inside the archive."""
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(payload)), mode="r:") as tar:
        for member in tar.getmembers():
            parts = member.name.split("/")
            if not member.isfile() or member.name.startswith("/") or ".." in parts:
                raise ValueError(f"unexpected member {member.name!r} in the crate archive")
            extracted = tar.extractfile(member)
            assert extracted is not None
            out[member.name] = extracted.read()
    return out


def check_size(name: str, payload: bytes) -> None:
    if len(payload) > CONFIGMAP_MAX_BYTES:
        raise OutputRefused(
            f"ConfigMap {name}: {len(payload):,} bytes (compressed) do not fit in a ConfigMap "
            f"(at most {CONFIGMAP_MAX_BYTES:,}); use spec.output.persistentVolumeClaim for this job"
        )


def writers(config_map: Mapping[str, Any]) -> list[str]:
    annotations = (config_map.get("metadata") or {}).get("annotations") or {}
    return [w for w in str(annotations.get(WRITERS_ANNOTATION, "")).split(",") if w]


def read_key(config_map: Mapping[str, Any], key: str) -> bytes | None:
    value = (config_map.get("binaryData") or {}).get(key)
    return None if value is None else base64.b64decode(value)


# --- the API client (I/O) --------------------------------------------------------------------------


class ConfigMapClient:
    """get and replace of ConfigMaps in one namespace with the pod's service-account token (re-read on
    every request: it rotates)."""

    def __init__(self, host: str, port: int, sa_dir: Path, namespace: str) -> None:
        self.base = (
            f"https://{host if ':' not in host else f'[{host}]'}:{port}"
            f"/api/v1/namespaces/{quote(namespace)}/configmaps"
        )
        self.sa_dir = sa_dir
        self._context = ssl.create_default_context(cafile=str(sa_dir / "ca.crt"))

    def get(self, name: str) -> dict[str, Any] | None:
        return self._request("GET", name)

    def replace(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        return self._request("PUT", str(body["metadata"]["name"]), body)

    def _request(
        self, method: str, name: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """The answer's object; None on 404. Raises `ApiUnavailable` for what a retry may fix (no answer,
        429, 5xx, 409 Conflict), `OutputRefused` for any other refusal (403 from the policy, 422)."""
        token = (self.sa_dir / "token").read_text().strip()
        request = urllib.request.Request(
            f"{self.base}/{quote(name)}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS, context=self._context) as r:
                answer: dict[str, Any] = json.loads(r.read())
                return answer
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode(errors="replace")[:500]
            if exc.code == 404:
                return None
            if exc.code in (409, 429) or exc.code >= 500:
                raise ApiUnavailable(f"{method} configmap {name}: HTTP {exc.code}") from exc
            message = _status_message(detail) or f"HTTP {exc.code}"
            raise OutputRefused(f"{method} configmap {name} refused: {message}") from exc
        except (OSError, ValueError) as exc:
            raise ApiUnavailable(f"{method} configmap {name}: {type(exc).__name__}: {exc}") from exc


def _status_message(text: str) -> str:
    try:
        return str(json.loads(text).get("message", ""))
    except (ValueError, AttributeError):
        return ""


# --- the shard's side ------------------------------------------------------------------------------


class ConfigMapOutput:
    """One shard's ledger mirror and, when it is the last to finish, the crate's publisher."""

    def __init__(
        self,
        assignment: Assignment,
        client: ConfigMapClient,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert assignment.output_config_map is not None
        assert assignment.pod_name is not None
        self.assignment = assignment
        self.client = client
        self.sleep = sleep
        self.clock = clock
        self.output_name = assignment.output_config_map
        self.ledger_names = assignment.ledger_config_maps
        self.own = self.ledger_names[assignment.shard_index]
        self._mirrored = -1
        self._lock = threading.Lock()

    # Start-up -----------------------------------------------------------------------------------

    def check_writable(self) -> None:
        """Refuse at once (exit 5) an output ConfigMap that is not this job's: one the operator did not
        create for it (taken by another object) lists no writers, or not this pod."""
        for name in (self.output_name, self.own):
            cm = self._retry(partial(self.client.get, name), f"read configmap {name}")
            if cm is None:
                raise ApiUnavailable(f"configmap {name} does not exist yet (the operator creates it)")
            if self.assignment.pod_name not in writers(cm):
                raise OutputRefused(
                    f"configmap {name} is not this job's output (its {WRITERS_ANNOTATION} annotation does "
                    f"not name pod {self.assignment.pod_name}); choose another spec.output.configMap.name"
                )

    def restore_ledger(self) -> bool:
        """Write the mirrored ledger to the local ledger file when there is none. True when restored."""
        local = ledger_path(self.assignment.ledger_dir, self.assignment.shard_index)
        if local.exists() and local.stat().st_size > 0:
            return False
        cm = self._retry(lambda: self.client.get(self.own), f"read configmap {self.own}")
        payload = None if cm is None else read_key(cm, LEDGER_KEY)
        if not payload:
            return False
        data = unpack_ledger(payload)
        local.parent.mkdir(parents=True, exist_ok=True)
        local.write_bytes(data)
        self._mirrored = len(data)
        LOG.info("ledger restored from its ConfigMap", extra={"configmap": self.own, "bytes": len(data)})
        return True

    # Checkpoints --------------------------------------------------------------------------------

    def mirror_ledger(self, final: bool = False) -> None:
        """Write the local ledger into this shard's ConfigMap if it grew. Best effort unless `final`."""
        with self._lock:
            local = ledger_path(self.assignment.ledger_dir, self.assignment.shard_index)
            data = local.read_bytes() if local.exists() else b""
            if len(data) == self._mirrored:
                return
            payload = pack_ledger(data)
            check_size(self.own, payload)
            try:
                self._write(
                    self.own, LEDGER_KEY, payload, deadline=FINAL_WRITE_DEADLINE_SECONDS if final else 0
                )
            except ApiUnavailable as exc:
                if final:
                    raise
                LOG.warning(
                    "ledger mirror failed; the next checkpoint tries again", extra={"error": str(exc)}
                )
                return
            self._mirrored = len(data)

    def start_mirroring(self, stop: threading.Event) -> threading.Thread:
        interval = max(MIN_MIRROR_SECONDS, self.assignment.checkpoint_interval_seconds)

        def run() -> None:
            while not stop.wait(interval):
                try:
                    self.mirror_ledger()
                except OutputRefused as exc:  # the final mirror raises it again, and the shard exits 5
                    LOG.error("ledger mirror refused", extra={"error": str(exc)})
                    return

        thread = threading.Thread(target=run, name="ledger-mirror", daemon=True)
        thread.start()
        return thread

    # The end ------------------------------------------------------------------------------------

    def assemble(
        self, source_root: Path, assemble: Callable[..., bool], publish_result: Callable[[ResultReport], None]
    ) -> bool:
        """Assemble from every shard's mirrored ledger and write the crate; False while a shard is not
        done. `assemble` is `loop.assemble_if_complete` (passed in: that module imports this one's users)."""
        self.assignment.scratch_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="portalis-ledgers-", dir=self.assignment.scratch_dir) as tmp:
            ledgers = Path(tmp)
            for shard, name in enumerate(self.ledger_names):
                cm = self._retry(partial(self.client.get, name), f"read configmap {name}")
                payload = None if cm is None else read_key(cm, LEDGER_KEY)
                if payload:
                    ledger_path(ledgers, shard).write_bytes(unpack_ledger(payload))
            results: list[ResultReport] = []
            local = self.assignment.model_copy(update={"ledger_dir": ledgers})
            if not assemble(local, source_root, publish_result=results.append):
                return False
        target = self.assignment.output_dir / self.assignment.crate_name
        files = {
            p.relative_to(target).as_posix(): p.read_bytes() for p in sorted(target.rglob("*")) if p.is_file()
        }
        payload = pack_crate(files)
        check_size(self.output_name, payload)
        self._write(self.output_name, CRATE_KEY, payload, deadline=FINAL_WRITE_DEADLINE_SECONDS)
        LOG.info(
            "crate written to its ConfigMap", extra={"configmap": self.output_name, "bytes": len(payload)}
        )
        for result in results:
            publish_result(result)
        return True

    # Helpers ------------------------------------------------------------------------------------

    def _write(self, name: str, key: str, payload: bytes, deadline: float) -> None:
        """Replace `key` of ConfigMap `name`, keeping everything else (the policy refuses other changes)."""

        def attempt() -> None:
            cm = self.client.get(name)
            if cm is None:
                raise ApiUnavailable(f"configmap {name} does not exist (yet)")
            cm.setdefault("binaryData", {})[key] = base64.b64encode(payload).decode()
            self.client.replace(cm)

        self._retry(attempt, f"write configmap {name}", deadline)

    def _retry(
        self, call: Callable[[], Any], what: str, deadline: float = FINAL_WRITE_DEADLINE_SECONDS
    ) -> Any:
        """`call()`, retried on ApiUnavailable with backoff (1 s doubling to 15 s) for `deadline` seconds."""
        end = self.clock() + deadline
        delay = 1.0
        while True:
            try:
                return call()
            except ApiUnavailable as exc:
                if self.clock() + delay > end:
                    raise
                LOG.info(f"{what}: retrying", extra={"error": str(exc), "delay": delay})
                self.sleep(delay)
                delay = min(15.0, delay * 2)


def configmap_output_for(assignment: Assignment) -> ConfigMapOutput | None:
    """The ConfigMap output of this shard, or None when the job's output is a PVC."""
    if assignment.output_config_map is None:
        return None
    missing = [
        what
        for what, ok in (
            ("KUBERNETES_SERVICE_HOST", assignment.kubernetes_host),
            ("PORTALIS_POD_NAME", assignment.pod_name),
            ("a service-account token", (assignment.service_account_dir / "token").is_file()),
        )
        if not ok
    ]
    if missing or len(assignment.ledger_config_maps) != assignment.shard_count:
        raise ValueError(
            "a ConfigMap output needs " + (", ".join(missing) or "PORTALIS_LEDGER_CONFIGMAPS, one per shard")
        )
    assert assignment.kubernetes_host is not None
    sa = assignment.service_account_dir
    namespace_file = sa / "namespace"
    namespace = namespace_file.read_text().strip() if namespace_file.is_file() else assignment.job_namespace
    client = ConfigMapClient(assignment.kubernetes_host, assignment.kubernetes_port, sa, namespace)
    return ConfigMapOutput(assignment, client)
