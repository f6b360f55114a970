"""bit / bit varying functions and operators: & | # ~ << >> ||, get_bit(), set_bit(), bit_count(),
and the length family (length counts bits, octet_length bytes). Values are TEXT of '0'/'1'."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.functions.common import scalar_registrar
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler, Scope, fn
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler

BIT_TYPES = (T.BIT, T.VARBIT)
VARBIT = Ty(T.VARBIT)
_OP_WORDS = {"&": "AND", "|": "OR", "#": "XOR"}


def _no_operator(op: str, lt: Ty, rt: Ty) -> SqlError:
    return SqlError("42883", f"operator does not exist: {T.format_type(lt.oid)} {op} {T.format_type(rt.oid)}",
                    hint="No operator matches the given name and argument types. You might need to add "
                         "explicit type casts.")


def literal(text: str, hex_digits: bool) -> tuple[exp.Expression, Ty]:
    """B'101' / X'1F': bit constants, typed bit (their length is their own)."""
    value = T.decode_text(T.BIT, (("X" if hex_digits else "B") + text).encode())
    return exp.Literal.string(value), Ty(T.BIT, len(value))


def operator(c: ExprCompiler, op: str, left: exp.Expression, lt: Ty, right: exp.Expression,
             rt: Ty) -> tuple[exp.Expression, Ty]:
    """A binary operator with a bit operand (comparisons are plain text comparisons)."""
    if op in ("<<", ">>") and lt.oid in BIT_TYPES and rt.oid in (*ty.INTS, T.UNKNOWN):
        count = c.coerce(right, rt, ty.INT4)
        return fn("pg_bit_shift", left, count if op == "<<" else exp.Neg(this=count)), Ty(lt.oid)
    if op in ("&", "|", "#", "||"):
        if lt.oid == T.UNKNOWN:
            left, lt = c.coerce(left, lt, Ty(rt.oid)), Ty(rt.oid)
        if rt.oid == T.UNKNOWN:
            right, rt = c.coerce(right, rt, Ty(lt.oid)), Ty(lt.oid)
        if lt.oid in BIT_TYPES and rt.oid in BIT_TYPES:
            if op == "||":
                return fn("pg_bit_cat", left, right), VARBIT
            return fn("pg_bit_op", left, right, exp.Literal.string(op)), Ty(lt.oid)
    raise _no_operator(op, lt, rt)


def bit_not(c: ExprCompiler, node: exp.Expression, t: Ty) -> tuple[exp.Expression, Ty]:
    return fn("pg_bit_not", node), Ty(t.oid)


def call(c: ExprCompiler, name: str, args: list[exp.Expression],
         types: list[Ty]) -> tuple[exp.Expression, Ty] | None:
    """The length family on bit strings (the text versions would count characters)."""
    if name == "octet_length":
        return fn("pg_bit_octets", args[0]), ty.INT4
    if name == "bit_length":
        return fn("length", args[0]), ty.INT4
    return None


def _get_bit(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
             scope: Scope) -> tuple[exp.Expression, Ty]:
    _check(node, types, 2)
    return fn("pg_get_bit", args[0], c.coerce(args[1], types[1], ty.INT4)), ty.INT4


def _set_bit(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
             scope: Scope) -> tuple[exp.Expression, Ty]:
    _check(node, types, 3)
    return fn("pg_set_bit", args[0], c.coerce(args[1], types[1], ty.INT4),
              c.coerce(args[2], types[2], ty.INT4)), Ty(types[0].oid)


def _bit_count(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
               scope: Scope) -> tuple[exp.Expression, Ty]:
    _check(node, types, 1)
    return fn("pg_bit_count", args[0]), ty.INT8


def _check(node: exp.Expression, types: list[Ty], count: int) -> None:
    if len(types) != count or types[0].oid not in BIT_TYPES:
        if types and types[0].oid == T.BYTEA:
            raise SqlError("0A000", f"{node.name.lower()}() on bytea is not supported")
        shown = ", ".join(T.format_type(t.oid) if t.oid != T.UNKNOWN else "unknown" for t in types)
        raise SqlError("42883", f"function {node.name.lower()}({shown}) does not exist",
                       hint="No function matches the given name and argument types. You might need to add "
                            "explicit type casts.")


HANDLERS: dict[str, Handler] = {
    "get_bit": _get_bit,
    "set_bit": _set_bit,
    "bit_count": _bit_count,
}


# ------------------------------------------------------------------------------ runtime


def _nullsafe(func: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any) -> Any:
        return None if any(a is None for a in args) else func(*args)
    return run


def _op(a: str, b: str, op: str) -> str:
    if len(a) != len(b):
        raise SqlError("22026", f"cannot {_OP_WORDS[op]} bit strings of different sizes")
    if not a:
        return ""
    x, y = int(a, 2), int(b, 2)
    out = x & y if op == "&" else x | y if op == "|" else x ^ y
    return format(out, f"0{len(a)}b")


def _shift(bits: str, count: int) -> str:
    """<< n moves bits left (zeros come in on the right), keeping the length; negative: right."""
    n = len(bits)
    if count >= 0:
        return (bits[count:] + "0" * min(count, n))[:n] if count < n else "0" * n
    count = -count
    return "0" * n if count >= n else ("0" * count + bits[:n - count])


def _index(bits: str, n: int) -> int:
    if not 0 <= n < len(bits):
        raise SqlError("2202E", f"bit index {n} out of valid range (0..{len(bits) - 1})")
    return n


def _set(bits: str, n: int, value: int) -> str:
    i = _index(bits, n)
    if value not in (0, 1):
        raise SqlError("22023", "new bit must be 0 or 1")
    return bits[:i] + str(value) + bits[i + 1:]


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)
    scalar("pg_bit_op", _nullsafe(_op), 3, True)
    scalar("pg_bit_shift", _nullsafe(_shift), 2, True)
    scalar("pg_bit_cat", _nullsafe(lambda a, b: a + b), 2, True)
    scalar("pg_bit_not", _nullsafe(lambda a: a.translate(str.maketrans("01", "10"))), 1, True)
    scalar("pg_bit_octets", _nullsafe(lambda a: (len(a) + 7) // 8), 1, True)
    scalar("pg_get_bit", _nullsafe(lambda a, n: int(a[_index(a, n)])), 2, True)
    scalar("pg_set_bit", _nullsafe(_set), 3, True)
    scalar("pg_bit_count", _nullsafe(lambda a: a.count("1")), 1, True)
