"""Only holders of a certificate from the cluster CA get a connection at all."""

from __future__ import annotations

import grpc
import pytest

from strata.proto import logstore_pb2 as lpb
from strata.proto import logstore_pb2_grpc as lgrpc
from strata.proto import pageserver_pb2 as ppb
from strata.proto import pageserver_pb2_grpc as pgrpc
from strata.tls import channel_credentials
from tests.security.conftest import TENANT, TIMELINE, Pki, Service, secure

RPC_TIMEOUT_S = 5.0


def _logstore_status(ch: grpc.Channel) -> lpb.StatusResponse:
    resp: lpb.StatusResponse = lgrpc.LogStoreStub(ch).Status(
        lpb.StatusRequest(tenant=TENANT, timeline=TIMELINE), timeout=RPC_TIMEOUT_S)
    return resp


def _pageserver_status(ch: grpc.Channel) -> ppb.StatusResponse:
    resp: ppb.StatusResponse = pgrpc.PageServerStub(ch).Status(ppb.StatusRequest(),
                                                               timeout=RPC_TIMEOUT_S)
    return resp


def _refused(call: object, ch: grpc.Channel) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as info:
        call(ch)  # type: ignore[operator]
    code: grpc.StatusCode = info.value.code()  # type: ignore[attr-defined]
    return code


@pytest.mark.parametrize("kind", ["logstore", "pageserver"])
def test_a_client_without_a_certificate_cannot_connect(
        pki: Pki, acceptor: Service, pageserver: Service, kind: str) -> None:
    addr, call = ((acceptor.addr, _logstore_status) if kind == "logstore"
                  else (pageserver.addr, _pageserver_status))
    with secure(addr, pki.control) as ch:  # the service is up and answers a member
        call(ch)  # type: ignore[operator]
    with grpc.insecure_channel(addr) as ch:  # plaintext
        assert _refused(call, ch) == grpc.StatusCode.UNAVAILABLE
    # TLS that trusts the cluster CA but presents no client certificate
    with grpc.secure_channel(addr, grpc.ssl_channel_credentials(pki.control.ca.read_bytes())) as ch:
        assert _refused(call, ch) == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize("kind", ["logstore", "pageserver"])
def test_a_certificate_from_another_ca_is_refused(
        pki: Pki, acceptor: Service, pageserver: Service, kind: str) -> None:
    addr, call = ((acceptor.addr, _logstore_status) if kind == "logstore"
                  else (pageserver.addr, _pageserver_status))
    foreign = pki.foreign_compute
    # a role-carrying certificate signed by another CA, presented to a client that trusts
    # the cluster CA (so only the server's check of the client can fail the handshake)
    creds = grpc.ssl_channel_credentials(root_certificates=pki.control.ca.read_bytes(),
                                         private_key=foreign.key.read_bytes(),
                                         certificate_chain=foreign.cert.read_bytes())
    with grpc.secure_channel(addr, creds) as ch:
        assert _refused(call, ch) == grpc.StatusCode.UNAVAILABLE
    # and a client of the other CA does not trust the service either
    with grpc.secure_channel(addr, channel_credentials(foreign)) as ch:
        assert _refused(call, ch) == grpc.StatusCode.UNAVAILABLE
