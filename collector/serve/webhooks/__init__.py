"""Webhook receivers (GitHub, GitLab, PagerDuty) and the replay-safe storage of their deliveries."""
