"""inet and cidr: input/output, the binary wire format, and the storage key.

Storage is a text key that sorts the way PostgreSQL's network_cmp orders addresses, so plain
SQLite comparison, ORDER BY, GROUP BY and unique indexes are right with no collation:
``<family 4|6><network hex, masked to the mask length><mask length, 3 digits><address hex>``.
inet and cidr share the key (cidr is the inet whose host bits are zero); the OID says how to print.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass

from compute.sqlstate import SqlError

_PGSQL_AF_INET = 2  # PostgreSQL's own family codes in the binary format (AF_INET + 0 / + 1)
_PGSQL_AF_INET6 = 3


@dataclass(frozen=True, slots=True)
class Net:
    """One inet/cidr value: the family (4/6), the address as an int, and the mask length."""

    family: int
    addr: int
    bits: int

    @property
    def maxbits(self) -> int:
        return 32 if self.family == 4 else 128

    @property
    def netmask(self) -> int:
        return ((1 << self.bits) - 1) << (self.maxbits - self.bits)

    @property
    def hostmask(self) -> int:
        return (1 << (self.maxbits - self.bits)) - 1

    @property
    def network(self) -> int:
        return self.addr & self.netmask


def key(net: Net) -> str:
    """The storage key (see the module docstring)."""
    width = 8 if net.family == 4 else 32
    return f"{net.family}{net.network:0{width}x}{net.bits:03d}{net.addr:0{width}x}"


def from_key(value: str) -> Net:
    """A stored value back to a Net (system views may hold plain address text: parsed instead)."""
    if "." in value or ":" in value:
        return parse(value, False)
    family = int(value[0])
    width = 8 if family == 4 else 32
    return Net(family, int(value[4 + width:], 16), int(value[1 + width:4 + width]))


def _bad(text: str, cidr: bool) -> SqlError:
    return SqlError("22P02", f'invalid input syntax for type {"cidr" if cidr else "inet"}: "{text}"')


def _ipv4(text: str, addr: str, masked: bool, cidr: bool) -> tuple[int, int]:
    """The address and the number of octets written (PostgreSQL accepts 10/8 and, in cidr, 10.1)."""
    parts = addr.split(".")
    if not 1 <= len(parts) <= 4 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        raise _bad(text, cidr)
    if len(parts) < 4 and not (masked or cidr):
        raise _bad(text, cidr)
    value = 0
    for part in parts + ["0"] * (4 - len(parts)):
        value = (value << 8) | int(part)
    return value, len(parts)


def _classful_bits(first_octet: int, octets: int) -> int:
    """cidr without a mask: PostgreSQL's classful default, widened to the octets written."""
    if first_octet >= 240:
        bits = 32
    elif first_octet >= 224:
        bits = 8
    elif first_octet >= 192:
        bits = 24
    elif first_octet >= 128:
        bits = 16
    else:
        bits = 8
    bits = max(bits, octets * 8)
    return 4 if bits == 8 and first_octet == 224 else bits


def parse(text: str, cidr: bool) -> Net:
    """inet_in / cidr_in: 22P02 for malformed input, and for cidr host bits set right of the mask."""
    addr, slash, mask = text.partition("/")
    if slash and not (mask.isdigit() and len(mask) <= 3):
        raise _bad(text, cidr)
    if ":" in addr:
        try:
            value = int(ipaddress.IPv6Address(addr))
        except ValueError:
            raise _bad(text, cidr) from None
        family, bits = 6, int(mask) if slash else 128
    else:
        value, octets = _ipv4(text, addr, bool(slash), cidr)
        family = 4
        bits = int(mask) if slash else 32 if not cidr else _classful_bits(value >> 24, octets)
    net = Net(family, value, bits)
    if bits > net.maxbits:
        raise _bad(text, cidr)
    if cidr and net.addr & net.hostmask:
        raise SqlError("22P02", f'invalid cidr value: "{text}"', detail="Value has bits set to right of mask.")
    return net


def address_text(family: int, addr: int) -> str:
    """The address alone, as inet_ntop writes it (an embedded IPv4 tail is dotted)."""
    if family == 4:
        return str(ipaddress.IPv4Address(addr))
    head = addr >> 32
    tail = str(ipaddress.IPv4Address(addr & 0xFFFFFFFF))
    if head == 0xFFFF:
        return "::ffff:" + tail
    if head == 0 and (addr >> 16) & 0xFFFF:
        return "::" + tail
    return ipaddress.IPv6Address(addr).compressed


def format_net(net: Net, cidr: bool) -> str:
    """inet_out / cidr_out: inet omits a full-length mask, cidr always writes it."""
    text = address_text(net.family, net.addr)
    return text if not cidr and net.bits == net.maxbits else f"{text}/{net.bits}"


def show(net: Net) -> str:
    """text(inet): the mask always written (network_show)."""
    return f"{address_text(net.family, net.addr)}/{net.bits}"


def to_binary(net: Net, cidr: bool) -> bytes:
    size = 4 if net.family == 4 else 16
    family = _PGSQL_AF_INET if net.family == 4 else _PGSQL_AF_INET6
    return struct.pack("!BBBB", family, net.bits, 1 if cidr else 0, size) + net.addr.to_bytes(size, "big")


def from_binary(data: bytes, cidr: bool) -> Net:
    if len(data) < 4:
        raise SqlError("22P03", "invalid length in external \"inet\" value")
    family_code, bits, _is_cidr, size = struct.unpack("!BBBB", data[:4])
    family = 4 if family_code == _PGSQL_AF_INET else 6 if family_code == _PGSQL_AF_INET6 else 0
    if family == 0 or size != (4 if family == 4 else 16) or len(data) != 4 + size:
        raise SqlError("22P03", "invalid external \"inet\" value")
    net = Net(family, int.from_bytes(data[4:], "big"), bits)
    if bits > net.maxbits:
        raise SqlError("22P03", "invalid bits in external \"inet\" value")
    if cidr and net.addr & net.hostmask:
        raise SqlError("22P03", "invalid external \"cidr\" value", detail="Value has bits set to right of mask.")
    return net


def text_decoder(cidr: bool) -> Callable[[bytes | str], str]:
    def decode(data: bytes | str) -> str:
        text = data.decode() if isinstance(data, bytes) else data
        return key(parse(text, cidr))
    return decode


def text_encoder(cidr: bool) -> Callable[[str], bytes]:
    def encode(value: str) -> bytes:
        return format_net(from_key(value), cidr).encode()
    return encode


def binary_encoder(cidr: bool) -> Callable[[str], bytes]:
    def encode(value: str) -> bytes:
        return to_binary(from_key(value), cidr)
    return encode


def binary_decoder(cidr: bool) -> Callable[[bytes], str]:
    def decode(data: bytes) -> str:
        return key(from_binary(data, cidr))
    return decode
