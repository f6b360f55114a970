"""The first packets of a connection, as the compute and the proxy both serve them.

SSLRequest (answered S and upgraded, or N), GSSENCRequest (N), CancelRequest, then the
StartupMessage. Everything before authentication is bounded; a refusal is raised as
`StartupRefused` for the caller to send as a FATAL (and count, in the proxy).
"""

from __future__ import annotations

import asyncio
import ssl
import struct
from dataclasses import dataclass

from strata.pgwire import messages as m

MAX_STARTUP_BYTES = 10_000
"""Largest startup packet (bytes, with its length word) accepted."""


class StartupRefused(Exception):
    """A startup the server will not take: ``sqlstate``, ``message`` and a short ``reason``
    (malformed_startup | protocol_version | encoding) for metrics."""

    def __init__(self, sqlstate: str, message: str, reason: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class Startup:
    """A StartupMessage's parameters, or a CancelRequest's (pid, secret); and whether the
    connection was upgraded to TLS on the way."""

    params: dict[str, str] | None
    cancel: tuple[int, int] | None
    tls: bool


async def read_startup(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                       ssl_context: ssl.SSLContext | None, *, minor_versions: bool) -> Startup:
    """Negotiate TLS and read the startup packet. ``minor_versions``: accept 3.x for any x
    (the compute) or only 3.0 (the proxy)."""
    tls = False
    while True:
        length, code = struct.unpack("!ii", await reader.readexactly(8))
        if length < 8 or length > MAX_STARTUP_BYTES:
            raise StartupRefused("08P01", "invalid length of startup packet", "malformed_startup")
        body = await reader.readexactly(length - 8)
        if code == m.SSL_REQUEST and length == 8:
            if tls:
                raise StartupRefused("08P01", "SSLRequest after TLS was established", "malformed_startup")
            writer.write(b"N" if ssl_context is None else b"S")
            await writer.drain()
            if ssl_context is not None:
                await writer.start_tls(ssl_context)
                tls = True
            continue
        if code == m.GSSENC_REQUEST and length == 8:
            writer.write(b"N")
            await writer.drain()
            continue
        if code == m.CANCEL_REQUEST and length == 16:
            pid, secret = struct.unpack("!ii", body)
            return Startup(None, (pid, secret), tls)
        if code >> 16 != 3 or (not minor_versions and code & 0xFFFF != 0):
            raise StartupRefused("0A000", f"unsupported frontend protocol {code >> 16}.{code & 0xFFFF}: "
                                          "server supports 3.0 to 3.0", "protocol_version")
        try:
            return Startup(m.parse_startup(body), None, tls)
        except m.ProtocolViolation as exc:
            raise StartupRefused("08P01", f"invalid startup packet layout: {exc}", "malformed_startup") from exc
        except m.InvalidEncoding as exc:
            raise StartupRefused("22021", str(exc), "encoding") from exc
