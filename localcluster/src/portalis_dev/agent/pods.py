"""One pod on an agent node: its lifecycle from volumes to exit codes, and its termination.

Lifecycle: set up the pod directory, volumes and credentials (retried while a claim is unbound or a
ConfigMap missing); run init containers in order, where a native sidecar (an init container with
restartPolicy Always) counts as done once it runs; start the main containers; when the pod's restart
policy lets none of them run again, stop the sidecars (SIGTERM, last started first) and report the pod
Succeeded (every main container exited 0) or Failed.

Termination (a deletionTimestamp): SIGTERM the main containers, then the sidecars, SIGKILL whatever
is left when the grace period ends, report the final status and delete the pod with grace 0, as the
kubelet does. A deleted node kills everything at once and reports nothing (its kubelet is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from portalis_dev.agent import containers, credentials, environment, status, volumes
from portalis_dev.agent.context import AgentContext
from portalis_dev.agent.nodes import now

log = logging.getLogger(__name__)

Mode = Literal["run", "done", "lost"]
STATUS_RETRY_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 30.0
LOST_MESSAGE = "The container could not be located when the pod was terminated"


def is_sidecar(c: Mapping[str, Any]) -> bool:
    return c.get("restartPolicy") == "Always"


class _Launch:
    """Everything needed to start one container, or why it cannot start."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path, log_path: Path, error: str) -> None:
        self.argv, self.env, self.cwd, self.log_path, self.error = argv, env, cwd, log_path, error


class PodWorker:
    """Runs one pod (identified by uid) and reports its status until the pod is gone."""

    def __init__(self, ctx: AgentContext, pod: dict[str, Any], mode: Mode = "run") -> None:
        self.ctx = ctx
        self.pod = pod
        meta, spec = pod["metadata"], pod["spec"]
        self.namespace: str = meta["namespace"]
        self.name: str = meta["name"]
        self.uid: str = meta["uid"]
        self.node: str = spec["nodeName"]
        self.dir = ctx.pod_dir(self.namespace, self.name)
        self.restart_policy: str = spec.get("restartPolicy", "Always")
        self.records: dict[str, status.ContainerRecord] = {}
        for c in spec.get("initContainers") or []:
            kind: status.ContainerKind = "sidecar" if is_sidecar(c) else "init"
            self.records[c["name"]] = status.ContainerRecord(c["name"], c.get("image", ""), kind)
        for c in spec["containers"]:
            self.records[c["name"]] = status.ContainerRecord(c["name"], c.get("image", ""), "main")
        self.procs: dict[str, containers.Process] = {}
        self._launch: dict[str, _Launch] = {}
        self._started: dict[str, asyncio.Event] = {n: asyncio.Event() for n in self.records}
        self.mode: Mode = mode
        self.stopping = False  # no new starts or restarts of main containers
        self.sidecars_stopping = False
        self.interrupted = False
        self.node_gone = False
        self.final = mode != "run"
        self._report = mode != "done"  # a pod that ended before this agent process keeps its status
        self.sandbox_ready = False
        self.start_time = now()
        self._deletion = asyncio.Event()
        self._grace = float(spec.get("terminationGracePeriodSeconds", 30))
        self._dirty = asyncio.Event()
        self._version = 0
        self._synced = asyncio.Event()
        self._refresh: asyncio.Task[None] | None = None
        if mode == "lost":  # it ran under an earlier agent process; its processes died with it
            for r in self.records.values():
                if r.state != "terminated":
                    r.terminated(137, now(), "ContainerStatusUnknown", LOST_MESSAGE)
        if meta.get("deletionTimestamp"):
            self.request_deletion(meta.get("deletionGracePeriodSeconds"))

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    # ---- events from the watch loop ------------------------------------------------------------

    def update(self, pod: dict[str, Any]) -> None:
        self.pod = pod
        if pod["metadata"].get("deletionTimestamp"):
            self.request_deletion(pod["metadata"].get("deletionGracePeriodSeconds"))

    def request_deletion(self, grace: float | None) -> None:
        if not self._deletion.is_set():
            if grace is not None:
                self._grace = float(grace)
            log.info("%s: deletion requested (grace %.0f s)", self.key, self._grace)
            self._deletion.set()

    def interrupt(self) -> None:
        """A termination notice: SIGTERM every running process once; nothing restarts afterwards."""
        if not self.interrupted:
            log.info("%s: termination notice, sending SIGTERM", self.key)
        self.interrupted = True
        for p in self.procs.values():
            p.terminate_once()

    def kill_now(self) -> None:
        """Its node was deleted: SIGKILL everything, report nothing."""
        self.node_gone = self.stopping = self.sidecars_stopping = True
        for p in self.procs.values():
            p.send(signal.SIGKILL)
        self._deletion.set()

    # ---- main task -------------------------------------------------------------------------------

    async def run(self) -> None:
        status_loop = asyncio.create_task(self._status_loop(), name=f"status-{self.key}")
        life = asyncio.create_task(self._lifecycle() if self.mode == "run" else self._noop(), name=self.key)
        deletion = asyncio.create_task(self._deletion.wait())
        try:
            await asyncio.wait({life, deletion}, return_when=asyncio.FIRST_COMPLETED)
            if not life.done():
                await self._terminate(0 if self.node_gone else self._grace)
                await life
            await deletion
            if self.node_gone:
                return
            self.final = True
            await self._flush_status(within=10)
            self._cleanup()
            await self._delete()
        finally:
            for task in (life, deletion, status_loop, self._refresh):
                if task is not None and not task.done():
                    task.cancel()
            for p in self.procs.values():
                p.send(signal.SIGKILL)
            if self.node_gone:
                self._cleanup()

    async def _noop(self) -> None:
        self._mark_dirty()

    async def _lifecycle(self) -> None:
        self._mark_dirty()
        if not await self._prepare():
            self.final = True
            self._mark_dirty()
            return
        spec = self.pod["spec"]
        sidecar_tasks: list[asyncio.Task[None]] = []
        init_ok = True
        for c in spec.get("initContainers") or []:
            if self.stopping:
                break
            if is_sidecar(c):
                sidecar_tasks.append(asyncio.create_task(self._keep_running(c["name"], "Always")))
                await self._started[c["name"]].wait()
                continue
            await self._keep_running(c["name"], "OnFailure" if self.restart_policy != "Never" else "Never")
            if self.records[c["name"]].exit_code != 0:
                init_ok = False
                break
        if init_ok and not self.stopping:
            await asyncio.gather(
                *(self._keep_running(c["name"], self.restart_policy) for c in spec["containers"])
            )
        self.sidecars_stopping = True
        await self._stop_sidecars(self._grace)
        await asyncio.gather(*sidecar_tasks)
        self.final = True
        self._mark_dirty()
        log.info("%s: %s", self.key, status.pod_phase(list(self.records.values()), True))

    # ---- set-up ----------------------------------------------------------------------------------

    async def _prepare(self) -> bool:
        from kubernetes_asyncio.client.exceptions import ApiException

        attempt = 0
        while not self.stopping:
            try:
                await self._setup()
                self.sandbox_ready = True
                return True
            except (volumes.VolumeNotReady, environment.EnvError) as exc:
                reason, message = "CreateContainerConfigError", str(exc)
            except ApiException as exc:
                reason, message = "ContainerCreating", f"API error: {exc.status} {exc.reason}"
            except OSError as exc:
                reason, message = "ContainerCreating", str(exc)
            if attempt == 0 or attempt % 10 == 0:
                log.info("%s: not ready to start: %s", self.key, message)
            for r in self.records.values():
                r.waiting(reason, message)
            self._mark_dirty()
            attempt += 1
            await self._sleep(min(0.5 * 2**attempt, 5.0))
        return False

    async def _setup(self) -> None:
        uid_file = self.dir / "uid"
        if uid_file.is_file() and uid_file.read_text().strip() != self.uid:
            shutil.rmtree(self.dir)  # an earlier pod of the same name: its emptyDirs are not ours
        self.dir.mkdir(parents=True, exist_ok=True)
        uid_file.write_text(self.uid + "\n")
        pod = self.pod
        tokens = credentials.TokenWriter(self.ctx, pod)
        vols = await volumes.materialise(self.ctx, pod, self.dir, tokens)
        overrides = {
            "KUBERNETES_SERVICE_HOST": self.ctx.api_host,
            "KUBERNETES_SERVICE_PORT": str(self.ctx.api_port),
        }
        if credentials.automount(pod):
            sa_dir = self.dir / "serviceaccount"
            await tokens.write_dir(sa_dir)
            overrides["PORTALIS_SERVICE_ACCOUNT_DIR"] = str(sa_dir)
        cm_names, secret_names = environment.referenced_objects(pod)
        cms = {n: await self._data("config_map", n) for n in cm_names}
        secrets = {n: await self._data("secret", n) for n in secret_names}
        cfg = self.ctx.config
        for c in [*(pod["spec"].get("initContainers") or []), *pod["spec"]["containers"]]:
            mounts = volumes.container_mounts(c, vols)
            env = environment.container_env(
                pod,
                c,
                base=cfg.base_env,
                mounts=mounts,
                config_maps=cms,
                secrets=secrets,
                overrides=overrides,
            )
            argv = environment.container_argv(c, env, mounts)
            error = ""
            try:
                argv = containers.resolve_argv(argv, cfg.command_map, env.get("PATH", ""))
            except containers.StartError as exc:
                error = str(exc)
            cwd = self.dir / "containers" / c["name"]
            cwd.mkdir(parents=True, exist_ok=True)
            self._launch[c["name"]] = _Launch(argv, env, cwd, self.dir / "logs" / f"{c['name']}.log", error)
        if self._refresh is None:
            self._refresh = asyncio.create_task(tokens.refresh_forever())

    async def _data(self, kind: str, name: str) -> dict[str, str] | None:
        import base64

        from kubernetes_asyncio.client.exceptions import ApiException

        try:
            obj = await getattr(self.ctx.core, f"read_namespaced_{kind}")(name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        if kind == "secret":
            return {k: base64.b64decode(v).decode() for k, v in (obj.data or {}).items()}
        return dict(obj.data or {})

    # ---- running containers ----------------------------------------------------------------------

    async def _keep_running(self, name: str, policy: str) -> None:
        """Run one container, restarting it as `policy` says, until it may not run again."""
        record = self.records[name]
        sidecar = record.kind == "sidecar"
        while True:
            if (self.stopping and not sidecar) or (sidecar and self.sidecars_stopping):
                break
            code = await self._run_once(name)
            if self.stopping or self.interrupted or (sidecar and self.sidecars_stopping):
                break
            if not (policy == "Always" or (policy == "OnFailure" and code != 0)):
                break
            delay = min(10.0 * 2**record.restart_count, MAX_BACKOFF_SECONDS) if record.restart_count else 1.0
            record.waiting("CrashLoopBackOff", f"back-off {delay:.0f}s restarting failed container={name}")
            self._mark_dirty()
            await self._sleep(delay)
            record.restart_count += 1
        self._started[name].set()

    async def _run_once(self, name: str) -> int:
        record, launch = self.records[name], self._launch[name]
        if launch.error:
            record.terminated(containers.START_ERROR_EXIT_CODE, now(), "StartError", launch.error)
            self._started[name].set()
            self._mark_dirty()
            return containers.START_ERROR_EXIT_CODE
        try:
            proc = await containers.Process.spawn(launch.argv, launch.env, launch.cwd, launch.log_path)
        except containers.StartError as exc:
            record.terminated(containers.START_ERROR_EXIT_CODE, now(), "StartError", str(exc))
            self._started[name].set()
            self._mark_dirty()
            return containers.START_ERROR_EXIT_CODE
        self.procs[name] = proc
        if self.interrupted or (self.stopping and record.kind != "sidecar"):
            proc.terminate_once()
        log.info("%s: started container %s (pid %d): %s", self.key, name, proc.pid, " ".join(launch.argv))
        record.running(proc.pid, now())
        self._started[name].set()
        self._mark_dirty()
        code = await proc.wait()
        record.terminated(code, now())
        log.info("%s: container %s exited %d", self.key, name, code)
        self._mark_dirty()
        return code

    async def _stop_sidecars(self, grace: float) -> None:
        names = [n for n, r in reversed(self.records.items()) if r.kind == "sidecar"]
        for name in names:
            if name in self.procs:
                await self.procs[name].stop(grace)

    async def _terminate(self, grace: float) -> None:
        """Deletion: main containers first, then sidecars, all within one grace period."""
        self.stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        mains = [n for n, r in self.records.items() if r.kind != "sidecar"]
        await self._stop_group(mains, deadline)
        self.sidecars_stopping = True
        sidecars = [n for n, r in reversed(self.records.items()) if r.kind == "sidecar"]
        await self._stop_group(sidecars, max(deadline, loop.time() + min(grace, 2.0)))

    async def _stop_group(self, names: list[str], deadline: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            live = [self.procs[n] for n in names if n in self.procs and self.procs[n].running]
            for p in live:
                p.terminate_once()
            if not live or loop.time() >= deadline:
                break
            await asyncio.sleep(0.05)
        for p in live:
            if p.running:
                log.info("%s: grace period over, SIGKILL pid %d", self.key, p.pid)
                p.send(signal.SIGKILL)

    async def _sleep(self, seconds: float) -> None:
        """Sleep, cut short by a deletion."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._deletion.wait(), timeout=seconds)

    # ---- reporting -------------------------------------------------------------------------------

    def _mark_dirty(self) -> None:
        self._version += 1
        self._synced.clear()
        self._dirty.set()

    def status_body(self) -> dict[str, Any]:
        return status.pod_status(
            self.pod,
            list(self.records.values()),
            final=self.final,
            sandbox_ready=self.sandbox_ready,
            start_time=self.start_time,
            at=now(),
        )

    async def _status_loop(self) -> None:
        from kubernetes_asyncio.client.exceptions import ApiException

        while True:
            await self._dirty.wait()
            self._dirty.clear()
            if self.node_gone or not self._report:
                self._synced.set()
                continue
            version = self._version
            body = {"metadata": {"uid": self.uid}, "status": self.status_body()}
            try:
                await self.ctx.core.patch_namespaced_pod_status(self.name, self.namespace, body)
                if version == self._version:
                    self._synced.set()
            except ApiException as exc:
                if exc.status in (404, 409):
                    log.info("%s: pod gone, no more status updates", self.key)
                    self._synced.set()
                    return
                log.warning("%s: status update failed: %s %s", self.key, exc.status, exc.body or exc.reason)
                await asyncio.sleep(STATUS_RETRY_SECONDS)
                self._dirty.set()
            except (TimeoutError, OSError) as exc:
                log.warning("%s: status update failed: %s", self.key, exc)
                await asyncio.sleep(STATUS_RETRY_SECONDS)
                self._dirty.set()

    async def _flush_status(self, within: float) -> None:
        self._mark_dirty()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._synced.wait(), timeout=within)

    def _cleanup(self) -> None:
        """Remove what dies with the pod (volumes, credentials); container logs stay."""
        for sub in ("volumes", "serviceaccount"):
            shutil.rmtree(self.dir / sub, ignore_errors=True)

    async def _delete(self) -> None:
        from kubernetes_asyncio.client.exceptions import ApiException

        try:
            await self.ctx.core.delete_namespaced_pod(
                self.name,
                self.namespace,
                grace_period_seconds=0,
                body={"gracePeriodSeconds": 0, "preconditions": {"uid": self.uid}},
            )
            log.info("%s: deleted", self.key)
        except ApiException as exc:
            if exc.status not in (404, 409):
                log.warning("%s: final delete failed: %s %s", self.key, exc.status, exc.reason)
