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
        self.member: tuple[str, str] | None = None
        """(class, method) when it arose in a method: the class may be translated without it."""
        self.definition: str | None = None
        """The top-level function or constant it arose in, when not in a method."""
        super().__init__(f"unsupported: {construct} at line {line}")

    def within(self, owner: str | None, name: str) -> Unsupported:
        """Record where this arose: the method of `owner`, or the top-level definition `name` (the
        innermost place, when several are involved)."""
        if self.member is None and self.definition is None:
            if owner is not None:
                self.member = (owner, name)
            else:
                self.definition = name
        return self

    def __reduce__(self) -> tuple[type[Unsupported], tuple[str, int]]:
        """Keep the exception picklable across process pools (the default reduce loses args)."""
        return (Unsupported, (self.construct, self.line))
