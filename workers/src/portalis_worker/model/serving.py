"""Start a real ``tritonserver`` on ``model_repo/`` without Docker: tests, benchmarks, local runs.

The ``nvidia-pytriton`` wheel ships Triton 2.51 (server binary, its shared libraries, the Python
backend and one backend stub per Python version). Everything is located inside the installed wheel
at run time. Like pytriton itself, we copy the backends into a work directory and put the stub for
*this* interpreter's version next to ``libtriton_python.so``, because the Python backend looks for
``triton_python_backend_stub`` in its own directory; the running interpreter's ``bin/`` goes first
on ``PATH`` so the stub's embedded Python finds this environment's site-packages (torch, nemo,
portalis_worker). In a pod the sidecar image does the same once at build time.

numpy: the 2.51 stub's pybind11 reads numpy 1.x array descriptors; under numpy 2 every BYTES tensor
arrives with zero strides and the stub dies (``unpack_from requires a buffer ...``). That is why
nvidia-pytriton pins ``numpy<2``. Our project runs numpy 2, so the stub gets its own interpreter
environment (``stub_environment``): a tiny venv holding only ``numpy==1.26.4`` whose ``.pth`` then
adds this environment's site-packages (torch, nemo, portalis) behind it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
import urllib.error
import urllib.request
import venv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import util
from pathlib import Path
from types import TracebackType


class TritonUnavailableError(RuntimeError):
    """The Triton distribution is not installed here, or the server did not become ready."""


@dataclass(frozen=True)
class TritonDistribution:
    """Paths inside the installed ``nvidia-pytriton`` wheel."""

    server: Path
    backends: Path
    caches: Path
    libs: Path
    stub: Path

    @classmethod
    def find(cls, python_version: str | None = None) -> TritonDistribution:
        """Locate the wheel's Triton; ``TritonUnavailableError`` says what to install when it is absent."""
        spec = util.find_spec("pytriton")
        if spec is None or spec.origin is None:
            raise TritonUnavailableError(
                "tritonserver not found: install nvidia-pytriton (see docs/model.md, 'Install')"
            )
        root = Path(spec.origin).parent / "tritonserver"
        version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
        dist = cls(
            server=root / "bin" / "tritonserver",
            backends=root / "backends",
            caches=root / "caches",
            libs=root.parent.parent / "nvidia_pytriton.libs",
            stub=root / "python_backend_stubs" / version / "triton_python_backend_stub",
        )
        missing = [p for p in (dist.server, dist.backends, dist.libs, dist.stub) if not p.exists()]
        if missing:
            raise TritonUnavailableError(f"incomplete nvidia-pytriton install, missing: {missing}")
        return dist

    def prepare_backends(self, workdir: Path) -> Path:
        """A backend directory whose Python backend has this interpreter's stub beside it."""
        target = workdir / "backends"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(self.backends, target, ignore=shutil.ignore_patterns("__pycache__"))
        stub = target / "python" / "triton_python_backend_stub"
        shutil.copy2(self.stub, stub)
        stub.chmod(0o755)
        return target


#: numpy for the stub's environment: the last 1.x release (the stub cannot run numpy 2, see above).
STUB_NUMPY = "numpy==1.26.4"


def default_cache_dir() -> Path:
    """Where ``stub_environment`` keeps its venv between runs (a few seconds and 80 MB to rebuild)."""
    return Path.home() / ".cache" / "portalis"


def stub_environment(cache_dir: Path | None = None, numpy_spec: str = STUB_NUMPY) -> Path:
    """A venv whose ``bin/`` the stub's embedded Python takes its ``sys.prefix`` from.

    Its site-packages holds only ``numpy_spec``; a ``.pth`` file appends this interpreter's
    site-packages, so everything else resolves to the packages installed here. pip honours
    ``PIP_FIND_LINKS``/``PIP_NO_INDEX``, so offline machines install numpy from a wheel directory.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = (cache_dir or default_cache_dir()) / f"triton-stub-py{version}-{numpy_spec.replace('==', '-')}"
    if (env / ".ready").exists():
        _write_parent_pth(env / "lib" / f"python{version}" / "site-packages")
        return env
    building = env.with_name(env.name + f".tmp{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    venv.EnvBuilder(with_pip=False, symlinks=True, clear=True).create(building)
    site = building / "lib" / f"python{version}" / "site-packages"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), numpy_spec],
        check=True,
    )
    _write_parent_pth(site)
    (building / ".ready").write_text(numpy_spec + "\n")
    shutil.rmtree(env, ignore_errors=True)
    building.rename(env)
    return env


def _write_parent_pth(site: Path) -> None:
    """Append this interpreter's site-packages, and PYTHONPATH (the stub ignores the variable)."""
    entries = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    lines = [f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})"]
    lines += [str(Path(p).resolve()) for p in entries]
    (site / "zz_portalis_parent_env.pth").write_text("\n".join(lines) + "\n")


def free_port() -> int:
    """A loopback port nobody listens on now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerOptions:
    """Command-line choices; ``config_name="cpu"`` selects each model's ``configs/cpu.pbtxt``."""

    model_repository: Path
    models: Sequence[str] = ("translator", "embedder")
    config_name: str | None = "cpu"
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    metrics_port: int = field(default_factory=free_port)
    cache_bytes: int = 64 << 20
    log_verbose: int = 0
    extra_args: Sequence[str] = ()

    def command(self, dist: TritonDistribution, backends: Path) -> list[str]:
        """The tritonserver command line; explicit model control, so only ``models`` load."""
        cmd = [
            str(dist.server),
            f"--model-repository={self.model_repository}",
            f"--backend-directory={backends}",
            f"--cache-directory={dist.caches}",
            f"--cache-config=local,size={self.cache_bytes}",
            "--model-control-mode=explicit",
            *(f"--load-model={m}" for m in self.models),
            "--exit-on-error=true",
            f"--grpc-port={self.grpc_port}",
            f"--http-port={self.http_port}",
            f"--metrics-port={self.metrics_port}",
            "--allow-gpu-metrics=false",
            f"--log-verbose={self.log_verbose}",
        ]
        if self.config_name:
            cmd.append(f"--model-config-name={self.config_name}")
        return [*cmd, *self.extra_args]


class TritonServer:
    """One tritonserver child process; ``with TritonServer(opts) as s:`` waits until it is ready."""

    def __init__(
        self,
        options: ServerOptions,
        workdir: Path,
        dist: TritonDistribution | None = None,
        python_env: Path | None = None,
    ) -> None:
        self.options = options
        self.workdir = workdir
        self.dist = dist or TritonDistribution.find()
        self.python_env = python_env
        self.log_path = workdir / "tritonserver.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def grpc_url(self) -> str:
        return f"127.0.0.1:{self.options.grpc_port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.options.http_port}"

    def environment(self) -> dict[str, str]:
        """Child environment: this interpreter's libpython and bin/ first, then the wheel's libraries.

        The stub links ``libpython3.X.so.1.0`` dynamically. Without our ``LIBDIR`` first it may bind
        the system's libpython of another patch release, whose symbols this interpreter's extension
        modules do not match (seen: ``_ssl ... undefined symbol: _PyModule_Add``).
        """
        env = dict(os.environ)
        libdirs = [str(self.dist.libs), env.get("LD_LIBRARY_PATH", "")]
        if sysconfig.get_config_var("Py_ENABLE_SHARED"):
            libdirs.insert(0, str(sysconfig.get_config_var("LIBDIR")))
        env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in libdirs if p)
        bindir = self.python_env / "bin" if self.python_env else Path(sys.executable).parent
        env["PATH"] = os.pathsep.join((str(bindir), env.get("PATH", "")))
        return env

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.python_env is None:
            self.python_env = stub_environment()
        backends = self.dist.prepare_backends(self.workdir)
        cmd = self.options.command(self.dist, backends)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=self.environment(), start_new_session=True
            )

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return ""

    def ready(self) -> bool:
        """Server ready (HTTP ``/v2/health/ready``: every loaded model is ready)."""
        try:
            with urllib.request.urlopen(f"{self.http_url}/v2/health/ready", timeout=2) as resp:
                return int(resp.status) == 200
        except (urllib.error.URLError, OSError):
            return False

    def wait_ready(self, timeout: float = 180.0, interval: float = 0.25) -> None:
        """Poll readiness; fail at once with the log tail if the process exits (bad config, no stub)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise TritonUnavailableError(
                    f"tritonserver exited with {self.process.returncode} before ready:\n{self.log_tail()}"
                )
            if self.ready():
                return
            time.sleep(interval)
        raise TritonUnavailableError(f"tritonserver not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM (Triton drains in-flight requests), SIGKILL after ``grace`` seconds."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def __enter__(self) -> TritonServer:
        self.start()
        try:
            self.wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def stage_repository(source: Path, target: Path, checkpoint: Path | None, models: Sequence[str]) -> Path:
    """Copy ``models`` of ``source`` (a model repository) to ``target`` and place ``checkpoint``.

    The copy keeps the checked-in ``model_repo/`` free of checkpoints; the checkpoint lands where the
    translator's ``checkpoint`` parameter expects it (``1/translator.nemo``).
    """
    target.mkdir(parents=True, exist_ok=True)
    for name in models:
        dst = target / name
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(source / name, dst, ignore=shutil.ignore_patterns("__pycache__", "*.nemo"))
    if checkpoint is not None and "translator" in models:
        shutil.copy2(checkpoint, target / "translator" / "1" / "translator.nemo")
    return target


@contextlib.contextmanager
def serve(
    model_repository: Path, workdir: Path, models: Sequence[str] = ("translator", "embedder"), **kw: object
) -> Iterator[TritonServer]:
    """Context manager: a ready server on free loopback ports, stopped on exit."""
    opts = ServerOptions(model_repository=model_repository, models=models, **kw)  # type: ignore[arg-type]
    with TritonServer(opts, workdir) as server:
        yield server


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m portalis_worker.model.serving CHECKPOINT [--gpu]``: serve model_repo/ until Ctrl-C."""
    import argparse
    import tempfile

    parser = argparse.ArgumentParser(description="Serve model_repo/ with a local tritonserver")
    parser.add_argument("checkpoint", type=Path, help="translator .nemo (see make_tiny_checkpoint.py)")
    parser.add_argument("--repo", type=Path, default=Path("model_repo"))
    parser.add_argument("--gpu", action="store_true", help="use config.pbtxt (KIND_GPU), not configs/cpu")
    parser.add_argument("--grpc-port", type=int, default=8001)
    args = parser.parse_args(argv)
    models = ("translator", "embedder")
    with tempfile.TemporaryDirectory(prefix="portalis-triton-") as tmp:
        repo = stage_repository(args.repo, Path(tmp) / "repo", args.checkpoint, models)
        opts = ServerOptions(
            model_repository=repo,
            models=models,
            config_name=None if args.gpu else "cpu",
            grpc_port=args.grpc_port,
        )
        with TritonServer(opts, Path(tmp) / "work") as server:
            print(f"ready: grpc {server.grpc_url}, http {server.http_url}; log {server.log_path}", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while server.process is not None and server.process.poll() is None:
                    time.sleep(1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
