"""What a transfer pod runs (`python3 -c <this file> ...`): standard library only, no package imports,
because it runs in the worker image from its own source text. Also imported by the plugin for `pack`
and `unpack`, so both ends share one archive format.

- `upload PARTS DEST SHA256`: join PARTS/part-* (the source archive, mounted from ConfigMaps), check its
  SHA-256, replace DEST with its contents.
- `export SRC SA_DIR NAMESPACE PREFIX OWNER_UID`: pack SRC and store it in ConfigMaps `PREFIX-<i>` and a
  manifest `PREFIX-manifest` through the API, with the pod's service account; they are owned by the
  pod (OWNER_UID), so they go when it goes.

Exit codes: 0 done, 3 SRC does not exist, 4 the archive is corrupt or unsafe, 1 anything else.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import shutil
import ssl
import stat
import sys
import tarfile
import urllib.request
from pathlib import Path, PurePosixPath

CHUNK_BYTES = 768 * 1024
"""Per ConfigMap: 1 MiB is the object limit, base64 in JSON adds a third."""
SKIP_DIRS = frozenset({".git", "__pycache__", ".venv", ".mypy_cache", ".pytest_cache", ".ruff_cache"})


def pack(root: Path, skip_dirs: frozenset[str] = frozenset()) -> bytes:
    """A tar.gz of every regular file under `root`, byte-identical for the same files: sorted, with
    zero times, owners and mode 0644, and no gzip time or name. Directories named in `skip_dirs`
    and anything that is not a regular file or directory (links, sockets) are left out."""
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in skip_dirs)
            for name in sorted(filenames):
                path = Path(dirpath) / name
                st = path.lstat()
                if not stat.S_ISREG(st.st_mode):
                    continue
                info = tarfile.TarInfo(path.relative_to(root).as_posix())
                info.size, info.mode, info.mtime = st.st_size, 0o644, 0
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
    return buf.getvalue()


def unpack(data: bytes, dest: Path) -> list[str]:
    """Extract an archive made by `pack` into `dest`; ValueError for anything but regular files with
    relative paths that stay inside `dest`. Returns the paths written."""
    written: list[str] = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for member in tar:
            rel = PurePosixPath(member.name)
            if not member.isfile() or rel.is_absolute() or ".." in rel.parts or not rel.parts:
                raise ValueError(f"unsafe archive member {member.name!r}")
            target = dest.joinpath(*rel.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is None:
                raise ValueError(f"unreadable archive member {member.name!r}")
            with target.open("wb") as fh:
                shutil.copyfileobj(source, fh)
            written.append(rel.as_posix())
    return written


def upload(parts: Path, dest: Path, sha256: str) -> int:
    data = b"".join(p.read_bytes() for p in sorted(parts.glob("part-*")))
    if hashlib.sha256(data).hexdigest() != sha256:
        print("the source archive does not match its digest", file=sys.stderr)
        return 4
    staging = dest.parent / f".{dest.name}.upload"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        files = unpack(data, staging)
    except (ValueError, tarfile.TarError) as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 4
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    print(json.dumps({"files": len(files), "bytes": len(data)}))
    return 0


def _api(sa_dir: Path) -> tuple[str, dict[str, str], ssl.SSLContext]:
    host = os.environ["KUBERNETES_SERVICE_HOST"]
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    base = f"https://{host if ':' not in host else f'[{host}]'}:{port}"
    token = (sa_dir / "token").read_text().strip()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return base, headers, ssl.create_default_context(cafile=str(sa_dir / "ca.crt"))


def export(src: Path, sa_dir: Path, namespace: str, prefix: str, owner_uid: str) -> int:
    if not src.is_dir():
        print(f"{src} does not exist", file=sys.stderr)
        return 3
    data = pack(src)
    base, headers, context = _api(sa_dir)
    owner = [{"apiVersion": "v1", "kind": "Pod", "name": prefix, "uid": owner_uid}]
    labels = {"portalis.dev/transfer": prefix}
    chunks = [data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES)] or [b""]

    def create(name: str, body: dict[str, object]) -> None:
        meta = {"name": name, "labels": labels, "ownerReferences": owner}
        request = urllib.request.Request(
            f"{base}/api/v1/namespaces/{namespace}/configmaps",
            data=json.dumps({"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, **body}).encode(),
            method="POST",
            headers=headers,
        )
        with urllib.request.urlopen(request, timeout=30, context=context) as resp:
            resp.read()

    for i, chunk in enumerate(chunks):
        create(f"{prefix}-{i:05d}", {"binaryData": {"data": base64.b64encode(chunk).decode()}})
    manifest = {"parts": len(chunks), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    create(f"{prefix}-manifest", {"data": {"manifest.json": json.dumps(manifest)}})
    print(json.dumps(manifest))
    return 0


def main(argv: list[str]) -> int:
    try:
        if argv[:1] == ["upload"] and len(argv) == 4:
            return upload(Path(argv[1]), Path(argv[2]), argv[3])
        if argv[:1] == ["export"] and len(argv) == 6:
            return export(Path(argv[1]), Path(argv[2]), argv[3], argv[4], argv[5])
        print(f"usage: upload PARTS DEST SHA256 | export SRC SA_DIR NAMESPACE PREFIX OWNER_UID; got {argv}")
        return 2
    except Exception as exc:  # one line in the pod's log, a distinct exit code for the plugin
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
