"""Incident rules: selection, service mapping, explicit causes, ADF flattening, resolution from history."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.incident_rules import (
    CauseSettings,
    IncidentSelection,
    ItemFacts,
    ServiceRule,
    StatusChange,
    adf_to_text,
    find_cause,
    first_transition_into,
    is_incident,
    resolved_at_from_history,
    service_for,
)

SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9011223344"


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 5, 1, hour, minute, tzinfo=UTC)


# --- selection -------------------------------------------------------------------------------


def test_without_criteria_every_item_is_an_incident():
    assert is_incident(IncidentSelection(), ItemFacts())


def test_any_criterion_suffices_by_default_and_comparisons_ignore_case():
    selection = IncidentSelection(issue_types=("Incident",), labels=("sev1",))
    assert is_incident(selection, ItemFacts(issue_type="incident"))
    assert is_incident(selection, ItemFacts(issue_type="Task", labels=("SEV1",)))
    assert not is_incident(selection, ItemFacts(issue_type="Task", labels=("bug",)))


def test_match_all_requires_every_criterion():
    selection = IncidentSelection(urgencies=("high",), priorities=("P1", "P2"), match="all")
    assert is_incident(selection, ItemFacts(urgency="high", priority="P2"))
    assert not is_incident(selection, ItemFacts(urgency="high", priority="P3"))
    assert not is_incident(selection, ItemFacts(urgency=None, priority="P1"))


def test_custom_field_equality_reads_option_values_and_lists():
    selection = IncidentSelection(fields={"customfield_10020": "Yes"})
    assert is_incident(selection, ItemFacts(fields={"customfield_10020": {"value": "yes", "id": "3"}}))
    assert is_incident(selection, ItemFacts(fields={"customfield_10020": [{"value": "No"}, {"value": "Yes"}]}))
    assert not is_incident(selection, ItemFacts(fields={"customfield_10020": {"value": "No"}}))
    assert not is_incident(selection, ItemFacts(fields={}))


# --- service mapping -------------------------------------------------------------------------


def test_first_matching_service_rule_wins_with_case_insensitive_globs():
    rules = [
        ServiceRule(by="component", value="Checkout*", service="checkout"),
        ServiceRule(by="label", value="svc-*", service="labelled"),
        ServiceRule(by="field", field="customfield_1", value="pay*", service="payments"),
    ]
    both = ItemFacts(labels=("svc-x",), facts={"component": ("checkout-api",)})
    assert service_for(rules, both) == "checkout"  # component rule comes first
    assert service_for(rules, ItemFacts(labels=("SVC-Y",))) == "labelled"
    assert service_for(rules, ItemFacts(fields={"customfield_1": {"value": "Payments"}})) == "payments"


def test_item_no_rule_claims_is_unmapped():
    rules = [ServiceRule(by="assignment_group", value="SRE", service="platform")]
    assert service_for(rules, ItemFacts(facts={"assignment_group": ("Network",)})) is None
    assert service_for((), ItemFacts(labels=("anything",))) is None


def test_field_rules_need_a_field_and_only_they_take_one():
    with pytest.raises(ValueError, match="field"):
        ServiceRule(by="field", value="x", service="s")
    with pytest.raises(ValueError, match="field"):
        ServiceRule(by="label", value="x", service="s", field="customfield_1")


# --- causes ----------------------------------------------------------------------------------


def test_cause_from_a_commit_link_in_the_description():
    cause = find_cause(CauseSettings(), {}, f"Broke after https://gitlab.com/acme/api/-/commit/{SHA.upper()} shipped")
    assert cause.sha == SHA  # lower-cased
    assert cause.deployment_id is None


def test_cause_from_a_deployment_link_gives_the_git_host_source_id():
    text = "see https://api.github.com/repos/acme/shop/deployments/991 for the rollout"
    assert find_cause(CauseSettings(), {}, text).deployment_id == "acme/shop/deployments/991"


def test_cause_from_a_deployment_statement_and_sha_statement():
    text = f"Deployment: acme/shop/deployments/17\nCaused by: {SHA}"
    cause = find_cause(CauseSettings(), {}, text)
    assert cause.deployment_id == "acme/shop/deployments/17"
    assert cause.sha == SHA


def test_cause_fields_come_before_the_description_and_bare_values_are_classified():
    settings = CauseSettings(fields=("customfield_9", "customfield_8"))
    fields = {"customfield_9": "release-2024.05.01", "customfield_8": SHA}
    cause = find_cause(settings, fields, "Deployment: other/deployments/1")
    assert cause.deployment_id == "release-2024.05.01"  # a bare non-sha value is a deployment id
    assert cause.sha == SHA  # a bare 40-hex value is a sha


def test_short_shas_and_plain_prose_are_no_cause():
    cause = find_cause(CauseSettings(), {}, "the deployment went fine; commit abc1234 looks suspicious")
    assert cause.deployment_id is None and cause.sha is None


def test_custom_pattern_with_named_group_and_description_search_off():
    settings = CauseSettings(patterns=(r"DEP-(?P<deployment>\d+)",), search_description=False, fields=("notes",))
    assert find_cause(settings, {"notes": "rolled back DEP-42 at noon"}, "DEP-7").deployment_id == "42"


def test_pattern_without_a_named_group_is_refused():
    with pytest.raises(ValueError, match="named group"):
        CauseSettings(patterns=(r"deploy (\d+)",))


# --- ADF -------------------------------------------------------------------------------------


def test_adf_is_flattened_with_link_targets():
    doc = {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "First"}]},
            {
                "type": "paragraph",
                "content": [
                    {"type": "text", "text": "see "},
                    {
                        "type": "text",
                        "text": "this",
                        "marks": [{"type": "link", "attrs": {"href": "https://x/commit/1"}}],
                    },
                    {"type": "inlineCard", "attrs": {"url": "https://y/deployments/2"}},
                ],
            },
        ],
    }
    assert adf_to_text(doc) == "First\nsee this (https://x/commit/1) https://y/deployments/2 \n"
    assert adf_to_text("wiki *markup*") == "wiki *markup*"
    assert adf_to_text(None) == ""


# --- resolution from a status history --------------------------------------------------------


def test_reopened_then_resolved_takes_the_last_transition_into_done():
    history = [
        StatusChange(at(10), "In Progress"),
        StatusChange(at(11), "Done"),
        StatusChange(at(12), "Reopened"),
        StatusChange(at(14), "Closed"),
    ]
    assert resolved_at_from_history(history, ("Done", "Closed"), currently_done=True) == at(14)
    assert first_transition_into(history, ("in progress",)) == at(10)


def test_reopened_item_is_open_again_whatever_its_history():
    history = [StatusChange(at(11), "Done"), StatusChange(at(12), "Reopened")]
    assert resolved_at_from_history(history, ("Done",), currently_done=False) is None


def test_done_without_a_done_transition_gives_none_for_the_caller_to_fall_back():
    assert resolved_at_from_history([StatusChange(at(9), "In Progress")], ("Done",), currently_done=True) is None
