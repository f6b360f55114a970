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
        out: list[tuple[bytes, bytes]] = []
        self._until_ready(out)
        return out

    def _until_ready(self, out: list[tuple[bytes, bytes]]) -> None:
        while True:
            head = self._read(5)
            body = self._read(struct.unpack("!i", head[1:])[0] - 4)
            out.append((head[:1], body))
            if head[:1] == b"Z":
                return

    def until_ready_or_end(self) -> list[tuple[bytes, bytes]]:
        """Messages up to ReadyForQuery, or up to the end of the connection (after a FATAL)."""
        out: list[tuple[bytes, bytes]] = []
        try:
            self._until_ready(out)
        except (ConnectionError, OSError):
            pass
        return out

    def nothing_arrives(self, wait_s: float) -> bool:
        """No byte comes from the server within ``wait_s``."""
        self.sock.settimeout(wait_s)
        try:
            self.sock.recv(1, socket.MSG_PEEK)
            return False
        except TimeoutError:
            return True
        finally:
            self.sock.settimeout(30)

    def backend_pid(self) -> int:
        reply = self.query("select pg_backend_pid()")
        return int([body for kind, body in reply if kind == b"D"][0][6:])

    def exchange(self, *messages: bytes) -> list[tuple[bytes, bytes]]:
        self.sock.sendall(b"".join(messages))
        return self.until_ready()

    def query(self, sql: str) -> list[tuple[bytes, bytes]]:
        return self.exchange(message(b"Q", sql.encode() + b"\0"))


def without_pids(replies: list[list[tuple[bytes, bytes]]]) -> list[list[tuple[bytes, bytes]]]:
    """Replies with backend pids (they differ between two nodes) blanked, for comparing two
    nodes' answers byte for byte."""
    return [[(k, b"" if k == b"D" and body[6:].isdigit() and len(body) > 10 else body)
             for k, body in reply] for reply in replies]
