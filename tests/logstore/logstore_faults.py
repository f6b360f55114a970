"""A fault-injecting transport between a proposer and its acceptors: drops requests,
loses replies, delays both. Driven by a seeded RNG so that a failing run can be replayed."""

from __future__ import annotations

import asyncio
import random

from logstore.errors import TransportError
from logstore.transport import AcceptorTransport, AppendChannel, GrpcTransport
from strata.proto import logstore_pb2 as pb


class FaultPlan:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.drop = 0.0
        self.delay = 0.0
        self.max_delay = 0.0
        self.injected = 0

    def set(self, drop: float, delay: float, max_delay: float) -> None:
        self.drop, self.delay, self.max_delay = drop, delay, max_delay

    def off(self) -> None:
        self.set(0.0, 0.0, 0.0)

    def dropped(self) -> bool:
        hit = self.drop > 0 and self.rng.random() < self.drop
        self.injected += hit
        return hit

    async def maybe_delay(self) -> None:
        if self.delay > 0 and self.rng.random() < self.delay:
            self.injected += 1
            await asyncio.sleep(self.rng.uniform(0, self.max_delay))


class FaultyChannel:
    def __init__(self, inner: AppendChannel, plan: FaultPlan) -> None:
        self.inner = inner
        self.plan = plan

    async def send(self, req: pb.AppendRequest) -> None:
        await self.plan.maybe_delay()
        if self.plan.dropped():
            return  # lost on the wire: the acceptor sees a gap next, or the ack never comes
        await self.inner.send(req)

    async def recv(self) -> pb.AppendResponse:
        resp = await self.inner.recv()
        await self.plan.maybe_delay()
        if self.plan.dropped():
            raise TransportError("injected: ack lost")
        return resp

    def cancel(self) -> None:
        self.inner.cancel()


class FaultyTransport:
    def __init__(self, addr: str, plan: FaultPlan) -> None:
        self.addr = addr
        self.inner = GrpcTransport(addr)
        self.plan = plan

    async def _around(self, what: str, coro_fn: object) -> object:
        await self.plan.maybe_delay()
        if self.plan.dropped():
            raise TransportError(f"injected: {what} request dropped")
        result = await coro_fn()  # type: ignore[operator]
        if self.plan.dropped():
            raise TransportError(f"injected: {what} reply lost")
        return result

    async def vote(self, req: pb.VoteRequest, timeout: float) -> pb.VoteResponse:
        return await self._around("vote", lambda: self.inner.vote(req, timeout))  # type: ignore[return-value]

    async def start_term(self, req: pb.StartTermRequest, timeout: float) -> pb.StartTermResponse:
        return await self._around("start_term", lambda: self.inner.start_term(req, timeout))  # type: ignore[return-value]

    async def read(self, req: pb.ReadRequest, timeout: float) -> pb.ReadResponse:
        return await self._around("read", lambda: self.inner.read(req, timeout))  # type: ignore[return-value]

    async def status(self, req: pb.StatusRequest, timeout: float) -> pb.StatusResponse:
        return await self._around("status", lambda: self.inner.status(req, timeout))  # type: ignore[return-value]

    def append_stream(self) -> AppendChannel:
        return FaultyChannel(self.inner.append_stream(), self.plan)

    async def close(self) -> None:
        await self.inner.close()


def faulty_factory(plan: FaultPlan) -> object:
    def make(addr: str) -> AcceptorTransport:
        return FaultyTransport(addr, plan)

    return make
