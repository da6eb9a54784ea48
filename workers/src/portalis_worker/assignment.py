"""The worker's assignment: every setting it takes from the environment, validated once at start-up.

The operator sets these on the pod (operator/src/portalis_operator/manifests.py). Nothing else in the
worker reads `os.environ`: this object is passed down.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

PREFIX = "PORTALIS_"
CRATE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


class BackendMode(StrEnum):
    AUTO = "auto"
    MODEL = "model"
    RULES = "rules"


class ModelFallback(StrEnum):
    """What a shard does when its model server cannot be used (`spec.model.fallback`, model_server.py)."""

    NONE = "none"  # fail: the operator's condition says the model server was unavailable
    RULES = "rules"  # go on with the rules translator alone


class AssignmentError(ValueError):
    """The environment does not describe a valid assignment; the message names each variable."""


class Assignment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=False)

    job_name: str = Field(validation_alias=AliasChoices("PORTALIS_JOB_NAME"), min_length=1)
    job_namespace: str = Field("default", validation_alias=AliasChoices("PORTALIS_JOB_NAMESPACE"))
    job_uid: str = Field("", validation_alias=AliasChoices("PORTALIS_JOB_UID"))
    shard_index: int = Field(validation_alias=AliasChoices("PORTALIS_SHARD_INDEX"), ge=0)
    shard_count: int = Field(validation_alias=AliasChoices("PORTALIS_SHARD_COUNT"), ge=1, le=64)
    backend: BackendMode = Field(BackendMode.AUTO, validation_alias=AliasChoices("PORTALIS_BACKEND"))
    checkpoint_interval_seconds: float = Field(
        30.0, validation_alias=AliasChoices("PORTALIS_CHECKPOINT_INTERVAL_SECONDS"), gt=0
    )
    crate_name: str = Field(validation_alias=AliasChoices("PORTALIS_CRATE_NAME"), max_length=64)
    rust_edition: str = Field("2021", validation_alias=AliasChoices("PORTALIS_RUST_EDITION"))
    source_dir: Path = Field(validation_alias=AliasChoices("PORTALIS_SOURCE_DIR"))
    output_dir: Path = Field(validation_alias=AliasChoices("PORTALIS_OUTPUT_DIR"))
    ledger_dir: Path = Field(validation_alias=AliasChoices("PORTALIS_LEDGER_DIR"))
    scratch_dir: Path = Field(
        Path(tempfile.gettempdir()), validation_alias=AliasChoices("PORTALIS_SCRATCH_DIR")
    )
    # The translation memory's directory (memory.py): the output PVC's `.portalis/memory`, shared by the
    # jobs that write to that claim; unset: no memory (`spec.translation.memory: false`, ConfigMap output).
    memory_dir: Path | None = Field(None, validation_alias=AliasChoices("PORTALIS_MEMORY_DIR"))
    include: tuple[str, ...] = Field(("**/*.py",), validation_alias=AliasChoices("PORTALIS_INCLUDE"))
    exclude: tuple[str, ...] = Field((), validation_alias=AliasChoices("PORTALIS_EXCLUDE"))
    git_url: str | None = Field(None, validation_alias=AliasChoices("PORTALIS_GIT_URL"))
    git_ref: str | None = Field(None, validation_alias=AliasChoices("PORTALIS_GIT_REF"))
    git_path: str = Field("/", validation_alias=AliasChoices("PORTALIS_GIT_PATH"))
    # The mounted credentialsSecretRef Secret (git_credentials.py): a path, never a credential.
    git_credentials_dir: Path | None = Field(
        None, validation_alias=AliasChoices("PORTALIS_GIT_CREDENTIALS_DIR")
    )
    triton_url: str = Field("localhost:8001", validation_alias=AliasChoices("PORTALIS_TRITON_URL"))
    model_name: str = Field("portalis-translator", validation_alias=AliasChoices("PORTALIS_MODEL_NAME"))
    model_version: int | None = Field(None, validation_alias=AliasChoices("PORTALIS_MODEL_VERSION"), ge=1)
    model_fallback: ModelFallback = Field(
        ModelFallback.NONE, validation_alias=AliasChoices("PORTALIS_MODEL_FALLBACK")
    )
    model_wait_seconds: float = Field(
        120.0, validation_alias=AliasChoices("PORTALIS_MODEL_WAIT_SECONDS"), ge=0, le=3600
    )
    pod_name: str | None = Field(None, validation_alias=AliasChoices("PORTALIS_POD_NAME"))
    node_name: str | None = Field(None, validation_alias=AliasChoices("PORTALIS_NODE_NAME"))
    metrics_port: int = Field(9400, validation_alias=AliasChoices("PORTALIS_METRICS_PORT"), ge=0, le=65535)
    rust_check: bool = Field(True, validation_alias=AliasChoices("PORTALIS_RUST_CHECK"))
    rustc: str = Field("rustc", validation_alias=AliasChoices("PORTALIS_RUSTC"), min_length=1)
    max_file_bytes: int = Field(
        4 * 1024 * 1024, validation_alias=AliasChoices("PORTALIS_MAX_FILE_BYTES"), ge=1
    )
    service_account_dir: Path = Field(
        Path("/var/run/secrets/kubernetes.io/serviceaccount"),
        validation_alias=AliasChoices("PORTALIS_SERVICE_ACCOUNT_DIR"),
    )
    kubernetes_host: str | None = Field(None, validation_alias=AliasChoices("KUBERNETES_SERVICE_HOST"))
    kubernetes_port: int = Field(443, validation_alias=AliasChoices("KUBERNETES_SERVICE_PORT"), ge=1)
    log_level: str = Field("INFO", validation_alias=AliasChoices("PORTALIS_LOG_LEVEL"))
    # ConfigMap output (configmap_output.py): the output ConfigMap and every shard's ledger ConfigMap.
    output_config_map: str | None = Field(None, validation_alias=AliasChoices("PORTALIS_OUTPUT_CONFIGMAP"))
    ledger_config_maps: tuple[str, ...] = Field(
        (), validation_alias=AliasChoices("PORTALIS_LEDGER_CONFIGMAPS")
    )

    @field_validator("include", "exclude", "ledger_config_maps", mode="before")
    @classmethod
    def _json_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else []
            except ValueError as exc:
                raise ValueError(f"not a JSON list of globs: {exc}") from None
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ValueError("must be a JSON list of strings")
        return value

    @field_validator(
        "git_url",
        "git_ref",
        "model_version",
        "pod_name",
        "node_name",
        "kubernetes_host",
        "output_config_map",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("rust_edition")
    @classmethod
    def _edition(cls, value: str) -> str:
        if value not in ("2018", "2021", "2024"):
            raise ValueError("must be one of 2018, 2021, 2024")
        return value

    @field_validator("crate_name")
    @classmethod
    def _crate(cls, value: str) -> str:
        if not CRATE_NAME.match(value):
            raise ValueError("must match ^[A-Za-z][A-Za-z0-9_-]*$")
        return value

    @field_validator("git_path")
    @classmethod
    def _git_path(cls, value: str) -> str:
        parts = [p for p in value.split("/") if p not in ("", ".")]
        if ".." in parts:
            raise ValueError("must not contain '..'")
        return "/" + "/".join(parts)

    @field_validator("include", "exclude")
    @classmethod
    def _globs(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for glob in value:
            if glob.startswith("/") or ".." in glob.split("/"):
                raise ValueError(f"glob {glob!r} must be relative to the source root, without '..'")
        return value

    @model_validator(mode="after")
    def _shard_in_range(self) -> Assignment:
        if self.shard_index >= self.shard_count:
            raise ValueError(
                f"PORTALIS_SHARD_INDEX ({self.shard_index}) must be below "
                f"PORTALIS_SHARD_COUNT ({self.shard_count})"
            )
        return self

    def fingerprint(self) -> str:
        """What makes two ledgers belong to the same job: records under another fingerprint are stale."""
        parts = {
            "job": [self.job_namespace, self.job_name, self.job_uid],
            "shards": self.shard_count,
            "backend": self.backend.value,
            "crate": self.crate_name,
            "edition": self.rust_edition,
            "include": list(self.include),
            "exclude": list(self.exclude),
            "git": [self.git_url, self.git_ref, self.git_path],
            "check": self.rust_check,
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


_FIELD_ENV = {
    name: str(f.validation_alias.choices[0])  # type: ignore[union-attr]
    for name, f in Assignment.model_fields.items()
}


def load_assignment(environ: Mapping[str, str]) -> Assignment:
    """Validate the environment; every problem is reported with the variable's name."""
    wanted = set(_FIELD_ENV.values())
    values = {k: v for k, v in environ.items() if k in wanted}
    try:
        return Assignment.model_validate(values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = err["loc"][0] if err["loc"] else ""
            var = _FIELD_ENV.get(str(loc), str(loc)) if loc else ""
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{var}: {msg}" if var else msg)
        raise AssignmentError("invalid worker environment: " + "; ".join(problems)) from None
