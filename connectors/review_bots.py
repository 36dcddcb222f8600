"""Which review authors are bots, per Git host (pure, no I/O).

A pull request's ``first_review_at`` is the first *human* pickup: a review, approval or comment by a
bot (an app, an access token, a CI job) is skipped. Each host names its automated accounts
differently; only signals the host itself sets are used, never guesses from display names
(documented per host in ``docs/sources/<host>.md``; GitHub's rule lives in ``github_mapping``):

- GitLab: a user object with ``bot: true`` (the full user entity has it; the note ``author`` is a
  basic user without it, so the username is read too): the bot users GitLab creates for project and
  group access tokens (``project_<id>_bot_<hex>`` / ``group_<id>_bot_<hex>``; on older instances
  ``project_<id>_bot`` with an optional counter), the default usernames of service accounts
  (``service_account_<hex>``, ``service_account_<group|project>_<id>_<hex>``), and GitLab's internal
  bots (``Users::Internal``: GitLab Duo code review, LLM, security, automation, alert, support,
  migration and admin bots; a counter is appended when the name was taken). Usernames are
  case-insensitive.
- Gitea / Forgejo: the API user object has no type; the one reliable signal is the built-in Actions
  user (id ``-2``, login ``gitea-actions`` / ``forgejo-actions``) that workflow tokens act as.
- Bitbucket Cloud: an account whose ``type`` is ``app_user`` (the account type of apps and of
  repository, project and workspace access tokens; people are ``user``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_GITLAB_BOT_USERNAME = re.compile(
    r"(?:project|group)_\d+_bot(?:_[0-9a-f]+|\d*)"  # project / group access token bots
    r"|service_account_(?:(?:group|project)_\d+_)?[0-9a-f]+"  # service accounts, generated username
    r"|(?:gitlabduo|gitlab-llm-bot|gitlab-security-bot|gitlab-admin-bot"
    r"|automation-bot|alert-bot|support-bot|migration-bot)\d*",  # Users::Internal bots
    re.IGNORECASE,
)
GITEA_ACTIONS_USER_ID = -2
_GITEA_ACTIONS_LOGINS = frozenset({"gitea-actions", "forgejo-actions"})


def gitlab_user_is_bot(user: Mapping[str, Any]) -> bool:
    """Whether a GitLab user object (a note ``author``, an approver) is a bot account."""
    if user.get("bot") is True:
        return True
    username = user.get("username")
    return isinstance(username, str) and _GITLAB_BOT_USERNAME.fullmatch(username) is not None


def gitea_user_is_bot(user: Mapping[str, Any]) -> bool:
    """Whether a Gitea / Forgejo user object (a review's ``user``) is the built-in Actions bot."""
    login = user.get("login")
    return user.get("id") == GITEA_ACTIONS_USER_ID or (
        isinstance(login, str) and login.lower() in _GITEA_ACTIONS_LOGINS
    )


def bitbucket_account_is_bot(account: Mapping[str, Any]) -> bool:
    """Whether a Bitbucket Cloud account object is an app user (an app or an access token)."""
    return account.get("type") == "app_user"
