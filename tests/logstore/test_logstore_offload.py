"""Offload: sealed segments go to object storage; local copies are deleted only below the
page server's remote consistent LSN and after upload; old LSNs stream back from the store."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
from conftest import MakeCluster
from logstore_helpers import LOG, payload_for, wait_flush

from logstore import Proposer, stream_committed
from strata.objectstore import open_object_store
from strata.proto import logstore_pb2 as pb
from strata.proto import logstore_pb2_grpc as pb_grpc


async def _status(addr: str) -> pb.StatusResponse:
    async with grpc.aio.insecure_channel(addr) as ch:
        resp: pb.StatusResponse = await pb_grpc.LogStoreStub(ch).Status(pb.StatusRequest(**LOG), timeout=5)
        return resp


async def _until(pred: object, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not await pred():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.1)


def test_offload_trim_and_read_back(make_cluster: MakeCluster, tmp_path: Path) -> None:
    bucket = tmp_path / "objects"
    cluster = make_cluster(extra=["--segment-size", "16384", "--object-store", f"file://{bucket}"])
    payloads = [payload_for(i, 700 + i % 50) for i in range(300)]

    async def main() -> None:
        p = Proposer(cluster.addrs, **LOG, deadline_s=5)
        await p.elect()
        end = 0
        for i in range(0, len(payloads), 10):
            end = await p.append(payloads[i : i + 10])
        await p.append([b"tail"])  # carries the commit LSN of the last batch
        await wait_flush(cluster.addrs, end + 4)
        node = cluster.nodes[0]

        async def uploaded() -> bool:
            st = await _status(node.addr)
            return sum(s.uploaded for s in st.segments) >= len(st.segments) - 2

        await _until(uploaded)
        st = await _status(node.addr)
        assert all(s.local for s in st.segments), "nothing may be deleted before the retention hint"
        keys = open_object_store(str(bucket)).list("logstore/node-1/")
        assert len(keys) == sum(s.uploaded for s in st.segments)
        # The page server says everything below `half` is safe in object storage.
        half = st.segments[len(st.segments) // 2].start_lsn
        async with grpc.aio.insecure_channel(node.addr) as ch:
            resp = await pb_grpc.LogStoreStub(ch).SetRemoteConsistentLsn(
                pb.RetentionRequest(**LOG, remote_consistent_lsn=half), timeout=5
            )
            assert resp.remote_consistent_lsn == half

        async def trimmed() -> bool:  # trim removes segments one at a time: wait for all of them
            s = await _status(node.addr)
            return any(not seg.local for seg in s.segments) and all(
                seg.local or seg.end_lsn <= half for seg in s.segments) and all(
                not seg.local for seg in s.segments if seg.end_lsn <= half)

        await _until(trimmed)
        st = await _status(node.addr)
        for seg in st.segments:
            assert seg.local == (seg.end_lsn > half), seg
            assert seg.uploaded or seg.local
        local_files = sorted((node.log_dir() / "segments").glob("*.seg"))
        assert int(local_files[0].name[:16], 16) >= half
        # Stream everything from LSN 0 from this node only: the old part comes from the store.
        for attempt in range(2):
            got = []
            agen = stream_committed([node.addr], 0, **LOG)
            async for _, stop, payload in agen:
                got.append(payload)
                if stop == end:
                    break
            await agen.aclose()
            assert got == payloads
            if attempt == 0:  # and again after a restart, which must rediscover the offloaded part
                node.kill()
                await asyncio.to_thread(node.start)
                st2 = await _status(node.addr)
                assert st2.first_lsn == 0 and st2.flush_lsn >= end
        await p.close()

    asyncio.run(main())
