"""Which shard owns which file.

Rule: a file belongs to shard `int(sha256(path)[:8 bytes]) % shard_count`, `path` being its POSIX path
relative to the source root. So all units of a file stay together (a file is one Rust module, checked
by rustc as a whole), and the owner of a file depends on nothing else: every shard computes the same
assignment without talking to the others, and the list of other files cannot move a file between
shards. The price is balance by file count, not by size; with many files it evens out.
"""

from __future__ import annotations

import hashlib


def shard_of(path: str, shard_count: int) -> int:
    digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % shard_count
