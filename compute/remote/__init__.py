"""The compute on shared storage: log store proposer for commits, page server for pages.

``RemoteFactory`` (``compute.remote.factory``) is the engine's ConnectionFactory for
``strata compute --role primary|replica``. See docs/compute-remote.md.
"""
