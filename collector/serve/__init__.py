"""`delivery-metrics serve`: scheduler, Prometheus exporter, HTTP API, push ingestion and webhooks.

Modules: :mod:`~collector.serve.settings` (the ``server:`` config section),
:mod:`~collector.serve.state` (the snapshot and source health served, swapped by reference),
:mod:`~collector.serve.exporter` (the Prometheus collector), :mod:`~collector.serve.locks` (one sync
per source across replicas), :mod:`~collector.serve.scheduler`, :mod:`~collector.serve.app` and its
routes, :mod:`~collector.serve.webhooks` (one receiver per provider), :mod:`~collector.serve.runner`.
"""
