"""A kmock Kubernetes API emulator on 127.0.0.1, served from its own thread and event loop,
so that sync clients (the `kubernetes` package, the reconciler) and kopf (its own loop) can
talk to it from the test's thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import kmock

START_TIMEOUT_S = 10.0

VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")
RESOURCES: dict[str, dict[str, Any]] = {
    "v1/pods": {"kind": "Pod", "namespaced": True},
    "v1/services": {"kind": "Service", "namespaced": True},
    "v1/secrets": {"kind": "Secret", "namespaced": True},
    "v1/namespaces": {"kind": "Namespace", "namespaced": False},
    "v1/events": {"kind": "Event", "namespaced": True},
    "v1/persistentvolumeclaims": {"kind": "PersistentVolumeClaim", "namespaced": True},
    "apps/v1/statefulsets": {"kind": "StatefulSet", "namespaced": True},
    "apps/v1/deployments": {"kind": "Deployment", "namespaced": True},
    "policy/v1/poddisruptionbudgets": {"kind": "PodDisruptionBudget", "namespaced": True},
    "strata.dev/v1alpha1/strataclusters": {"kind": "StrataCluster", "namespaced": True,
                                           "subresources": ["status", "scale"]},
    "apiextensions.k8s.io/v1/customresourcedefinitions": {
        "kind": "CustomResourceDefinition", "namespaced": False},
    "coordination.k8s.io/v1/leases": {"kind": "Lease", "namespaced": True},
}


class KmockServer:
    def __init__(self) -> None:
        self.url = ""
        self.emulator: Any = None
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="kmock", daemon=True)

    def _run(self) -> None:
        self.loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with kmock.KubernetesEmulator() as emu, kmock.Server(emu) as srv:
            for res, info in RESOURCES.items():
                emu.resources[res] = {**info, "verbs": list(VERBS)}
            self.emulator = emu
            self.url = str(srv.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def start(self) -> None:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError("kmock did not start")

    def stop(self) -> None:
        if self._stop is not None:
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(START_TIMEOUT_S)

    def call(self, fn: Any) -> Any:
        """Run ``fn()`` on the server's loop (the emulator's state is not thread-safe)."""
        async def run() -> Any:
            return fn()
        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(START_TIMEOUT_S)

    def objects(self, resource: str, namespace: str = "ns") -> dict[str, dict[str, Any]]:
        """Live objects of a resource in a namespace: name -> object (a plain copy)."""
        import copy

        def read() -> dict[str, dict[str, Any]]:
            out = {}
            for (res, ns, name), obj in list(self.emulator.objects.items()):
                if str(res) == str(kmock.resource(resource)) and ns == namespace and not obj.deleted:
                    out[name] = copy.deepcopy(dict(obj.raw))
            return out
        return dict(self.call(read))

    def requests(self) -> list[tuple[str, str]]:
        """(method, path) of every request served so far."""
        return list(self.call(lambda: [(r.method, str(r.url.path)) for r in self.emulator]))


@contextmanager
def kmock_server() -> Iterator[KmockServer]:
    srv = KmockServer()
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()
