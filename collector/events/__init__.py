"""Canonical events: the JSON schema shared by `ingest`, the push API and the webhooks."""
