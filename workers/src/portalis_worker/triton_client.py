"""gRPC client for the Triton sidecar: translate, embed and type in batches, with priorities and retries.

The worker talks to its pod's Triton over loopback gRPC. Failures are sorted into our own
exceptions so callers decide without parsing gRPC text:

- ``TritonUnavailableError``: the server cannot be reached or is overloaded (queue full). Transient:
  retried here with exponential backoff and jitter, then raised.
- ``ModelNotReadyError``: the server answers but the model is not loaded (typo in the model name, a
  failed load). Not retried: waiting does not fix a missing model; the worker falls back to rules.
- ``TritonTimeoutError``: the request's deadline passed (client-side or in the server's queue). Not
  retried: the same deadline would expire again; the caller may retry with a larger one.
- ``TritonRequestError``: anything else the server rejected (bad input, model error).

Interactive calls use ``Priority.INTERACTIVE`` (Triton level 1); TranslationJob shards use
``Priority.BATCH`` (level 2, the model's default), so a person never waits behind a batch job.
"""

from __future__ import annotations

import enum
import functools
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from tenacity import (
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

try:
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException
except ImportError:  # the serving extra is not installed; TritonClient() says so
    grpcclient = None
    InferenceServerException = Exception

logger = logging.getLogger("portalis_worker.triton")

T = TypeVar("T")


class TritonError(RuntimeError):
    """Base of every error this client raises."""


class TritonUnavailableError(TritonError):
    """Server unreachable, shutting down or refusing load (queue full); transient, retried."""


class ModelNotReadyError(TritonError):
    """The server is up but the model is unknown or not loaded; permanent for this server."""


class TritonTimeoutError(TritonError):
    """The request's deadline passed before a response arrived."""


class TritonRequestError(TritonError):
    """The server rejected or failed the request (bad input, model error)."""


class Priority(enum.IntEnum):
    """Triton priority levels, as configured in ``model_repo/*/config.pbtxt`` (1 is served first)."""

    INTERACTIVE = 1
    BATCH = 2


@dataclass(frozen=True)
class TritonClientSettings:
    """Connection and policy knobs; part of the worker's settings object."""

    url: str = "127.0.0.1:8001"
    translator_model: str = "translator"
    #: The translator model's version (spec.model.version); "" asks for the server's latest.
    translator_version: str = ""
    embedder_model: str = "embedder"
    typer_model: str = "typer"
    #: Deadline for one request (client side and in Triton's queue), seconds.
    timeout_s: float = 120.0
    #: Attempts for transient failures (1 = no retry).
    attempts: int = 4
    backoff_initial_s: float = 0.2
    backoff_max_s: float = 5.0
    #: Rows per request; ``None`` asks the server for the model's ``max_batch_size``.
    max_rows_per_request: int | None = None


def _classify(exc: Exception, model: str, url: str) -> TritonError:
    """Map a tritonclient/gRPC error onto our exception types (by gRPC status, then message)."""
    status = str(exc.status() if hasattr(exc, "status") and callable(exc.status) else "")
    message = str(exc.message() if hasattr(exc, "message") and callable(exc.message) else exc)
    text = message.lower()
    if "DEADLINE_EXCEEDED" in status:
        return TritonTimeoutError(f"{model} at {url}: deadline exceeded ({message})")
    if any(k in text for k in ("unknown model", "not found", "is not ready", "unavailable state")):
        return ModelNotReadyError(f"model {model!r} is not loaded on Triton at {url} ({message})")
    if "timeout" in text or "timed out" in text:  # the server's queue policy dropped it
        return TritonTimeoutError(f"{model} at {url}: timed out in the server queue ({message})")
    if "UNAVAILABLE" in status or "queue size" in text or "connect" in text:
        return TritonUnavailableError(f"Triton at {url} unavailable ({status}: {message})")
    return TritonRequestError(f"{model} at {url} failed ({status}: {message})")


def _chunks(n: int, size: int) -> Iterator[tuple[int, int]]:
    for start in range(0, n, size):
        yield start, min(n, start + size)


class TritonClient:
    """Blocking client for one Triton server; thread-safe (one gRPC channel, no per-call state)."""

    def __init__(self, settings: TritonClientSettings | None = None, grpc_client: Any = None) -> None:
        if grpc_client is None and grpcclient is None:
            raise TritonUnavailableError("tritonclient[grpc] is not installed (the 'serving' extra)")
        self.settings = settings or TritonClientSettings()
        self._client: Any = grpc_client or grpcclient.InferenceServerClient(url=self.settings.url)
        self._max_rows: dict[str, int] = {}

    # --- health -------------------------------------------------------------------------------

    def _health(self, call: Callable[[], Any]) -> bool:
        try:
            return bool(call())
        except InferenceServerException:
            return False

    def is_live(self) -> bool:
        """The server process answers (false when it is down: no exception)."""
        return self._health(lambda: self._client.is_server_live(client_timeout=self.settings.timeout_s))

    def is_ready(self) -> bool:
        """The server is ready, which in Triton means every loaded model is ready."""
        return self._health(lambda: self._client.is_server_ready(client_timeout=self.settings.timeout_s))

    def _version(self, model: str) -> str:
        """The version asked of ``model``: the job's for the translator, else the server's latest."""
        return self.settings.translator_version if model == self.settings.translator_model else ""

    def model_ready(self, model: str) -> bool:
        """``model`` (at the version asked of it) is loaded and ready (false for unknown models and
        versions, and when the server is down)."""
        timeout = self.settings.timeout_s
        version = self._version(model)
        return self._health(lambda: self._client.is_model_ready(model, version, client_timeout=timeout))

    def require_model(self, model: str) -> None:
        """Raise the precise error: server unreachable vs model missing."""
        if not self.is_live():
            raise TritonUnavailableError(f"Triton at {self.settings.url} is not reachable")
        if not self.model_ready(model):
            version = self._version(model)
            what = f"model {model!r}" + (f" version {version}" if version else "")
            raise ModelNotReadyError(f"{what} is not loaded on Triton at {self.settings.url}")

    # --- inference ----------------------------------------------------------------------------

    def translate_batch(
        self, sources: Sequence[str], priority: Priority = Priority.BATCH, timeout_s: float | None = None
    ) -> list[str]:
        """Rust source for each Python source, in order (invalid UTF-8 from the model is replaced)."""
        model = self.settings.translator_model
        out: list[str] = []
        for rows in self._infer_chunks(model, sources, ["RUST"], priority, timeout_s):
            out.extend(_as_text(v) for v in rows["RUST"].reshape(-1))
        return out

    def embed(
        self, sources: Sequence[str], priority: Priority = Priority.BATCH, timeout_s: float | None = None
    ) -> NDArray[np.float32]:
        """Hashed n-gram embeddings ``[B, dim]`` (portalis_kernels.featurize on the server)."""
        return self._stack("EMBEDDING", sources, priority, timeout_s).astype(np.float32, copy=False)

    def minhash(
        self, sources: Sequence[str], priority: Priority | None = None, timeout_s: float | None = None
    ) -> NDArray[np.uint32]:
        """MinHash signatures ``[B, num_perm]`` (portalis_kernels.minhash on the server). The embedder
        has no priority levels, so by default none is sent."""
        return self._stack("MINHASH", sources, priority, timeout_s).astype(np.uint32, copy=False)

    def infer_types(
        self, slots: Sequence[str], timeout_s: float | None = None
    ) -> list[list[tuple[str, float]]]:
        """The typer's top-k (type, score) for each slot text (typer_features.slot_texts), best first."""
        model = self.settings.typer_model
        out: list[list[tuple[str, float]]] = []
        for rows in self._infer_chunks(model, slots, ["TYPES", "SCORES"], None, timeout_s, "SLOT"):
            for types, scores in zip(rows["TYPES"], rows["SCORES"], strict=True):
                out.append([(_as_text(t), float(p)) for t, p in zip(types, scores, strict=True)])
        return out

    def _stack(
        self, output: str, sources: Sequence[str], priority: Priority | None, timeout_s: float | None
    ) -> NDArray[Any]:
        model = self.settings.embedder_model
        parts = [r[output] for r in self._infer_chunks(model, sources, [output], priority, timeout_s)]
        if not parts:
            return np.zeros((0, 0))
        return np.concatenate(parts, axis=0)

    def _infer_chunks(
        self,
        model: str,
        sources: Sequence[str],
        outputs: list[str],
        priority: Priority | None,
        timeout_s: float | None,
        input_name: str = "SOURCE",
    ) -> Iterator[dict[str, NDArray[Any]]]:
        """One request per ``max_batch_size`` rows; Triton's dynamic batcher merges across callers."""
        if not sources:
            return
        rows = self._rows_per_request(model)
        for start, end in _chunks(len(sources), rows):
            data = np.array([[s.encode("utf-8")] for s in sources[start:end]], dtype=np.object_)
            call = functools.partial(self._infer_once, model, data, outputs, priority, timeout_s, input_name)
            yield self._retrying(call)

    def _infer_once(
        self,
        model: str,
        data: NDArray[Any],
        outputs: list[str],
        priority: Priority | None,
        timeout_s: float | None,
        input_name: str = "SOURCE",
    ) -> dict[str, NDArray[Any]]:
        """`priority` None: the model has no priority levels (the typer), so none is sent."""
        timeout = self.settings.timeout_s if timeout_s is None else timeout_s
        inp = grpcclient.InferInput(input_name, list(data.shape), "BYTES")
        inp.set_data_from_numpy(data)
        try:
            result = self._client.infer(
                model,
                [inp],
                model_version=self._version(model),
                outputs=[grpcclient.InferRequestedOutput(name) for name in outputs],
                priority=0 if priority is None else int(priority),
                timeout=max(1, int(timeout * 1e6)),  # the server's queue deadline, microseconds
                client_timeout=timeout,
            )
        except InferenceServerException as exc:
            raise _classify(exc, model, self.settings.url) from exc
        return {name: result.as_numpy(name) for name in outputs}

    def _rows_per_request(self, model: str) -> int:
        if self.settings.max_rows_per_request is not None:
            return self.settings.max_rows_per_request
        if model not in self._max_rows:

            def fetch() -> int:
                try:
                    cfg = self._client.get_model_config(
                        model, self._version(model), as_json=True, client_timeout=self.settings.timeout_s
                    )
                except InferenceServerException as exc:
                    raise _classify(exc, model, self.settings.url) from exc
                return max(1, int(cfg["config"].get("max_batch_size", 1)))

            self._max_rows[model] = self._retrying(fetch)
        return self._max_rows[model]

    def _retrying(self, call: Callable[[], T]) -> T:
        retryer = Retrying(
            stop=stop_after_attempt(max(1, self.settings.attempts)),
            # Exponential backoff plus jitter, so the workers of a job do not retry in lockstep.
            wait=wait_exponential(multiplier=self.settings.backoff_initial_s, max=self.settings.backoff_max_s)
            + wait_random(0, self.settings.backoff_initial_s),
            retry=retry_if_exception_type(TritonUnavailableError),
            before_sleep=before_sleep_log(logger, logging.WARNING),
            reraise=True,
        )
        return retryer(call)

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> TritonClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
