"""PMO reporting: portfolios, goals, calendar-bucket trends, the HTML report and the digest.

Modules: :mod:`settings` (config models), :mod:`buckets` (calendar periods), :mod:`portfolios`
(pooling roll-ups), :mod:`trends` (metrics per bucket, level counts, movers), :mod:`goals`,
:mod:`quality` (what a report could not see), :mod:`build` (store → :class:`~collector.pmo.build.PmoReport`),
:mod:`charts` and :mod:`html_report` (the self-contained HTML file), :mod:`tables` (CSV/JSON),
:mod:`digest` (Slack / Teams payloads and posting), :mod:`schedule` (the cron job),
:mod:`goal_exporter` (goals as Prometheus gauges). This package imports nothing at load time so the
config model can use :mod:`collector.pmo.settings` without cycles.
"""
