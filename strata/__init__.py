"""Strata: shared code for every service (LSNs, WAL record format, object store, config, CLI)."""

__version__ = "0.1.0"
