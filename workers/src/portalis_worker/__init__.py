"""Portalis worker: translates one shard of a Python codebase to Rust with crash-safe checkpoints."""
