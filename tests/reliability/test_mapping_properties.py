"""Bad input, property-based, over every connector's record mapping (issue 11).

(a) Any JSON-ish object, and any valid recorded payload with one value anywhere replaced by arbitrary
JSON (or removed), makes a mapping raise only ``KeyError``/``ValueError``/``TypeError`` — the errors
a source turns into a per-source ``SourceError`` — never ``AttributeError``, ``IndexError``, ...
(b) A valid payload with one required field missing or of the wrong type raises an error naming it.
(c) A source fed a page holding one malformed item fails naming resource and page, and yields no
batch for that page.
"""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses
from connector_helpers import FakeClock, FakeServices
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mapping_cases import CASES, fixture

from connectors.base import SourceContext
from connectors.errors import SourceError
from connectors.gitea import GiteaSource
from connectors.gitea import Settings as GiteaSettings
from connectors.incident_rules import StatusChange, first_transition_into, resolved_at_from_history
from connectors.pagerduty import PagerDutySource
from connectors.pagerduty import Settings as PagerDutySettings
from connectors.records import Incident, PullRequest

ALLOWED = (KeyError, ValueError, TypeError)
bounded = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["2024-01-01T00:00:00Z", "COMPLETED", "completed", "resolved", "success", "done", ""]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
DELETE = object()


def _paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 4) -> list[tuple[Any, ...]]:
    """Every path (dict key / list index) inside ``value``, up to ``depth`` levels."""
    if depth == 0:
        return []
    children: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        children = list(value.items())
    elif isinstance(value, list):
        children = list(enumerate(value[:3]))
    found: list[tuple[Any, ...]] = []
    for key, child in children:
        found.append((*prefix, key))
        found += _paths(child, (*prefix, key), depth - 1)
    return found


def _replaced(payload: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A deep copy of ``payload`` with the value at ``path`` replaced (or removed for ``DELETE``)."""
    copied = copy.deepcopy(payload)
    parent = copied
    for key in path[:-1]:
        parent = parent[key]
    if new is DELETE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return copied


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value[:3] for k in _keys(v)}
    return set()


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_valid_payload_maps(name: str) -> None:
    """The baseline: every recorded payload maps without error (the corruptions below are the only change)."""
    CASES[name].call(copy.deepcopy(CASES[name].payload))


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
@bounded
def test_a_payload_with_one_value_corrupted_raises_only_lookup_value_or_type_errors(name: str, data) -> None:
    case = CASES[name]
    paths = _paths(case.payload)
    if not paths:
        raw = data.draw(json_values)
    else:
        path = data.draw(st.sampled_from(paths), label="path")
        new = data.draw(json_values | st.just(DELETE), label="new")
        raw = _replaced(case.payload, path, new)
    with contextlib.suppress(*ALLOWED):
        case.call(raw)


@pytest.mark.parametrize("name", sorted(CASES))
@given(data=st.data())
@bounded
def test_an_arbitrary_object_raises_only_lookup_value_or_type_errors(name: str, data) -> None:
    case = CASES[name]
    keys = sorted(_keys(case.payload)) or ["id"]
    objects = st.dictionaries(st.sampled_from(keys), json_values, max_size=10)
    raw = data.draw(st.lists(objects, max_size=3) if isinstance(case.payload, list) else objects)
    with contextlib.suppress(*ALLOWED):
        case.call(raw)


WRONG = {"a list": [1, 2], "an object": {"x": 1}}
CORRUPTIONS = sorted(
    [(name, field, "missing") for name, case in CASES.items() for field in case.required]
    + [(name, field, wrong) for name, case in CASES.items() for field in case.required for wrong in WRONG]
    + [(name, field, "a string") for name, case in CASES.items() for field in case.typed]
    + [(name, field, "a list") for name, case in CASES.items() for field in case.typed]
)
WRONG["a string"] = "not-an-object"


def _names(error: BaseException, field: str) -> bool:
    if isinstance(error, KeyError):
        return error.args[:1] == (field,)
    return field in str(error)


@pytest.mark.parametrize(("name", "field", "corruption"), CORRUPTIONS)
def test_a_required_field_missing_or_of_the_wrong_type_is_named(name: str, field: str, corruption: str) -> None:
    case = CASES[name]
    assert field in case.payload, f"fixture of {name} lacks {field}"
    raw = _replaced(case.payload, (field,), DELETE if corruption == "missing" else WRONG[corruption])
    with pytest.raises(ALLOWED) as caught:
        case.call(raw)
    assert _names(caught.value, field), f"{name} with {field} {corruption}: {caught.value!r}"


# --- incident_rules over typed histories ----------------------------------------------------------

T0 = datetime(2024, 1, 1, tzinfo=UTC)
changes = st.lists(
    st.builds(
        StatusChange,
        st.integers(0, 10_000).map(lambda m: T0 + timedelta(minutes=m)),
        st.sampled_from(["Open", "Done", "done", "In Progress", "Closed", ""]),
    ),
    max_size=8,
)


@given(changes, st.booleans())
@bounded
def test_resolution_is_the_last_transition_into_done_and_none_while_open(history, done_now) -> None:
    resolved = resolved_at_from_history(history, ["Done", "Closed"], currently_done=done_now)
    into_done = [c.at for c in history if c.to_status.lower() in ("done", "closed")]
    if not done_now:
        assert resolved is None
    else:
        assert resolved == (max(into_done) if into_done else None)
    first = first_transition_into(history, ["in progress"])
    assert first == min((c.at for c in history if c.to_status == "In Progress"), default=None)


# --- a source turns a malformed item into a per-source error and writes nothing of its page ------------


def _until_error(source: Any) -> tuple[list[Any], SourceError]:
    """The batches a source yielded before failing, and its error (which must be a ``SourceError``)."""
    batches: list[Any] = []
    try:
        for batch in source.batches({}):
            batches.append(batch)
    except SourceError as error:
        return batches, error
    raise AssertionError("the source did not fail")


def test_gitea_fails_naming_resource_and_page_on_a_malformed_pull_request() -> None:
    base = "https://git.example.com/api/v1/repos/acme/shop"
    docs = fixture("gitea", "documented_payloads.json")
    good, bad = copy.deepcopy(docs["pulls"][0]), copy.deepcopy(docs["pulls"][1])
    bad["created_at"] = ["not", "a", "time"]
    settings = GiteaSettings.model_validate(
        {
            "name": "gt",
            "kind": "gitea",
            "base_url": "https://git.example.com",
            "token": "gitea-SECRET-token",
            "repositories": [{"name": "acme/shop", "branch": "main"}],
            "per_page": 10,
        }
    )
    clock = FakeClock()
    context = SourceContext(run_started_at=datetime(2024, 6, 1, 12, tzinfo=UTC), services=FakeServices({}))
    total = {"X-Total-Count": "2"}
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.add(responses.GET, f"{base}/commits", json=[], headers={"X-Total-Count": "0"})
        page = responses.matchers.query_param_matcher
        mocked.add(
            responses.GET, f"{base}/pulls", json=[bad], headers=total, match=[page({"page": "2"}, strict_match=False)]
        )
        mocked.add(
            responses.GET, f"{base}/pulls", json=[good], headers=total, match=[page({"page": "1"}, strict_match=False)]
        )
        for number in (good["number"], bad["number"]):
            mocked.add(responses.GET, f"{base}/pulls/{number}/commits", json=[], headers={"X-Total-Count": "0"})
            mocked.add(responses.GET, f"{base}/pulls/{number}/reviews", json=[], headers={"X-Total-Count": "0"})
        batches, error = _until_error(GiteaSource(settings, context, sleep=clock.sleep, clock=clock))
    pulls = [r.number for b in batches for r in b.records if isinstance(r, PullRequest)]
    assert pulls == [good["number"]]  # page 1 stored, nothing of page 2
    assert not any(str(bad["number"]) in getattr(r, "external_id", "") for b in batches for r in b.records)
    assert error.source == "gt" and error.resource == "repos/acme/shop/pulls" and error.page == "2"
    assert "created_at" in str(error) and "page 2" in str(error), error


def test_pagerduty_fails_naming_resource_and_page_on_a_malformed_incident() -> None:
    incidents = [
        {k: v for k, v in row["body"].items() if k not in ("log_entries", "alerts")}
        for row in fixture("pagerduty", "incidents.json")
    ]
    bad = copy.deepcopy(incidents[2])
    bad["created_at"] = {"when": "yesterday"}
    settings = PagerDutySettings.model_validate(
        {
            "name": "pd",
            "kind": "pagerduty",
            "token": "pd-SECRET",
            "history_days": 30,
            "per_page": 2,
            "log_entries": "never",
        }
    )
    clock = FakeClock()
    context = SourceContext(run_started_at=datetime(2022, 12, 1, tzinfo=UTC), services=FakeServices())
    offset = responses.matchers.query_param_matcher
    url = "https://api.pagerduty.com/incidents"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        first = {"incidents": incidents[:2], "limit": 2, "offset": 0, "more": True}
        mocked.add(responses.GET, url, json=first, match=[offset({"offset": "0"}, strict_match=False)])
        second = {"incidents": [bad], "limit": 2, "offset": 2, "more": False}
        mocked.add(responses.GET, url, json=second, match=[offset({"offset": "2"}, strict_match=False)])
        batches, error = _until_error(PagerDutySource(settings, context, sleep=clock.sleep, clock=clock))
    stored = [r.external_id for b in batches for r in b.records if isinstance(r, Incident)]
    assert sorted(stored) == sorted(i["id"] for i in incidents[:2])  # page 1 only
    assert len(batches) == 1
    assert error.source == "pd" and error.resource == "incidents" and (error.page or "").startswith("2 ")
    assert "created_at" in str(error) and "page 2" in str(error), error
