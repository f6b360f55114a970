"""Prometheus metrics of the proxy, in a registry of their own."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from proxy.lend import Lending


class RoutedCounts(Collector):
    """``proxy_routed_transactions_total{target,reason}`` as plain ints, exported when
    scraped: counted once per transaction, where a prometheus Counter's ``inc`` takes a
    lock (the proxy is one thread)."""

    def __init__(self) -> None:
        self.counts: dict[tuple[str, str], int] = {}

    def count(self, target: str, reason: str) -> None:
        key = (target, reason)
        self.counts[key] = self.counts.get(key, 0) + 1

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("proxy_routed_transactions", "Transactions by target role and reason",
                                     labels=["target", "reason"])
        for (target, reason), n in list(self.counts.items()):
            family.add_metric([target, reason], n)
        yield family


class DeferredBegins(Collector):
    """``proxy_deferred_begins_total{sent}``: plain BEGINs the proxy answered itself, by how
    they reached the compute: with the client's next message, or alone when BEGIN_HOLD_S
    passed (``timer``). Plain ints (one thread), exported when scraped."""

    def __init__(self) -> None:
        self.held = 0
        self.timed = 0

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("proxy_deferred_begins", "Plain BEGINs answered by the proxy, "
                                     "by how they reached the compute", labels=["sent"])
        family.add_metric(["with_next_message"], self.held - self.timed)
        family.add_metric(["timer"], self.timed)
        yield family


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
        self.routed = RoutedCounts()
        r.register(self.routed)
        self.deferred_begins = DeferredBegins()
        r.register(self.deferred_begins)
        self.lending = Lending()
        r.register(self.lending)
        self.failovers = Counter("proxy_failovers", "Primary changes seen", registry=r)
        self.ryw_waits = Counter("proxy_ryw_waits", "Reads that waited for a replica to replay the "
                                 "session's last commit", ["outcome"], registry=r)
        self.server_failures = Counter("proxy_server_failures", "Transactions failed because their "
                                       "server connection died", ["sqlstate"], registry=r)

    def serve(self, host: str, port: int) -> None:
        """Expose /metrics over HTTP (a daemon thread)."""
        start_http_server(port, addr=host, registry=self.registry)
