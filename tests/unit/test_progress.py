from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from builders import at
from hypothesis import given
from hypothesis import strategies as st

from portalis_operator.progress import (
    PROGRESS_ANNOTATION,
    ShardProgress,
    aggregate,
    parse_report,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('{"unitsTotal": 10, "unitsDone": 4}', ShardProgress(10, 4, 0, None)),
        (
            '{"unitsTotal": 10, "unitsDone": 4, "unitsFailed": 1,'
            ' "lastCheckpointTime": "2026-01-01T00:05:00Z"}',
            ShardProgress(10, 4, 1, at(5)),
        ),
        ("not json", None),
        ('{"unitsDone": 4}', None),
        ('{"unitsTotal": -1, "unitsDone": 0}', None),
        ('{"unitsTotal": 1, "unitsDone": 0, "lastCheckpointTime": "2026-01-01T00:05:00"}', None),  # no zone
        ("[]", None),
    ],
)
def test_parse_report(raw: str, expected: ShardProgress | None) -> None:
    assert parse_report({PROGRESS_ANNOTATION: raw}) == expected


def test_report_round_trip() -> None:
    p = ShardProgress(10, 3, 1, at(7))
    assert parse_report({PROGRESS_ANNOTATION: p.encode()}) == p  # the worker's side: test_worker_contract
    assert parse_report(None) is None


def test_percent_waits_for_every_shard() -> None:
    progress = aggregate([ShardProgress(10, 10), None], 2, at(0), at(10))
    assert progress.percent is None
    assert progress.eta is None
    assert progress.units_total == 10


def test_percent_eta_and_checkpoint() -> None:
    shards = [ShardProgress(10, 4, 1, at(8)), ShardProgress(10, 5, 0, at(9))]
    progress = aggregate(shards, 2, at(0), at(10))
    assert (progress.units_total, progress.units_done, progress.units_failed) == (20, 9, 1)
    assert progress.percent == 50
    assert progress.eta == at(20)  # 10 units in 10 minutes, 10 to go
    assert progress.last_checkpoint_time == at(8)  # the oldest shard's


def test_hundred_percent_only_when_all_processed() -> None:
    assert aggregate([ShardProgress(1000, 999)], 1, at(0), at(1)).percent == 99
    assert aggregate([ShardProgress(1000, 990, 10)], 1, at(0), at(1)).percent == 100
    assert aggregate([ShardProgress(0, 0)], 1, at(0), at(1)).percent == 100


shard = st.builds(
    lambda total, done, failed: ShardProgress(total, min(done, total), min(failed, total - min(done, total))),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
)


@given(shards=st.lists(shard, min_size=1, max_size=8), elapsed=st.integers(0, 10_000))
def test_aggregate_invariants(shards: list[ShardProgress], elapsed: int) -> None:
    progress = aggregate(shards, len(shards), at(0), at(elapsed))
    assert progress.percent is not None
    assert 0 <= progress.percent <= 100
    processed = progress.units_done + progress.units_failed
    assert (progress.percent == 100) == (processed == progress.units_total)
    if progress.eta is not None:
        assert progress.eta >= at(elapsed)


# ---- hostile reports (issue 13, item 1): anyone who may patch a worker pod writes this annotation ----

INT64_MAX = 2**63 - 1


@pytest.mark.parametrize(
    "raw",
    [
        '{"unitsTotal": 1e12, "unitsDone": 1}',  # a float: the worker writes integers
        '{"unitsTotal": 10.0, "unitsDone": 1}',
        f'{{"unitsTotal": {2**64}, "unitsDone": 1}}',  # past int64: the status patch would be refused
        f'{{"unitsTotal": {INT64_MAX}, "unitsDone": 1}}',  # int64, but no shard has this many units
        '{"unitsTotal": 10, "unitsDone": NaN}',
        '{"unitsTotal": Infinity, "unitsDone": 1}',
        '{"unitsTotal": 10, "unitsDone": -Infinity}',
        '{"unitsTotal": true, "unitsDone": 1}',
        '{"unitsTotal": "10", "unitsDone": 1}',
        '{"unitsTotal": 10, "unitsDone": 1, "unitsFailed": -1}',
        '{"unitsTotal": 10, "unitsDone": 1, "lastCheckpointTime": 12}',
        '{"unitsTotal": 10, "unitsDone": 1, "lastCheckpointTime": "9999-12-31T23:59:59Z"}',
        '{"unitsTotal": 10, "unitsDone": 1, "lastCheckpointTime": "0001-01-01T00:00:00Z"}',
        "[" * 100_000 + "]" * 100_000,  # nesting deep enough to overflow the parser's recursion
        '{"unitsTotal": 10, "unitsDone": 1, "pad": "' + "x" * 300_000 + '"}',  # larger than any report
        "9" * 10_000,  # past Python's integer-string limit
    ],
)
def test_hostile_reports_count_as_not_reported(raw: str) -> None:
    assert parse_report({PROGRESS_ANNOTATION: raw}) is None


def test_counts_past_the_total_are_clamped_to_it() -> None:
    raw = '{"unitsTotal": 10, "unitsDone": 12, "unitsFailed": 5}'
    assert parse_report({PROGRESS_ANNOTATION: raw}) == ShardProgress(10, 10, 0, None)
    raw = '{"unitsTotal": 10, "unitsDone": 7, "unitsFailed": 5}'
    assert parse_report({PROGRESS_ANNOTATION: raw}) == ShardProgress(10, 7, 3, None)


def test_a_checkpoint_in_the_future_is_not_trusted() -> None:
    shards = [ShardProgress(10, 4, 0, at(60))]
    assert aggregate(shards, 1, at(0), at(10)).last_checkpoint_time == at(10)


def test_an_absurd_rate_gives_no_eta_instead_of_overflowing() -> None:
    ancient = datetime(1, 1, 1, tzinfo=UTC)  # elapsed * remaining / processed is past timedelta's range
    progress = aggregate([ShardProgress(10_000_000, 1)], 1, ancient, at(0))
    assert progress.eta is None
    late = datetime(9999, 12, 1, tzinfo=UTC)  # now + a plausible ETA is past datetime's range
    assert aggregate([ShardProgress(100, 1)], 1, late - timedelta(days=1), late).eta is None


reports = st.builds(
    lambda total, done, failed, ckpt: {
        "unitsTotal": total,
        "unitsDone": done,
        "unitsFailed": failed,
        "lastCheckpointTime": ckpt,
    },
    st.one_of(st.integers(), st.floats(allow_nan=True), st.booleans(), st.none()),
    st.one_of(st.integers(), st.floats(allow_nan=True)),
    st.one_of(st.integers(), st.floats(allow_nan=True)),
    st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat()), st.text()),
)


@given(
    shards=st.lists(reports, min_size=1, max_size=64),
    started=st.datetimes(timezones=st.just(UTC)),
    now=st.datetimes(timezones=st.just(UTC)),
)
def test_no_report_can_break_the_aggregate_or_the_status(
    shards: list[dict[str, object]], started: datetime, now: datetime
) -> None:
    import json

    parsed = [parse_report({PROGRESS_ANNOTATION: json.dumps(s)}) for s in shards]
    progress = aggregate(parsed, len(parsed), started, now)  # never raises
    for count in (progress.units_total, progress.units_done, progress.units_failed):
        assert 0 <= count <= INT64_MAX  # the CRD's integers are int64
    assert progress.units_done + progress.units_failed <= progress.units_total
