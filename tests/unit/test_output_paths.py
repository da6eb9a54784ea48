"""Issue 13, item 10: two live jobs writing to the same output path clobbered each other's crate and
ledger. The policy is pure; test_admission and test_lifecycle check that a blocked job waits."""

from __future__ import annotations

import pytest
from builders import at
from hypothesis import given
from hypothesis import strategies as st

from portalis_operator.output_paths import OutputClaim, waiting_for_output

pytestmark = pytest.mark.unit


def out(
    name: str, path: str, *, minute: float = 0, claim: str = "crates", ns: str = "a", active: bool = False
) -> OutputClaim:
    return OutputClaim.of(f"{ns}/{name}", at(minute), ns, claim, path, active=active)


@pytest.mark.parametrize(
    ("a", "b", "overlap"),
    [
        ("/", "/x", True),  # the whole volume holds every directory in it
        ("/x", "/x/", True),
        ("/x/./y", "/x//y", True),
        ("/x", "/x/y/z", True),
        ("/x/y", "/x", True),
        ("/x", "/y", False),
        ("/x", "/xy", False),  # a prefix of the name is not a parent directory
        ("/x/y", "/x/z", False),
    ],
)
def test_overlap_is_by_directory(a: str, b: str, overlap: bool) -> None:
    assert out("p", a).overlaps(out("q", b)) is overlap
    assert out("q", b).overlaps(out("p", a)) is overlap


def test_other_claims_and_namespaces_never_overlap() -> None:
    assert not out("p", "/x").overlaps(out("q", "/x", claim="other"))
    assert not out("p", "/x").overlaps(out("q", "/x", ns="b"))


def test_the_oldest_queued_job_is_first_in_line_and_every_overlapping_one_waits_for_it() -> None:
    claims = [
        out("young", "/team/app", minute=5),
        out("old", "/team", minute=1),
        out("middle", "/team/app/v2", minute=3),
        out("elsewhere", "/other", minute=0),
        out("same-age-b", "/same", minute=2),
        out("same-age-a", "/same", minute=2),
    ]
    assert waiting_for_output(claims) == {
        "a/young": "a/old",
        "a/middle": "a/old",
        "a/same-age-b": "a/same-age-a",  # ties go by name: the answer never flips between cycles
    }
    assert waiting_for_output([]) == {}


def test_an_active_job_holds_its_path_whatever_its_age() -> None:
    # The younger job runs already (the older one was suspended, or created before this rule): the older
    # one must not be admitted next to it.
    claims = [out("old", "/x", minute=1), out("running", "/x/y", minute=5, active=True)]
    assert waiting_for_output(claims) == {"a/old": "a/running"}
    # Two active jobs that overlap (admitted before this rule) are left alone; both hold their paths.
    both = [out("p", "/x", active=True), out("q", "/x", minute=1, active=True), out("r", "/x/z", minute=2)]
    assert waiting_for_output(both) == {"a/r": "a/p"}


def test_a_job_waiting_behind_another_does_not_hold_the_path() -> None:
    # /x/y is first in line; /x waits for it; /x/z overlaps only /x, which is not running: /x/z is free.
    claims = [out("a", "/x/y", minute=0), out("b", "/x", minute=1), out("c", "/x/z", minute=2)]
    assert waiting_for_output(claims) == {"a/b": "a/a"}


paths = st.lists(st.sampled_from(["", "x", "y", "."]), max_size=3).map(lambda s: "/" + "/".join(s))


@given(st.lists(st.tuples(paths, st.integers(0, 5), st.booleans()), min_size=1, max_size=8))
def test_admissible_jobs_never_overlap_an_active_job_or_each_other(
    jobs: list[tuple[str, int, bool]],
) -> None:
    claims = [out(f"j{i}", p, minute=m, active=a) for i, (p, m, a) in enumerate(jobs)]
    blocked = waiting_for_output(claims)
    by_key = {c.key: c for c in claims}
    assert all(not by_key[k].active for k in blocked)
    free = [c for c in claims if not c.active and c.key not in blocked]
    active = [c for c in claims if c.active]
    assert all(not a.overlaps(b) for i, a in enumerate(free) for b in free[i + 1 :] + active)
    for young, holder in blocked.items():
        assert holder not in blocked  # it waits for a job that runs or may run, never for a waiter
        assert by_key[holder].overlaps(by_key[young])
