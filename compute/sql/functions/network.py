"""inet / cidr functions and operators: host(), masklen(), network(), broadcast(), netmask(),
hostmask(), family(), set_masklen(), abbrev(), inet_same_family(), inet_merge(), the containment
operators << <<= >> >>= &&, inet + int, inet - int, inet - inet, ~ & |.

Values are stored as sort keys (compute/pgtypes/network.py); the UDFs decode, compute, re-encode.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.pgtypes import network as N
from compute.sql.api import SqlError
from compute.sql.functions.common import scalar_registrar
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler, Scope, fn
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler

NET_TYPES = (T.INET, T.CIDR)
INET = Ty(T.INET)
CIDR = Ty(T.CIDR)


def _no_operator(op: str, lt: Ty, rt: Ty) -> SqlError:
    return SqlError("42883", f"operator does not exist: {T.format_type(lt.oid)} {op} {T.format_type(rt.oid)}",
                    hint="No operator matches the given name and argument types. You might need to add "
                         "explicit type casts.")


def _as_net(c: ExprCompiler, node: exp.Expression, t: Ty) -> exp.Expression:
    if t.oid in NET_TYPES:
        return node
    if t.oid == T.UNKNOWN:
        return c.coerce(node, t, INET)
    raise SqlError("42883", f"no inet operand: {T.format_type(t.oid)}")


def operator(c: ExprCompiler, op: str, left: exp.Expression, lt: Ty, right: exp.Expression,
             rt: Ty) -> tuple[exp.Expression, Ty]:
    """A binary operator with an inet/cidr operand (the comparisons are plain: keys sort right)."""
    if op in ("<<", "<<=", ">>", ">>=", "&&", "&", "|"):
        if (lt.oid not in (*NET_TYPES, T.UNKNOWN)) or (rt.oid not in (*NET_TYPES, T.UNKNOWN)):
            raise _no_operator(op, lt, rt)
        a, b = _as_net(c, left, lt), _as_net(c, right, rt)
        if op in ("&", "|"):
            return fn("pg_inet_bitop", a, b, exp.Literal.string(op)), INET
        return fn("pg_inet_contains", a, b, exp.Literal.string(op)), ty.BOOL
    if op == "+" and lt.oid in (*ty.INTS, T.UNKNOWN) and rt.oid in NET_TYPES:
        left, lt, right, rt = right, rt, left, lt
    if op in ("+", "-") and lt.oid in NET_TYPES:
        if rt.oid in (*ty.INTS, T.UNKNOWN) and not (op == "-" and rt.oid == T.UNKNOWN):
            right = c.coerce(right, rt, ty.INT8)
            return fn("pg_inet_add", left, right if op == "+" else exp.Neg(this=right)), INET
        if op == "-" and rt.oid in (*NET_TYPES, T.UNKNOWN):
            return fn("pg_inet_diff", left, _as_net(c, right, rt)), ty.INT8
    raise _no_operator(op, lt, rt)


def bit_not(c: ExprCompiler, node: exp.Expression, t: Ty) -> tuple[exp.Expression, Ty]:
    return fn("pg_inet_not", node), INET


# ------------------------------------------------------------------------------ handlers


def _unary(udf: str, result: Ty, *extra: Ty) -> Handler:
    """A function of one inet (plus ``extra`` typed arguments)."""

    def handler(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
        name = node.name.lower()
        if len(args) != 1 + len(extra) or types[0].oid not in (*NET_TYPES, T.UNKNOWN):
            shown = ", ".join(T.format_type(t.oid) if t.oid != T.UNKNOWN else "unknown" for t in types)
            raise SqlError("42883", f"function {name}({shown}) does not exist",
                           hint="No function matches the given name and argument types. You might need "
                                "to add explicit type casts.")
        first = c.coerce(args[0], types[0], INET)
        rest = [c.coerce(a, t, w) for a, t, w in zip(args[1:], types[1:], extra, strict=True)]
        rt = result
        if name == "set_masklen" and types[0].oid == T.CIDR:
            rt = CIDR
        kind = exp.Literal.number(1 if types[0].oid == T.CIDR else 0)
        return fn(udf, first, *rest, kind), rt

    return handler


def _same_family(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                 scope: Scope) -> tuple[exp.Expression, Ty]:
    a, b = (_as_net(c, x, t) for x, t in zip(args, types, strict=True))
    name = node.name.lower()
    return fn("pg_inet_merge" if name == "inet_merge" else "pg_inet_same_family", a, b), (
        CIDR if name == "inet_merge" else ty.BOOL)


def _connection_address(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                        scope: Scope) -> tuple[exp.Expression, Ty]:
    raise SqlError("0A000", f"{node.name.lower()}() is not supported (the session does not know its socket addresses)")


HANDLERS: dict[str, Handler] = {
    "inet_client_addr": _connection_address,
    "inet_server_addr": _connection_address,
    "host": _unary("pg_inet_host", ty.TEXT),
    "masklen": _unary("pg_inet_masklen", ty.INT4),
    "family": _unary("pg_inet_family", ty.INT4),
    "network": _unary("pg_inet_network", CIDR),
    "broadcast": _unary("pg_inet_broadcast", INET),
    "netmask": _unary("pg_inet_netmask", INET),
    "hostmask": _unary("pg_inet_hostmask", INET),
    "abbrev": _unary("pg_inet_abbrev", ty.TEXT),
    "set_masklen": _unary("pg_inet_set_masklen", INET, ty.INT4),
    "inet_same_family": _same_family,
    "inet_merge": _same_family,
}


# ------------------------------------------------------------------------------ runtime


def _nullsafe(func: Callable[..., Any]) -> Callable[..., Any]:
    def call(*args: Any) -> Any:
        return None if any(a is None for a in args) else func(*args)
    return call


def _set_masklen(value: str, bits: int, cidr: int) -> str:
    net = N.from_key(value)
    if bits == -1:
        bits = net.maxbits
    if not 0 <= bits <= net.maxbits:
        raise SqlError("22023", f"invalid mask length: {bits}")
    out = N.Net(net.family, net.addr, bits)
    return N.key(N.Net(net.family, out.network, bits) if cidr else out)


def _contains(a: str, b: str, op: str) -> int:
    """<< (a strictly inside b), <<=, >>, >>=, && (either inside the other)."""
    x, y = N.from_key(a), N.from_key(b)
    if x.family != y.family:
        return 0
    if op in (">>", ">>="):
        x, y = y, x
    if op == "&&":
        bits = min(x.bits, y.bits)
    elif (op in ("<<", ">>") and x.bits <= y.bits) or x.bits < y.bits:
        return 0
    else:
        bits = y.bits
    shift = x.maxbits - bits
    return int(x.addr >> shift == y.addr >> shift)


def _add(value: str, delta: int) -> str:
    net = N.from_key(value)
    addr = net.addr + delta
    if not 0 <= addr < (1 << net.maxbits):
        raise SqlError("22003", "result is out of range")
    return N.key(N.Net(net.family, addr, net.bits))


def _diff(a: str, b: str) -> int:
    x, y = N.from_key(a), N.from_key(b)
    if x.family != y.family:
        raise SqlError("22023", "cannot subtract inet values of different sizes")
    out = x.addr - y.addr
    if not -(1 << 63) <= out < (1 << 63):
        raise SqlError("22003", "result is out of range")
    return out


def _bitop(a: str, b: str, op: str) -> str:
    x, y = N.from_key(a), N.from_key(b)
    if x.family != y.family:
        raise SqlError("22023", f"cannot {'AND' if op == '&' else 'OR'} inet values of different sizes")
    addr = x.addr & y.addr if op == "&" else x.addr | y.addr
    return N.key(N.Net(x.family, addr, max(x.bits, y.bits)))


def _not(value: str) -> str:
    net = N.from_key(value)
    return N.key(N.Net(net.family, ~net.addr & ((1 << net.maxbits) - 1), net.bits))


def _merge(a: str, b: str) -> str:
    x, y = N.from_key(a), N.from_key(b)
    if x.family != y.family:
        raise SqlError("22023", "cannot merge addresses from different families")
    bits = min(x.bits, y.bits)
    while bits and x.addr >> (x.maxbits - bits) != y.addr >> (x.maxbits - bits):
        bits -= 1
    if bits == 0 or x.addr >> (x.maxbits - bits) == y.addr >> (x.maxbits - bits):
        return N.key(N.Net(x.family, N.Net(x.family, x.addr, bits).network, bits))
    return N.key(N.Net(x.family, 0, 0))


def _abbrev(value: str, cidr: int) -> str:
    net = N.from_key(value)
    if not cidr:
        return N.format_net(net, False)
    if net.family == 4:  # cidr_abbrev: only the octets the mask covers
        octets = max(1, (net.bits + 7) // 8)
        parts = [str((net.addr >> (24 - 8 * i)) & 0xFF) for i in range(octets)]
        return ".".join(parts) + f"/{net.bits}"
    return N.format_net(net, True)


def _mask_value(value: str, host: bool) -> str:
    net = N.from_key(value)
    return N.key(N.Net(net.family, net.hostmask if host else net.netmask, net.maxbits))


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)
    scalar("pg_inet_host", _nullsafe(lambda v, _c: N.address_text(N.from_key(v).family, N.from_key(v).addr)),
           2, True)
    scalar("pg_inet_masklen", _nullsafe(lambda v, _c: N.from_key(v).bits), 2, True)
    scalar("pg_inet_family", _nullsafe(lambda v, _c: N.from_key(v).family), 2, True)
    scalar("pg_inet_network", _nullsafe(lambda v, _c: _set_masklen(v, N.from_key(v).bits, 1)), 2, True)
    scalar("pg_inet_broadcast", _nullsafe(lambda v, _c: N.key(N.Net(
        N.from_key(v).family, N.from_key(v).addr | N.from_key(v).hostmask, N.from_key(v).bits))), 2, True)
    scalar("pg_inet_netmask", _nullsafe(lambda v, _c: _mask_value(v, False)), 2, True)
    scalar("pg_inet_hostmask", _nullsafe(lambda v, _c: _mask_value(v, True)), 2, True)
    scalar("pg_inet_abbrev", _nullsafe(_abbrev), 2, True)
    scalar("pg_inet_set_masklen", _nullsafe(_set_masklen), 3, True)
    scalar("pg_inet_contains", _nullsafe(_contains), 3, True)
    scalar("pg_inet_add", _nullsafe(_add), 2, True)
    scalar("pg_inet_diff", _nullsafe(_diff), 2, True)
    scalar("pg_inet_bitop", _nullsafe(_bitop), 3, True)
    scalar("pg_inet_not", _nullsafe(_not), 1, True)
    scalar("pg_inet_merge", _nullsafe(_merge), 2, True)
    scalar("pg_inet_same_family", _nullsafe(lambda a, b: int(N.from_key(a).family == N.from_key(b).family)),
           2, True)
