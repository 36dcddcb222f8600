"""The collector: configuration, store, CLI and the wiring of sources to the metrics engine."""

__version__ = "0.1.0"
