"""Connection limits: max_connections (53300) and the pre-authentication message bound."""

from __future__ import annotations

import socket
import struct
from pathlib import Path

import psycopg
import pytest

from tests.support import StrataProcess


def _startup(port: int, user: str = "postgres") -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    body = struct.pack("!i", 196608) + f"user\0{user}\0database\0postgres\0\0".encode()
    sock.sendall(struct.pack("!i", len(body) + 4) + body)
    return sock


def _read_message(sock: socket.socket) -> tuple[bytes, bytes]:
    head = b""
    while len(head) < 5:
        chunk = sock.recv(5 - len(head))
        if not chunk:
            raise ConnectionError("closed")
        head += chunk
    (length,) = struct.unpack("!i", head[1:])
    body = b""
    while len(body) < length - 4:
        chunk = sock.recv(length - 4 - len(body))
        if not chunk:
            raise ConnectionError("closed")
        body += chunk
    return head[:1], body


def _error_fields(body: bytes) -> dict[str, str]:
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[part[:1].decode()] = part[1:].decode()
    return fields


@pytest.fixture
def limited(tmp_path: Path):  # type: ignore[no-untyped-def]
    proc = StrataProcess(tmp_path / "data", extra_args=["--max-connections", "3"]).start()
    try:
        yield proc
    finally:
        proc.stop()


def test_max_connections_refuses_with_53300_and_frees_on_close(limited: StrataProcess) -> None:
    conns = [psycopg.connect(limited.dsn, autocommit=True) for _ in range(3)]
    try:
        sock = _startup(limited.port)
        kind, body = _read_message(sock)
        sock.close()
        assert kind == b"E"
        fields = _error_fields(body)
        assert fields["C"] == "53300" and fields["S"] == "FATAL"
        assert fields["M"] == "sorry, too many clients already"
        assert conns[0].execute("SELECT 1").fetchone() == (1,)  # the others are unaffected
        conns.pop().close()
        with psycopg.connect(limited.dsn, autocommit=True) as again:  # a slot is free again
            assert again.execute("SELECT 2").fetchone() == (2,)
    finally:
        for c in conns:
            c.close()


def test_oversized_message_before_authentication_is_refused(tmp_path: Path) -> None:
    passwords = tmp_path / "passwords"
    passwords.write_text("app:s3cret\n")
    proc = StrataProcess(tmp_path / "data", extra_args=["--auth", "scram", "--password-file",
                                                        str(passwords)]).start()
    try:
        sock = _startup(proc.port, "app")
        kind, _ = _read_message(sock)
        assert kind == b"R"  # AuthenticationSASL: the server now waits for a SASL message
        # Announce a 1 MiB SASLInitialResponse and send none of it: refused from the header.
        sock.sendall(b"p" + struct.pack("!i", (1 << 20) + 4))
        kind, body = _read_message(sock)
        sock.close()
        assert kind == b"E"
        fields = _error_fields(body)
        assert fields["C"] == "08P01" and "invalid message length" in fields["M"]
        with psycopg.connect(f"postgresql://app:s3cret@127.0.0.1:{proc.port}/postgres") as ok:
            assert ok.execute("SELECT 1").fetchone() == (1,)
    finally:
        proc.stop()
