"""A valid certificate of the wrong role cannot act as another component: the forgeries
issue 11 names (voting a term, appending records, administering the page server) are
PERMISSION_DENIED and change nothing."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from logstore.segments import payload_crc
from pageserver.client import PageServerClient
from strata.proto import logstore_pb2 as lpb
from strata.proto import logstore_pb2_grpc as lgrpc
from strata.proto import pageserver_pb2 as ppb
from strata.proto import pageserver_pb2_grpc as pgrpc
from strata.tls import TlsFiles
from tests.security.conftest import TENANT, TIMELINE, Pki, Service, secure

RPC_TIMEOUT_S = 5.0


def _log(ch: grpc.Channel) -> lpb.StatusResponse:
    resp: lpb.StatusResponse = lgrpc.LogStoreStub(ch).Status(
        lpb.StatusRequest(tenant=TENANT, timeline=TIMELINE), timeout=RPC_TIMEOUT_S)
    return resp


def _denied(fn: object, *args: object, role: str) -> str:
    with pytest.raises(grpc.RpcError) as info:
        result = fn(*args)  # type: ignore[operator]
        if isinstance(result, Iterator):
            list(result)
    err = info.value
    assert err.code() == grpc.StatusCode.PERMISSION_DENIED, err  # type: ignore[attr-defined]
    details: str = err.details() or ""  # type: ignore[attr-defined]
    assert f"role {role!r}" in details, details
    return details


def test_only_computes_vote_and_append(pki: Pki, acceptor: Service) -> None:
    with secure(acceptor.addr, pki.compute) as ch:
        stub = lgrpc.LogStoreStub(ch)
        granted = stub.Vote(lpb.VoteRequest(tenant=TENANT, timeline=TIMELINE, term=3,
                                            proposer="compute-1"), timeout=RPC_TIMEOUT_S)
        assert granted.granted  # a compute may: the check is not "refuse everybody"
        before = _log(ch)
    assert before.promised_term == 3

    forgers: list[tuple[TlsFiles, str]] = [(pki.pageserver, "pageserver"),
                                           (pki.control, "control"), (pki.logstore, "logstore")]
    for files, role in forgers:
        with secure(acceptor.addr, files) as ch:
            stub = lgrpc.LogStoreStub(ch)
            msg = _denied(stub.Vote, lpb.VoteRequest(tenant=TENANT, timeline=TIMELINE, term=99,
                                                     proposer="evil"), role=role)
            assert "LogStore.Vote" in msg and "compute" in msg
            _denied(stub.StartTerm, lpb.StartTermRequest(
                tenant=TENANT, timeline=TIMELINE, term=99,
                term_history=[lpb.TermEntry(term=99, start_lsn=0)]), role=role)
            record = lpb.Record(payload=b"forged", crc32c=payload_crc(b"forged"))
            _denied(stub.Append, lpb.AppendRequest(tenant=TENANT, timeline=TIMELINE, term=99,
                                                   start_lsn=0, records=[record]), role=role)
            _denied(stub.AppendStream, iter([lpb.AppendRequest(
                tenant=TENANT, timeline=TIMELINE, term=99, start_lsn=0, records=[record])]),
                role=role)
            _denied(stub.Read, lpb.ReadRequest(tenant=TENANT, timeline=TIMELINE, from_lsn=0,
                                               max_bytes=1024), role=role)

    with secure(acceptor.addr, pki.control) as ch:
        after = _log(ch)  # control may read Status
    assert (after.promised_term, after.flush_lsn) == (3, before.flush_lsn)
    assert list(after.term_history) == list(before.term_history)


def test_log_administration_is_for_the_control_plane(pki: Pki, acceptor: Service) -> None:
    for files, role in ((pki.compute, "compute"), (pki.pageserver, "pageserver")):
        with secure(acceptor.addr, files) as ch:
            stub = lgrpc.LogStoreStub(ch)
            _denied(stub.CreateLog, lpb.CreateLogRequest(tenant=TENANT, timeline="x"), role=role)
            _denied(stub.DeleteLog, lpb.DeleteLogRequest(tenant=TENANT, timeline=TIMELINE),
                    role=role)
            _denied(stub.ListLogs, lpb.ListLogsRequest(), role=role)
    with secure(acceptor.addr, pki.control) as ch:
        names = [i.timeline for i in lgrpc.LogStoreStub(ch).ListLogs(
            lpb.ListLogsRequest(), timeout=RPC_TIMEOUT_S).logs]
    assert names == [TIMELINE]  # the log was neither deleted nor joined by "x"
    # the subscribers' RPCs: a page server may stream, the control plane may not
    with secure(acceptor.addr, pki.control) as ch:
        _denied(lgrpc.LogStoreStub(ch).StreamCommitted,
                lpb.StreamRequest(tenant=TENANT, timeline=TIMELINE, from_lsn=0), role="control")
    with secure(acceptor.addr, pki.pageserver) as ch:
        resp = lgrpc.LogStoreStub(ch).SetRemoteConsistentLsn(
            lpb.RetentionRequest(tenant=TENANT, timeline=TIMELINE, remote_consistent_lsn=0),
            timeout=RPC_TIMEOUT_S)
        assert resp.remote_consistent_lsn == 0


def test_a_compute_cannot_administer_the_page_server(pki: Pki, pageserver: Service) -> None:
    with PageServerClient(pageserver.addr, tls=pki.control) as admin:
        admin.create_timeline(TENANT, "keep")  # push-fed
    with secure(pageserver.addr, pki.compute) as ch:
        stub = pgrpc.PageServerStub(ch)
        _denied(stub.CreateTimeline, ppb.CreateTimelineRequest(tenant=TENANT, timeline="evil"),
                role="compute")
        _denied(stub.DeleteTimeline, ppb.DeleteTimelineRequest(tenant=TENANT, timeline="keep"),
                role="compute")
        _denied(stub.IngestWal, ppb.IngestWalRequest(tenant=TENANT, timeline="keep"),
                role="compute")
        _denied(stub.Maintenance, ppb.MaintenanceRequest(tenant=TENANT, timeline="keep",
                                                         op="gc"), role="compute")
        info = stub.GetTimeline(ppb.GetTimelineRequest(tenant=TENANT, timeline="keep"),
                                timeout=RPC_TIMEOUT_S)  # a compute's read is allowed
        assert info.timeline == "keep"
    for files, role in ((pki.logstore, "logstore"), (pki.pageserver, "pageserver"),
                        (pki.control, "control")):
        with secure(pageserver.addr, files) as ch:
            _denied(pgrpc.PageServerStub(ch).GetPage, ppb.GetPageRequest(
                tenant=TENANT, timeline="keep", db_id=0, page_no=1, lsn=0), role=role)
    with PageServerClient(pageserver.addr, tls=pki.control) as admin:
        assert [t.timeline for t in admin.list_timelines(TENANT)] == ["keep"]
