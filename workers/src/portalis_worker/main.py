"""`portalis-worker`: run one shard (default) or `portalis-worker assemble` (the idempotent final step).

Exit codes (`protocol.WorkerExit`, read by the operator; docs/worker.md): 0 finished; 75 stopped by
SIGTERM/SIGINT after flushing ("resume me": the pod is being replaced, or its node is going away; never
0, which would make Kubernetes call the pod Succeeded and the operator the shard finished); 1 unexpected
error; 2 invalid configuration (bad environment, rustc missing, `model` backend without a model client):
retrying cannot help; 3 transient (source fetch failed, the API server did not take a ConfigMap
output): the operator retries with backoff; 4 no space left on device (scratch, ledger or output
volume), logged as such; 5 the output ConfigMap cannot take the crate (over 1 MiB, or not this job's):
retrying cannot help; 6 the model server (the pod's Triton sidecar) did not answer within
PORTALIS_MODEL_WAIT_SECONDS, at start or mid-run (model_server.py): retried with backoff; 7 the model
server answers but does not serve the job's model: retrying cannot help. With
PORTALIS_MODEL_FALLBACK=rules (`spec.model.fallback: rules`) 6 and 7 do not happen: the shard goes on
with the rules alone. `assemble` exits 1 while some shard is not done.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import FrameType

from prometheus_client import start_http_server

from portalis_worker import logs, metrics
from portalis_worker.assignment import Assignment, AssignmentError, BackendMode, load_assignment
from portalis_worker.backends import BackendUnavailable, CacheBackend, ModelClient, build_chain
from portalis_worker.configmap_output import ApiUnavailable, OutputRefused, configmap_output_for
from portalis_worker.ledger import LocalFileStore, ledger_path
from portalis_worker.loop import Worker, assemble_if_complete
from portalis_worker.memory import FallbackSigner, LocalSigner, MemoryBackend, Signer
from portalis_worker.model_server import (
    GuardedTranslator,
    GuardedTypeModel,
    ModelNotServed,
    ModelServer,
    ModelServerError,
    ModelStopped,
)
from portalis_worker.progress import reporter_for
from portalis_worker.protocol import WorkerExit
from portalis_worker.rustcheck import Checker, RustcChecker
from portalis_worker.sources import SourceError, fetch_git, list_sources, resolve_root
from portalis_worker.typed_rules import InferredTypes, TypeModelClient, ranked_backends

LOG = logging.getLogger("portalis_worker")

EXIT_OK, EXIT_ERROR, EXIT_CONFIG, EXIT_TRANSIENT, EXIT_NO_SPACE, EXIT_OUTPUT, EXIT_RESUME = (
    WorkerExit.OK,
    WorkerExit.ERROR,
    WorkerExit.CONFIG,
    WorkerExit.TRANSIENT,
    WorkerExit.NO_SPACE,
    WorkerExit.OUTPUT,
    WorkerExit.RESUME,
)
GIT_CHECKOUT = "repo"

ModelClientFactory = Callable[[Assignment], ModelClient | None]
TypeModelFactory = Callable[[Assignment], TypeModelClient | None]


PROBE_SLOT = "param n"
"""A slot text (typer_features) sent once at start: the type model answers, or the shard waits for it."""


def no_model_client(assignment: Assignment) -> ModelClient | None:
    """No translation model: `auto` runs cache -> rules (-> rules+types), `model` is refused."""
    return None


def triton_translator(assignment: Assignment) -> ModelClient | None:
    """The production translation model: in `model` mode, `spec.model.name` on the pod's Triton sidecar.
    `auto` does not ask it (no trained translator exists: docs/model.md); it asks the type model."""
    if assignment.backend is not BackendMode.MODEL:
        return None
    from portalis_worker.triton_client import TritonClient, TritonClientSettings, TritonUnavailableError

    try:
        return TritonClient(
            TritonClientSettings(
                url=assignment.triton_url,
                translator_model=assignment.model_name,
                translator_version=str(assignment.model_version or ""),
                attempts=1,
            )
        )
    except TritonUnavailableError as exc:  # tritonclient is not installed in this image
        LOG.error("no model client", extra={"error": str(exc)})
        return None


def _not_served(exc: Exception) -> bool:
    from portalis_worker.triton_client import ModelNotReadyError

    return isinstance(exc, ModelNotReadyError)


def _refusal(exc: Exception) -> bool:
    """The server refused this input (gRPC INVALID_ARGUMENT); anything else (a reset stream, an unknown
    status while it restarts) may be the server going away, and is waited for."""
    from portalis_worker.triton_client import TritonRequestError

    return isinstance(exc, TritonRequestError) and "INVALID_ARGUMENT" in str(exc)


def _model_server(assignment: Assignment, what: str, stop: threading.Event) -> ModelServer:
    return ModelServer(
        what,
        assignment.model_wait_seconds,
        assignment.model_fallback,
        is_not_served=_not_served,
        is_refusal=_refusal,
        stop=stop,
    )


@dataclass(frozen=True)
class Models:
    """What a shard translates with (`guarded_models`)."""

    inferred: InferredTypes
    translator: ModelClient | None
    backend: BackendMode


def guarded_models(
    assignment: Assignment,
    type_model: TypeModelClient | None,
    translator: ModelClient | None,
    stop: threading.Event,
) -> Models:
    """Wait for the model server (model_server.py) and wrap the clients so that they ride out its restarts.

    Returns the type inference (with the guarded type model, which answers nothing once the shard went
    on without it: units typed then are marked in the ledger), the translator and the backend mode:
    `model` becomes `rules` when the server is not there and the job allows that. Raises
    `ModelServerError` when it does not."""
    backend = assignment.backend
    inferred = InferredTypes()
    if type_model is not None:
        server = _model_server(assignment, "the type model", stop)
        probe = type_model
        server.wait_ready(lambda: probe.infer_types([PROBE_SLOT]))
        inferred = InferredTypes(model=GuardedTypeModel(probe, server), model_gone=lambda: server.fell_back)
    if translator is not None:
        server = _model_server(assignment, f"model {assignment.model_name!r}", stop)
        client = translator
        require = getattr(client, "require_model", None)
        ready = server.wait_ready(
            (lambda: require(assignment.model_name))
            if callable(require)
            else (lambda: client.translate_batch(["pass\n"]))
        )
        translator = GuardedTranslator(client, server) if ready else None
        if translator is None and backend is BackendMode.MODEL:
            backend = BackendMode.RULES
    elif backend is BackendMode.MODEL:
        raise ModelNotServed(
            f"PORTALIS_BACKEND=model but this worker has no client for {assignment.model_name!r}"
        )
    return Models(inferred, translator, backend)


def model_exit(exc: ModelServerError, stop: threading.Event) -> int:
    """The exit code for a model server the shard cannot use (the operator shows its meaning)."""
    if isinstance(exc, ModelStopped) or stop.is_set():
        LOG.info("shard stopped while waiting for the model server; it resumes", extra={"error": str(exc)})
        return EXIT_RESUME
    LOG.error(str(exc), extra={"fallback": "set spec.model.fallback: rules to go on without the model"})
    return WorkerExit.MODEL_NOT_SERVED if isinstance(exc, ModelNotServed) else WorkerExit.MODEL_UNAVAILABLE


def _install_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        if not stop.is_set():
            LOG.info("stop requested; finishing the units in flight", extra={"signal": signum})
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def triton_type_model(assignment: Assignment) -> TypeModelClient | None:
    """The production type model: in `auto` mode, the `typer` on the pod's Triton sidecar at
    PORTALIS_TRITON_URL. One attempt per request: an unreachable sidecar costs a batch its model
    candidates (rules only), not minutes of retries."""
    if assignment.backend is not BackendMode.AUTO:
        return None
    from portalis_worker.triton_client import TritonClient, TritonClientSettings, TritonUnavailableError

    try:
        return TritonClient(TritonClientSettings(url=assignment.triton_url, timeout_s=30.0, attempts=1))
    except TritonUnavailableError as exc:  # tritonclient is not installed in this image
        LOG.warning("no type model client", extra={"error": str(exc)})
        return None


def translation_memory(assignment: Assignment) -> MemoryBackend | None:
    """The translation memory (memory.py) when the job has a memory directory and is not `model` mode.
    Signatures come from the `embedder` on the pod's Triton in `auto` mode (the kernel in process when
    it does not answer), from the kernel in process otherwise."""
    if assignment.memory_dir is None or assignment.backend is BackendMode.MODEL:
        return None
    signer: Signer = LocalSigner()
    if assignment.backend is BackendMode.AUTO:
        from portalis_worker.triton_client import TritonClient, TritonClientSettings, TritonUnavailableError

        try:
            client = TritonClient(TritonClientSettings(url=assignment.triton_url, timeout_s=30.0, attempts=1))
            signer = FallbackSigner(client)
        except TritonUnavailableError as exc:  # tritonclient is not installed in this image
            LOG.warning("no embedder client; signing in process", extra={"error": str(exc)})
    return MemoryBackend(signer, job=f"{assignment.job_namespace}/{assignment.job_name}")


def run_shard(
    assignment: Assignment,
    model_client_factory: ModelClientFactory,
    type_model_factory: TypeModelFactory = triton_type_model,
) -> int:
    stop = threading.Event()
    _install_signals(stop)
    if assignment.metrics_port:
        start_http_server(assignment.metrics_port, registry=metrics.REGISTRY)
    try:
        checker: Checker | None = (
            RustcChecker(assignment.rustc, assignment.rust_edition, assignment.scratch_dir)
            if assignment.rust_check
            else None
        )
        cache = CacheBackend()
        models = guarded_models(
            assignment, type_model_factory(assignment), model_client_factory(assignment), stop
        )
        inferred = models.inferred
        memory = translation_memory(assignment) if models.backend is not BackendMode.MODEL else None
        chain = build_chain(
            models.backend, cache, models.translator, typed=ranked_backends(inferred), memory=memory
        )
        output = configmap_output_for(assignment)
    except ModelServerError as exc:
        return model_exit(exc, stop)
    except (FileNotFoundError, ValueError) as exc:
        LOG.error("invalid configuration", extra={"error": str(exc)})
        return EXIT_CONFIG
    try:
        if output is not None:  # before the ledger is opened: a replaced pod resumes from its mirror
            output.check_writable()
            output.restore_ledger()
    except OutputRefused as exc:
        LOG.error("output refused", extra={"error": str(exc)})
        return EXIT_OUTPUT
    except ApiUnavailable as exc:
        LOG.error("transient failure; the shard will be retried", extra={"error": str(exc)})
        return EXIT_TRANSIENT

    store = LocalFileStore(ledger_path(assignment.ledger_dir, assignment.shard_index))
    reporter = reporter_for(assignment)
    worker = Worker(
        assignment, store, chain, cache, checker, reporter, stop=stop, inferred=inferred, memory=memory
    )
    mirror_stop = threading.Event()
    if output is not None:
        output.start_mirroring(mirror_stop)
    try:
        commit = None
        if assignment.git_url is not None:
            pinned = next(
                (
                    str(r["commit"])
                    for r in store.read()
                    if r.get("kind") == "header"
                    and r.get("fp") == assignment.fingerprint()
                    and r.get("commit")
                ),
                None,
            )
            checkout = assignment.source_dir / GIT_CHECKOUT
            commit = fetch_git(
                assignment.git_url,
                assignment.git_ref,
                checkout,
                pinned,
                credentials=assignment.git_credentials_dir,
                scratch=assignment.scratch_dir,
            )
            root = resolve_root(checkout, assignment.git_path)
        else:
            root = resolve_root(assignment.source_dir, "/")
        files = list_sources(root, assignment.include, assignment.exclude)
        existing = worker.open_ledger(commit)
        finished = worker.run(files, existing)
        if finished:
            LOG.info("shard finished", extra={"done": worker.state.done, "failed": worker.state.failed})
            if output is None:
                assemble_if_complete(assignment, root, publish_result=reporter.report_result)
            else:
                mirror_stop.set()
                output.mirror_ledger(final=True)  # before reading the others': the last one sees all done
                output.assemble(root, assemble_if_complete, reporter.report_result)
            reporter.flush()  # the last progress report, if the API server refused it
            return EXIT_OK
        if output is not None:
            mirror_stop.set()
            output.mirror_ledger()  # best effort: the local ledger was flushed; a replaced pod starts here
        LOG.info(
            "shard stopped; it resumes from the ledger",
            extra={"done": worker.state.done, "failed": worker.state.failed, "exit_code": int(EXIT_RESUME)},
        )
        return EXIT_RESUME
    except (SourceError, BackendUnavailable) as exc:
        if stop.is_set():  # interrupted by the stop itself: not a failure
            LOG.info("shard stopped while starting; it resumes", extra={"error": str(exc)})
            return EXIT_RESUME
        LOG.error("transient failure; the shard will be retried", extra={"error": str(exc)})
        return EXIT_TRANSIENT
    except ModelServerError as exc:
        return model_exit(exc, stop)
    except OutputRefused as exc:
        LOG.error("output refused", extra={"error": str(exc)})
        return EXIT_OUTPUT
    except ApiUnavailable as exc:
        LOG.error(
            "the API server did not take the output; the shard will be retried", extra={"error": str(exc)}
        )
        return EXIT_TRANSIENT
    finally:
        mirror_stop.set()
        store.close()


def main(
    argv: Sequence[str] | None = None, model_client_factory: ModelClientFactory = triton_translator
) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] in (["portalis-worker"], ["run"]):
        args = args[1:]  # `args: [portalis-worker]` on an image whose entrypoint is already the worker
    logs.configure()
    try:
        assignment = load_assignment(os.environ)
    except AssignmentError as exc:
        LOG.error(str(exc))
        return EXIT_CONFIG
    logs.configure(
        assignment.log_level,
        {
            "job": f"{assignment.job_namespace}/{assignment.job_name}",
            "shard": assignment.shard_index,
            "pod": assignment.pod_name,
        },
    )
    try:
        if args[:1] == ["assemble"]:
            return EXIT_OK if assemble_if_complete(assignment) else EXIT_ERROR
        if args:
            LOG.error("unknown arguments", extra={"args": args})
            return EXIT_CONFIG
        return run_shard(assignment, model_client_factory)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            LOG.error("no space left on device", extra={"path": exc.filename, "error": str(exc)})
            return EXIT_NO_SPACE
        LOG.exception("worker failed")
        return EXIT_ERROR
    except Exception:
        LOG.exception("worker failed")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
