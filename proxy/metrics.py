"""Prometheus metrics of the proxy, in a registry of their own."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server


class ProxyMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.clients = Gauge("proxy_clients", "Client connections past their startup packet", registry=r)
        self.refused = Counter("proxy_refused_connections", "Client connections refused, by reason",
                               ["reason"], registry=r)
        self.servers = Gauge("proxy_server_connections", "Server connections open, by compute",
                             ["backend"], registry=r)
        self.pool_waits = Counter("proxy_pool_waits", "Transactions that waited for a pooled connection",
                                  registry=r)
        self.pool_exhausted = Counter("proxy_pool_exhausted", "Transactions refused with 53300 after "
                                      "the pool timeout", registry=r)
        self.routed = Counter("proxy_routed_transactions", "Transactions by target role and reason",
                              ["target", "reason"], registry=r)
        self._routed: dict[tuple[str, str], Counter] = {}
        self.failovers = Counter("proxy_failovers", "Primary changes seen", registry=r)
        self.ryw_waits = Counter("proxy_ryw_waits", "Reads that waited for a replica to replay the "
                                 "session's last commit", ["outcome"], registry=r)
        self.server_failures = Counter("proxy_server_failures", "Transactions failed because their "
                                       "server connection died", ["sqlstate"], registry=r)

    def routed_child(self, target: str, reason: str) -> Counter:
        """The routed counter of (target, reason), kept: ``labels()`` costs a lock and a
        tuple check per transaction."""
        child = self._routed.get((target, reason))
        if child is None:
            child = self._routed[(target, reason)] = self.routed.labels(target, reason)
        return child

    def serve(self, host: str, port: int) -> None:
        """Expose /metrics over HTTP (a daemon thread)."""
        start_http_server(port, addr=host, registry=self.registry)
