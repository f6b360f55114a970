"""The control plane: cluster spec, state directory, process drivers, reconciler, REST API.

Imports run one way: services <- control <- CLI. Nothing here is imported by a service; the
control plane talks to services only through their client modules, flags and SQL.
"""
