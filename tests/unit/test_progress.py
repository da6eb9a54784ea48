from __future__ import annotations

import pytest
from builders import at
from hypothesis import given
from hypothesis import strategies as st

from portalis_operator.progress import (
    PROGRESS_ANNOTATION,
    ShardProgress,
    aggregate,
    parse_report,
    report_annotation,
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
    assert parse_report(report_annotation(p)) == p
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
