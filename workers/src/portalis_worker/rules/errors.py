"""The one error the rule-based translator raises for Python it will not translate."""

from __future__ import annotations


class Unsupported(Exception):
    """A construct outside the supported subset; never emit guesswork in its place.

    The message is always ``"unsupported: <construct> at line N"`` so that callers (the worker,
    the benchmark's failure table) can group failures by construct.
    """

    def __init__(self, construct: str, line: int) -> None:
        self.construct = construct
        self.line = line
        super().__init__(f"unsupported: {construct} at line {line}")

    def __reduce__(self) -> tuple[type[Unsupported], tuple[str, int]]:
        """Keep the exception picklable across process pools (the default reduce loses args)."""
        return (Unsupported, (self.construct, self.line))
