"""Base URLs are normalised once for every HTTP source: no trailing slash, no pasted API root."""

from __future__ import annotations

from connectors.github_settings import Settings as GitHubSettings
from connectors.gitlab_settings import Settings as GitLabSettings
from connectors.servicenow import Settings as ServiceNowSettings


def test_trailing_slash_and_api_root_suffix_are_removed_per_kind() -> None:
    gitlab = GitLabSettings(
        name="gl", kind="gitlab", token="t", projects=["a/b"], base_url="https://gl.example.com/api/v4/"
    )
    assert gitlab.base_url == "https://gl.example.com"
    # GitHub Enterprise's API root *is* /api/v3: only the slash goes
    github = GitHubSettings(
        name="gh", kind="github", token="t", repositories=["a/b"], base_url="https://ghe.example.com/api/v3/"
    )
    assert github.base_url == "https://ghe.example.com/api/v3"
    now = ServiceNowSettings.model_validate(
        {
            "name": "sn",
            "kind": "servicenow",
            "token": "t",
            "username": "bot",
            "base_url": "https://acme.service-now.com/api/now/",
        }
    )
    assert now.base_url == "https://acme.service-now.com"
