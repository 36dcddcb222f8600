"""Rows of one batch with the same natural key: the last one wins, at the key's first position."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from collector.store.upsert import dedupe_value_rows


def last_wins_at_first_position(rows: Sequence[Sequence[Any]], key_positions: Sequence[int]) -> list[Sequence[Any]]:
    """The definition, written as plainly as possible."""
    order: list[tuple[Any, ...]] = []
    last: dict[tuple[Any, ...], Sequence[Any]] = {}
    for row in rows:
        key = tuple(row[position] for position in key_positions)
        if key not in last:
            order.append(key)
        last[key] = row
    return [last[key] for key in order]


rows_strategy = st.lists(
    st.tuples(st.sampled_from(["r1", "r2"]), st.integers(0, 4), st.integers()).map(tuple), max_size=30
)


@settings(max_examples=300, deadline=None)
@given(rows_strategy, st.sampled_from([(0,), (1,), (0, 1), (1, 0)]))
def test_dedupe_keeps_the_last_row_of_each_key_at_its_first_position(
    rows: list[tuple[Any, ...]], key_positions: tuple[int, ...]
) -> None:
    assert dedupe_value_rows(rows, key_positions) == last_wins_at_first_position(rows, key_positions)
    assert dedupe_value_rows(tuple(rows), key_positions) == last_wins_at_first_position(rows, key_positions)


def test_rows_without_a_repeated_key_come_back_unchanged() -> None:
    rows = [("r1", 1, "a"), ("r2", 1, "b"), ("r1", 2, "c")]  # the last key column repeats, the key does not
    assert dedupe_value_rows(rows, (0, 1)) == rows
    distinct = [("r1", 1, "a"), ("r1", 2, "b")]
    assert dedupe_value_rows(distinct, (0, 1)) is distinct


def test_a_repeated_key_keeps_its_first_place_and_the_later_values() -> None:
    rows = [("r1", 1, "old"), ("r2", 1, "x"), ("r1", 1, "new")]
    assert dedupe_value_rows(rows, (0, 1)) == [("r1", 1, "new"), ("r2", 1, "x")]
