"""Benchmark suite at organisation scale (issue 10): run ``python -m benchmarks.run --help``.

Performance is measured here, never by timed unit tests; ``docs/performance.md`` records the figures.
"""
