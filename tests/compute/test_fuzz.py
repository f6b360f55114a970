"""Protocol fuzzing: random and mutated frontend bytes never crash the server or touch data."""

from __future__ import annotations

import os
import random
import socket
import struct

import psycopg
import pytest

from tests.support import StrataProcess


def _msg(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def _startup(user: bytes = b"postgres", db: bytes = b"postgres") -> bytes:
    body = struct.pack("!i", 196608) + b"user\x00" + user + b"\x00database\x00" + db + b"\x00\x00"
    return struct.pack("!i", len(body) + 4) + body


def _valid_session(rng: random.Random) -> list[bytes]:
    """A plausible client conversation to mutate."""
    q = rng.choice([b"SELECT 1", b"SELECT k, v FROM fuzz_guard ORDER BY k",
                    b"BEGIN; SELECT 2; COMMIT", b"INSERT INTO fuzz_scratch VALUES (1)",
                    b"SHOW TimeZone", b"SELECT $1::int"])
    parts = [_startup(), _msg(b"Q", q + b"\x00")]
    parts.append(_msg(b"P", b"s1\x00" + q + b"\x00\x00\x00"))
    parts.append(_msg(b"B", b"\x00s1\x00\x00\x00\x00\x01\x00\x00\x00\x011\x00\x00"))
    parts.append(_msg(b"D", b"P\x00"))
    parts.append(_msg(b"E", b"\x00\x00\x00\x00\x00"))
    parts.append(_msg(b"S", b""))
    parts.append(_msg(b"X", b""))
    return parts


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(6)
        if op == 0 and buf:
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        elif op == 1 and buf:
            del buf[rng.randrange(len(buf)):]
        elif op == 2:
            pos = rng.randrange(len(buf) + 1)
            buf[pos:pos] = os.urandom(rng.randint(1, 16))
        elif op == 3 and len(buf) > 8:
            pos = rng.randrange(len(buf) - 4)
            buf[pos:pos + 4] = struct.pack("!i", rng.choice([-1, 0, 3, 2**31 - 1, 70000,
                                                             rng.randrange(2**31)]))
        elif op == 4:
            buf += bytes([rng.choice(b"QPBDESCHXdcfp!z\x00\xff")]) + os.urandom(rng.randint(0, 8))
        else:
            buf += b"\xc3\x28invalid-utf8\xff"
    return bytes(buf)


def _inputs(rng: random.Random) -> bytes:
    kind = rng.randrange(4)
    if kind == 0:
        return os.urandom(rng.randint(1, 64))
    session = _valid_session(rng)
    if kind == 1:
        return b"".join(session[:1] + [_mutate(rng, p) for p in session[1:]])
    if kind == 2:
        return _mutate(rng, b"".join(session))
    return struct.pack("!ii", 8, 80877103) + _mutate(rng, b"".join(session))


def _send(port: int, data: bytes) -> None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
            s.settimeout(0.5)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            while s.recv(65536):
                pass
    except OSError:
        pass  # the server may close on us; that is a fine answer to garbage


def run_fuzz(strata: StrataProcess, count: int, seed: int) -> None:
    with psycopg.connect(strata.dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS fuzz_guard")
        conn.execute("CREATE TABLE fuzz_guard (k int PRIMARY KEY, v text)")
        conn.execute("CREATE TABLE IF NOT EXISTS fuzz_scratch (x int)")
        with conn.cursor() as cur:
            cur.executemany("INSERT INTO fuzz_guard VALUES (%s, %s)",
                            [(i, f"value-{i}") for i in range(200)])
        before = conn.execute("SELECT k, v FROM fuzz_guard ORDER BY k").fetchall()
    rng = random.Random(seed)
    for i in range(count):
        _send(strata.port, _inputs(rng))
        if i % 5000 == 4999:
            assert strata.proc is not None and strata.proc.poll() is None, f"seed {seed}: died"
    assert strata.proc is not None and strata.proc.poll() is None, f"server died (seed {seed})"
    with psycopg.connect(strata.dsn, autocommit=True) as conn:
        after = conn.execute("SELECT k, v FROM fuzz_guard ORDER BY k").fetchall()
        assert after == before, f"guard table changed (seed {seed})"
        assert conn.execute("SELECT 41 + 1").fetchone() == (42,)
    assert "Traceback" not in strata.log_text(), strata.log_text()[-4000:]


def test_fuzz_short(strata: StrataProcess) -> None:
    run_fuzz(strata, 1500, seed=int.from_bytes(os.urandom(4), "big"))


@pytest.mark.slow
def test_fuzz_100k(strata: StrataProcess) -> None:
    run_fuzz(strata, 100_000, seed=int.from_bytes(os.urandom(4), "big"))


def _read_messages(sock: socket.socket, until: bytes) -> list[tuple[bytes, bytes]]:
    """Read backend messages until one of type ``until`` arrives."""
    buf = b""
    out: list[tuple[bytes, bytes]] = []
    while True:
        while len(buf) >= 5:
            kind, length = buf[:1], struct.unpack("!i", buf[1:5])[0]
            if len(buf) < 1 + length:
                break
            out.append((kind, buf[5 : 1 + length]))
            buf = buf[1 + length :]
            if kind == until:
                return out
        chunk = sock.recv(65536)
        assert chunk, f"connection closed; got {out}"
        buf += chunk


def test_invalid_utf8_parameter_is_22021_and_session_survives(strata_shared: StrataProcess) -> None:
    with socket.create_connection(("127.0.0.1", strata_shared.port), timeout=5) as s:
        s.sendall(_startup())
        _read_messages(s, b"Z")
        s.sendall(_msg(b"P", b"\x00SELECT $1::int\x00\x00\x00")
                  + _msg(b"B", b"\x00\x00\x00\x00\x00\x01\x00\x00\x00\x02\xc3\x28\x00\x00")
                  + _msg(b"E", b"\x00\x00\x00\x00\x00") + _msg(b"S", b""))
        reply = _read_messages(s, b"Z")
        errors = [body for kind, body in reply if kind == b"E"]
        assert len(errors) == 1 and b"C22021\x00" in errors[0], reply
        s.sendall(_msg(b"Q", b"SELECT 7\x00"))
        rows = [body for kind, body in _read_messages(s, b"Z") if kind == b"D"]
        assert rows == [b"\x00\x01\x00\x00\x00\x017"]
