"""Pinned versions of every binary the local control plane builds.

Changing a version here (and, for the wrapper modules, their go.mod) is the only thing that makes
`portalis-dev build` rebuild; the cache key also covers the wrapper modules' go.mod and go.sum.
"""

from __future__ import annotations

from dataclasses import dataclass

KUBERNETES = "v1.35.4"
ETCD = "v3.6.16"
KWOK = "v0.8.0"
HELM = "v3.21.4"
ALERTMANAGER = "v0.34.0"
PROMETHEUS = "v0.316.0"  # module v0.3XX.Y is Prometheus release v3.XX.Y
KUEUE = "v0.17.0"


@dataclass(frozen=True)
class Tool:
    """One cached build: a set of binaries that come from one Go module at one version."""

    name: str
    version: str
    binaries: tuple[str, ...]
    # Either a wrapper module under localcluster/gomod/<wrapper> ...
    wrapper: str | None = None
    packages: tuple[str, ...] = ()
    # ... or a plain `go install <install>@<version>`.
    install: str | None = None
    ldflags: tuple[str, ...] = ()
    # Go names a binary after the last path element that is not a major version (server/v3 -> server).
    renames: tuple[tuple[str, str], ...] = ()
    # Build in a copy of the wrapper module with -mod=mod: the command needs go.sum entries the wrapper
    # does not pin (the kubelet), and adding them would change the control plane's build key.
    scratch_module: bool = False
    # Go build tags (`go build -tags`).
    tags: tuple[str, ...] = ()
    # Seconds a build takes on a cold 2-core machine (empty Go module and build caches; measured for issue 17
    # unless marked as an estimate), for the progress lines' estimates; 0 when unknown.
    cold_seconds: int = 0
    # Build `packages` inside a writable copy of the module's own source (`go mod download`), after writing
    # these (path, text) files into it: for modules whose release zip lacks generated files it embeds.
    source_files: tuple[tuple[str, str], ...] = ()


def _kubernetes_version_ldflags(version: str) -> tuple[str, ...]:
    major, minor = version.lstrip("v").split(".")[:2]
    flags: list[str] = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return tuple(flags)


TOOLS: tuple[Tool, ...] = (
    Tool(
        name="kubernetes",
        version=KUBERNETES,
        binaries=("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"),
        wrapper="kubernetes",
        packages=tuple(
            f"k8s.io/kubernetes/cmd/{b}"
            for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl")
        ),
        ldflags=_kubernetes_version_ldflags(KUBERNETES),
        cold_seconds=294,
    ),
    Tool(
        name="etcd",
        version=ETCD,
        binaries=("etcd", "etcdctl"),
        wrapper="etcd",
        packages=("go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/etcdctl/v3"),
        renames=(("server", "etcd"),),
        cold_seconds=27,
    ),
    Tool(name="kwok", version=KWOK, binaries=("kwok",), install="sigs.k8s.io/kwok/cmd/kwok", cold_seconds=74),
    Tool(name="helm", version=HELM, binaries=("helm",), install="helm.sh/helm/v3/cmd/helm", cold_seconds=59),
    Tool(
        name="amtool",
        version=ALERTMANAGER,
        binaries=("amtool",),
        install="github.com/prometheus/alertmanager/cmd/amtool",
        cold_seconds=37,
    ),
    Tool(
        name="promtool",
        version=PROMETHEUS,
        binaries=("promtool",),
        install="github.com/prometheus/prometheus/cmd/promtool",
        cold_seconds=291,
    ),
    # The servers, for the end-to-end alert routing test (tests/e2e/test_alert_routing.py). Prometheus builds
    # without its web UI assets (no `builtinassets` tag: the API works, the UI pages say so), and
    # `remove_all_sd` leaves out the cloud service discoveries (the test scrapes static targets), which
    # roughly halves what a cold build compiles.
    Tool(
        name="prometheus",
        version=PROMETHEUS,
        binaries=("prometheus",),
        install="github.com/prometheus/prometheus/cmd/prometheus",
        tags=("remove_all_sd",),
        cold_seconds=240,  # estimate: 97 s with promtool's packages already in the Go build cache
    ),
    # Alertmanager's ui package embeds `ui/app/dist` (the web UI built with npm), which its module zip does
    # not ship; a one-page placeholder stands in (the API, which is all that routing uses, is unaffected).
    Tool(
        name="alertmanager",
        version=ALERTMANAGER,
        binaries=("alertmanager",),
        install="github.com/prometheus/alertmanager",
        packages=("./cmd/alertmanager",),
        source_files=(
            (
                "ui/app/dist/index.html",
                "<!doctype html><title>Alertmanager</title><p>Built without its web UI; API: /api/v2\n",
            ),
        ),
        cold_seconds=40,  # estimate: 24 s with amtool's packages already in the Go build cache
    ),
    # Kueue's manager, for the side-by-side admission benchmark (benchmarks/operator_admission.py, whose
    # smoke mode the integration tests run); its CRDs are copied from the module's config/components/crd.
    # Its go.mod has no replace directives, so a plain `go install` builds it.
    Tool(
        name="kueue",
        version=KUEUE,
        binaries=("kueue",),
        install="sigs.k8s.io/kueue/cmd/kueue",
        ldflags=(f"-X sigs.k8s.io/kueue/pkg/version.GitVersion={KUEUE}",),
        # Measured with empty Go caches while other work kept the load average at 10 to 14: 396 CPU-seconds
        # (user + sys), so nearer 200-250 s on an idle machine; 550 MB of modules, 1.9 GB of build cache.
        cold_seconds=702,
    ),
)

# What `make demo` (`portalis-dev demo`) needs; the other tools are built by `make test` on first use.
DEMO_TOOLS: tuple[str, ...] = ("kubernetes", "etcd", "kwok")


# Built only on demand (`portalis-dev up --real-nodes`), not by `portalis-dev build`.
OPTIONAL_TOOLS: tuple[Tool, ...] = (
    Tool(
        name="kubelet",
        version=KUBERNETES,
        binaries=("kubelet",),
        wrapper="kubernetes",
        packages=("k8s.io/kubernetes/cmd/kubelet",),
        ldflags=_kubernetes_version_ldflags(KUBERNETES),
        scratch_module=True,
    ),
)


def tool(name: str) -> Tool:
    for t in TOOLS + OPTIONAL_TOOLS:
        if t.name == name:
            return t
    raise KeyError(f"no pinned tool named {name!r}")
