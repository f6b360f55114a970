"""A raw PostgreSQL-protocol client for tests that send hand-built messages (limits, the
statement path's byte-level parsing) and read every reply up to ReadyForQuery."""

from __future__ import annotations

import socket
import struct


def message(kind: bytes, body: bytes) -> bytes:
    """One frontend message: its type byte, its length, its body."""
    return kind + struct.pack("!i", len(body) + 4) + body


class RawClient:
    """Startup as user postgres (trust), then exchanges of messages up to ReadyForQuery."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        body = struct.pack("!i", 196608) + b"user\0postgres\0database\0postgres\0\0"
        self.sock.sendall(struct.pack("!i", len(body) + 4) + body)
        self.buf = b""
        self.until_ready()

    def _read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def until_ready(self) -> list[tuple[bytes, bytes]]:
        out = []
        while True:
            head = self._read(5)
            body = self._read(struct.unpack("!i", head[1:])[0] - 4)
            out.append((head[:1], body))
            if head[:1] == b"Z":
                return out

    def exchange(self, *messages: bytes) -> list[tuple[bytes, bytes]]:
        self.sock.sendall(b"".join(messages))
        return self.until_ready()

    def query(self, sql: str) -> list[tuple[bytes, bytes]]:
        return self.exchange(message(b"Q", sql.encode() + b"\0"))
