"""bit and bit varying: stored as TEXT of '0'/'1' characters (text order is bit_cmp's order:
bit by bit, then the shorter first), printed as stored; binary wire format is varbit_send's."""

from __future__ import annotations

import struct

from compute.sqlstate import SqlError

_HEX_BITS = {f"{i:x}": f"{i:04b}" for i in range(16)}


def parse_bits(text: str) -> str:
    """bit_in / varbit_in: ``101``, ``B101`` or ``X1F``; 22P02 for other digits."""
    if text[:1] in ("x", "X"):
        out = []
        for ch in text[1:]:
            bits = _HEX_BITS.get(ch.lower())
            if bits is None:
                raise SqlError("22P02", f'"{ch}" is not a valid hexadecimal digit')
            out.append(bits)
        return "".join(out)
    body = text[1:] if text[:1] in ("b", "B") else text
    for ch in body:
        if ch not in "01":
            raise SqlError("22P02", f'"{ch}" is not a valid binary digit')
    return body


def text_decoder(data: bytes | str) -> str:
    return parse_bits(data.decode() if isinstance(data, bytes) else data)


def text_encoder(value: str) -> bytes:
    return str(value).encode()


def binary_encoder(value: str) -> bytes:
    bits = str(value)
    padded = bits + "0" * (-len(bits) % 8)
    return struct.pack("!i", len(bits)) + (int(padded, 2).to_bytes(len(padded) // 8, "big") if padded else b"")


def binary_decoder(data: bytes) -> str:
    if len(data) < 4:
        raise SqlError("22P03", "insufficient data left in message")
    (length,) = struct.unpack("!i", data[:4])
    body = data[4:]
    if length < 0 or (length + 7) // 8 != len(body):
        raise SqlError("22P03", "invalid length in external bit string")
    bits = "".join(f"{b:08b}" for b in body)
    return bits[:length]
