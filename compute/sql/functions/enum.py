"""Enum functions (enum_first/last/range) and the enum UDFs the translations call."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from sqlglot import exp

from compute import pgtypes as T
from compute.pgtypes import parse_array_literal
from compute.sql.api import SqlError
from compute.sql.catalog.catalog import ENUMS, EnumType
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler, Scope, fn
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


def _enum_function(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                   scope: Scope) -> tuple[exp.Expression, Ty]:
    name = node.name.lower()
    catalog = c.state.catalog
    enum = next((e for e in (catalog.enum_by_oid(t.oid) for t in types) if e is not None), None)
    if len(args) != (2 if name == "enum_range" and len(args) == 2 else 1) or enum is None:
        if len(args) == 2 and all(t.oid == T.UNKNOWN for t in types):
            raise SqlError("42804", "could not determine polymorphic type because input has type unknown")
        arg_names = ", ".join(catalog.format_type(t.oid) if t.oid != T.UNKNOWN else "unknown" for t in types)
        raise SqlError("42883", f"function {name}({arg_names}) does not exist",
                       hint="No function matches the given name and argument types. You might need to add "
                            "explicit type casts.")
    labels = exp.Literal.string(enum.key_json)
    if name != "enum_range":
        if not enum.labels:
            raise SqlError("55000", f"enum {enum.name} contains no values")
        return exp.Literal.string(enum.labels[0] if name == "enum_first" else enum.labels[-1]), Ty(enum.oid)
    if len(args) == 1:
        return fn("pg_enum_range", labels), Ty(enum.array_oid)
    low = c.coerce(args[0], types[0], Ty(enum.oid))
    high = c.coerce(args[1], types[1], Ty(enum.oid))
    if types[0].oid not in (enum.oid, T.UNKNOWN) or types[1].oid not in (enum.oid, T.UNKNOWN):
        raise SqlError("42883", f"function enum_range({catalog.format_type(types[0].oid)}, "
                                f"{catalog.format_type(types[1].oid)}) does not exist")
    return fn("pg_enum_range", labels, low, high), Ty(enum.array_oid)


def check_label(enum: EnumType, text: str) -> str:
    """enum_in(): the label itself, or 22P02 for a label the type does not have."""
    if text not in enum.labels:
        raise SqlError("22P02", f'invalid input value for enum {enum.name}: "{text}"')
    return text


@functools.lru_cache(maxsize=256)
def _key(key_json: str) -> tuple[dict[str, float], dict[float, str], list[str]]:
    """(label -> sortorder, sortorder -> label, labels in order) of an embedded enum key."""
    pairs = json.loads(key_json)
    return ({str(label): float(order) for label, order in pairs},
            {float(order): str(label) for label, order in pairs}, [str(label) for label, _ in pairs])


class _EnumFunctions:
    """The enum UDFs. A label missing from the embedded key (a view or CHECK translated before
    ALTER TYPE ... ADD/RENAME VALUE) is looked up in ``__strata_enums`` on the connection."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def _order(self, label: str, key_json: str, type_oid: Any) -> float | None:
        found = _key(key_json)[0].get(label)
        if found is None and type_oid is not None:
            rows = self.conn.execute(f"SELECT sortorder FROM {ENUMS} WHERE type_oid = ? AND label = ?",
                                     (int(type_oid), label)).fetchall()
            found = float(rows[0][0]) if rows else None
        return found

    def enum_in(self, value: Any, key_json: str, type_name: str, type_oid: Any = None) -> Any:
        if value is None:
            return None
        text = value if isinstance(value, str) else str(value)
        if self._order(text, key_json, type_oid) is None:
            raise SqlError("22P02", f'invalid input value for enum {type_name}: "{text}"')
        return text

    def ord(self, value: Any, key_json: str, type_oid: Any = None) -> float | None:
        return None if value is None else self._order(str(value), key_json, type_oid)

    def label(self, order: Any, key_json: str, type_oid: Any = None) -> str | None:
        if order is None:
            return None
        found = _key(key_json)[1].get(float(order))
        if found is None and type_oid is not None:
            rows = self.conn.execute(f"SELECT label FROM {ENUMS} WHERE type_oid = ? AND sortorder = ?",
                                     (int(type_oid), float(order))).fetchall()
            found = str(rows[0][0]) if rows else None
        return found

    def array_in(self, value: Any, key_json: str, type_name: str, type_oid: Any = None) -> Any:
        """A parameter of an enum array type: PostgreSQL array text (or binary-decoded storage)."""
        if value is None:
            return None
        text = str(value)
        try:
            items = json.loads(text) if text.startswith("[") else None
        except ValueError:
            items = None
        if not isinstance(items, list):
            items = parse_array_literal(text)
        for item in items:
            if item is not None:
                self.enum_in(item, key_json, type_name, type_oid)
        return json.dumps(items, separators=(",", ":"), ensure_ascii=False)


def _enum_range(key_json: str, low: Any = None, high: Any = None) -> str:
    """enum_range(): the labels from ``low`` to ``high`` (NULL: the ends), as array storage."""
    labels = _key(key_json)[2]
    positions = {label: i for i, label in enumerate(labels)}
    start = 0 if low is None else positions.get(str(low), 0)
    end = len(labels) - 1 if high is None else positions.get(str(high), len(labels) - 1)
    return json.dumps(labels[start:end + 1], separators=(",", ":"), ensure_ascii=False)


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The enum UDFs the translations call (each takes the type's key, see EnumType.key_json)."""
    f = _EnumFunctions(conn)
    conn.create_scalar_function("pg_enum_in", f.enum_in, -1)
    conn.create_scalar_function("pg_enum_ord", f.ord, -1)
    conn.create_scalar_function("pg_enum_label", f.label, -1)
    conn.create_scalar_function("pg_enum_range", _enum_range, -1, deterministic=True)
    conn.create_scalar_function("pg_enum_array_in", f.array_in, -1)


HANDLERS: dict[str, Handler] = {
    "enum_first": _enum_function,
    "enum_last": _enum_function,
    "enum_range": _enum_function,
}

