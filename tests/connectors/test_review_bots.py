"""Which review authors GitLab, Gitea/Forgejo and Bitbucket mark as bots, and which people stay people."""

from __future__ import annotations

import pytest

from connectors.review_bots import bitbucket_account_is_bot, gitea_user_is_bot, gitlab_user_is_bot


@pytest.mark.parametrize(
    "username",
    [
        "project_278964_bot_4f1c0e2a9b7d43c58e6a1f0b2c3d4e5f",  # project access token
        "project_278964_bot_4f1c0e2a9b7d43c58e6a1f0b2c3d4e5f1",  # ... with GitLab's uniqueness counter
        "group_9970_bot_0a1b2c3d4e5f60718293a4b5c6d7e8f9",  # group access token
        "project_278964_bot",  # older naming
        "project_278964_bot3",  # older naming, counter
        "service_account_c468757e6df2fc104de54ea470539bb5",  # instance service account (generated)
        "service_account_group_345_c468757e6df2fc104de54ea470539bb5",
        "service_account_project_42_c468757e6df2fc104de54ea470539bb5",
        "GitLabDuo",  # Duo code review (Users::Internal)
        "gitlab-llm-bot",  # usernames are case-insensitive
        "GitLab-Security-Bot",
        "support-bot1",  # internal bot renamed with a counter
    ],
)
def test_gitlab_token_service_account_and_internal_bot_usernames_are_bots(username: str) -> None:
    assert gitlab_user_is_bot({"id": 1, "username": username, "state": "active"})


@pytest.mark.parametrize(
    "username",
    ["alice", "project_manager", "projectbot", "group_lead_bot", "gitlab-duo-fan", "ghost", "service_account"],
)
def test_gitlab_people_are_not_bots(username: str) -> None:
    assert not gitlab_user_is_bot({"id": 1, "username": username})


def test_gitlab_full_user_entity_bot_flag_is_honoured() -> None:
    assert gitlab_user_is_bot({"id": 5, "username": "release-helper", "bot": True})
    assert not gitlab_user_is_bot({"id": 5, "username": "release-helper", "bot": False})


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ({"id": -2, "login": "gitea-actions"}, True),
        ({"id": -2, "login": "forgejo-actions"}, True),
        ({"login": "Gitea-Actions"}, True),  # login only (older or trimmed payloads)
        ({"id": -1, "login": "Ghost"}, False),  # a deleted user's review is still a person's
        ({"id": 7, "login": "renovate"}, False),  # an ordinary account: no API signal
        ({"id": 8, "login": "carol"}, False),
    ],
)
def test_gitea_only_the_actions_user_is_a_bot(user: dict[str, object], expected: bool) -> None:
    assert gitea_user_is_bot(user) is expected


@pytest.mark.parametrize(
    ("account", "expected"),
    [
        ({"type": "app_user", "uuid": "{b}", "kind": "repository_access_token"}, True),
        ({"type": "app_user", "uuid": "{c}"}, True),
        ({"type": "user", "uuid": "{u}", "nickname": "renovate-bot"}, False),  # a person's account type
        ({"uuid": "{u}"}, False),
    ],
)
def test_bitbucket_app_users_are_bots(account: dict[str, object], expected: bool) -> None:
    assert bitbucket_account_is_bot(account) is expected
