"""The page server: materializes pages from the WAL into layers on object storage.

See docs/pageserver.md. Entry points: ``pageserver.cli:app`` (``strata pageserver``),
``pageserver.client.PageServerClient`` (what computes use).
"""
