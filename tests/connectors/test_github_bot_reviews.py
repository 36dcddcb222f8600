"""GitHub: a bot's review is not the pickup of a pull request (``first_review_at``)."""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.github_mapping import first_review_at


def review(login: str, submitted_at: str, *, user_type: str = "User", state: str = "COMMENTED") -> dict[str, object]:
    return {"user": {"login": login, "type": user_type}, "state": state, "submitted_at": submitted_at}


def test_reviews_by_bots_by_the_author_and_pending_ones_are_skipped() -> None:
    reviews = [
        review("copilot-pull-request-reviewer[bot]", "2024-05-01T09:01:00Z", user_type="Bot"),
        review("ci-helper", "2024-05-01T09:02:00Z", user_type="Bot"),  # an app account without the suffix
        review("renovate[bot]", "2024-05-01T09:03:00Z"),  # the suffix alone marks a bot too
        review("alice", "2024-05-01T09:04:00Z"),  # the author
        review("bob", "2024-05-01T09:05:00Z", state="PENDING"),
        review("carol", "2024-05-01T11:30:00Z", state="APPROVED"),
        review("dave", "2024-05-01T10:15:00+02:00"),  # 08:15Z, written with an offset
    ]
    # dave's review at 08:15Z is the earliest human one
    assert first_review_at(reviews, "alice") == datetime(2024, 5, 1, 8, 15, tzinfo=UTC)
    assert first_review_at(reviews[:-1], "alice") == datetime(2024, 5, 1, 11, 30, tzinfo=UTC)


def test_only_bot_reviews_leave_the_pull_request_unreviewed() -> None:
    reviews = [review("github-actions[bot]", "2024-05-01T09:01:00Z", user_type="Bot")]
    assert first_review_at(reviews, "alice") is None
