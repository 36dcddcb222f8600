"""The SQL store: typed models, migrations, idempotent upserts, and readers for the metrics layer."""
