"""json/jsonb functions and operators (stored as text): translation and SQLite runtime."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.functions.common import scalar_registrar, type_names
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler, Scope, fn, lit_int, raw
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


def _json_typeof(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                 scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("pg_json_typeof", c.coerce(args[0], types[0], Ty(T.JSONB))), ty.TEXT


def _jsonb_arg(c: ExprCompiler, arg: exp.Expression, t: Ty) -> exp.Expression:
    return c.coerce(arg, t, Ty(T.JSONB)) if t.oid not in (T.JSON, T.JSONB) else arg


def _jsonb_set(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
               scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) not in (3, 4):
        raise SqlError("42883", "function jsonb_set with these arguments does not exist")
    rest = [c.coerce(args[3], types[3], ty.BOOL)] if len(args) == 4 else []
    return fn("pg_jsonb_set", _jsonb_arg(c, args[0], types[0]), c.coerce(args[1], types[1], Ty(T.TEXT_ARRAY)),
              _jsonb_arg(c, args[2], types[2]), *rest), Ty(T.JSONB)


def _jsonb_strip_nulls(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                       scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("pg_jsonb_strip_nulls", _jsonb_arg(c, args[0], types[0])), Ty(T.JSONB)


def _jsonb_array_length(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                        scope: Scope) -> tuple[exp.Expression, Ty]:
    return fn("pg_jsonb_array_length", _jsonb_arg(c, args[0], types[0])), ty.INT4


def _json_build_object(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                       scope: Scope) -> tuple[exp.Expression, Ty]:
    converted = [c.json_arg(a, t) for a, t in zip(args, types, strict=True)]
    result = fn("json_object", *converted)
    if node.name.lower().startswith("jsonb"):
        return fn("pg_cast", result, lit_int(T.JSON), lit_int(T.JSONB)), Ty(T.JSONB)
    if len(args) % 2:
        raise SqlError("22023", "argument list must have even number of elements",
                       hint="The arguments of json_build_object() must consist of alternating keys and values.")
    # json keeps PostgreSQL's layout: {"k" : 2, "l" : "x"}
    pairs = [f"json_quote(CAST(({c.sql(c.to_text(args[i], types[i]))}) AS TEXT)) || ' : ' || "
             f"coalesce(json_quote({c.sql(converted[i + 1])}), 'null')" for i in range(0, len(args), 2)]
    return raw("('{' || " + " || ', ' || ".join(pairs) + " || '}')" if pairs else "'{}'"), Ty(T.JSON)


def _json_build_array(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                      scope: Scope) -> tuple[exp.Expression, Ty]:
    converted = [c.json_arg(a, t) for a, t in zip(args, types, strict=True)]
    if node.name.lower().startswith("jsonb"):
        return fn("pg_cast", fn("json_array", *converted), lit_int(T.JSON), lit_int(T.JSONB)), Ty(T.JSONB)
    items = [f"coalesce(json_quote({c.sql(v)}), 'null')" for v in converted]  # json layout: [1, "a"]
    return raw("('[' || " + " || ', ' || ".join(items) + " || ']')" if items else "'[]'"), Ty(T.JSON)


def _json_agg(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
              scope: Scope) -> tuple[exp.Expression, Ty]:
    oid = T.JSONB if node.name.lower().startswith("jsonb") else T.JSON
    # stays a bare aggregate call so json_agg(x ORDER BY y) keeps working; json_quote makes every
    # element JSON text (a string quoted, JSON as it is, NULL as null) for the Python aggregate
    name = "pg_jsonb_agg" if oid == T.JSONB else "pg_json_agg"
    if types[0].oid in (T.JSON, T.JSONB):  # already JSON text, in its own layout
        return fn(name, args[0]), Ty(oid)
    return fn(name, fn("json_quote", c.json_arg(args[0], types[0]))), Ty(oid)


def _to_json(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
             scope: Scope) -> tuple[exp.Expression, Ty]:
    name = node.name.lower()
    oid = T.JSONB if name.endswith("jsonb") else T.JSON
    if name == "row_to_json" and (len(args) != 1 or types[0].oid != T.RECORD):
        raise SqlError("42883", f"function row_to_json({', '.join(type_names(types))}) does not exist")
    if types[0].oid == T.RECORD:  # a row: its JSON object (see row())
        value = _record_json(c, args[0])
        return (fn("pg_cast", value, lit_int(T.JSON), lit_int(T.JSONB)), Ty(oid)) if oid == T.JSONB else (value, Ty(oid))
    value = fn("json_quote", c.json_arg(args[0], types[0]))
    if oid == T.JSONB:
        value = fn("pg_cast", value, lit_int(T.JSON), lit_int(T.JSONB))
    # a NULL argument gives NULL, not the JSON null json_quote makes of it
    return raw(f"(CASE WHEN ({c.sql(args[0])}) IS NULL THEN NULL ELSE {c.sql(value)} END)"), Ty(oid)


def _record_json(c: ExprCompiler, value: exp.Expression) -> exp.Expression:
    """A record as its JSON object: row() values already are; a (a, b) tuple gets f1, f2..."""
    if isinstance(value, exp.Tuple):
        pairs: list[exp.Expression] = []
        for i, item in enumerate(value.expressions):
            pairs += [exp.Literal.string(f"f{i + 1}"), item]
        return fn("json_object", *pairs)
    return value


def _row(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
         scope: Scope) -> tuple[exp.Expression, Ty]:
    """ROW(a, b): a record, kept as the JSON object {"f1": a, "f2": b} (row_to_json prints it;
    its text output is PostgreSQL's record form "(a,b)", made by the record encoder)."""
    pairs: list[exp.Expression] = []
    for i, (arg, t) in enumerate(zip(args, types, strict=True)):
        pairs += [exp.Literal.string(f"f{i + 1}"), c.json_arg(arg, t)]
    return fn("json_object", *pairs), Ty(T.RECORD)


def _h_jsonb_pretty(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 1:
        raise SqlError("42883", "function jsonb_pretty does not exist")
    return fn("pg_jsonb_pretty", c.coerce(args[0], types[0], Ty(T.JSONB))), ty.TEXT


def _h_object_agg(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                  scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) != 2:
        raise SqlError("42883", f"function {node.name.lower()} does not exist")
    key = c.to_text(c.coerce(args[0], types[0], ty.TEXT) if types[0].oid == T.UNKNOWN else args[0],
                    ty.TEXT if types[0].oid == T.UNKNOWN else types[0])
    value = c.json_arg(args[1], types[1])
    agg = fn("json_group_object", key, value)
    if node.name.lower() == "jsonb_object_agg":
        jsonb = fn("pg_cast", agg, lit_int(T.TEXT), lit_int(T.JSONB))
        return raw(f"(CASE WHEN count(*) = 0 THEN NULL ELSE {c.sql(jsonb)} END)"), Ty(T.JSONB)
    pair = f"json_quote({c.sql(key)}) || ' : ' || coalesce(json_quote({c.sql(value)}), 'null')"
    return raw(f"(CASE WHEN count(*) = 0 THEN NULL ELSE '{{ ' || group_concat({pair}, ', ') || ' }}' END)"), Ty(
        T.JSON)  # json_object_agg's layout: { "a" : 1, "b" : 2 }


def _pretty(value: Any, indent: int) -> str:
    pad = "    " * (indent + 1)
    if isinstance(value, dict):
        if not value:
            return "{\n" + "    " * indent + "}"
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {_pretty(v, indent + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + "    " * indent + "}"
    if isinstance(value, list):
        if not value:
            return "[\n" + "    " * indent + "]"
        items = [f"{pad}{_pretty(v, indent + 1)}" for v in value]
        return "[\n" + ",\n".join(items) + "\n" + "    " * indent + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def _jsonb_pretty(value: Any) -> str | None:
    if value is None:
        return None
    return _pretty(json.loads(str(value), parse_float=Decimal, parse_int=Decimal), 0)


# ------------------------------------------------------------------------------ json / jsonb
# json and jsonb are stored as text (jsonb normalised the way jsonb_out prints it).


def _json_load(doc: Any) -> Any:
    return json.loads(doc, parse_float=Decimal)


def _json_out(value: Any, as_text: bool) -> Any:
    """A json value as jsonb text, or for ->>/#>> as text (strings unquoted, null -> NULL)."""
    if as_text:
        if value is None:
            return None
        if isinstance(value, str):
            return value
    return T._jsonb_dump(value)


def _json_step(value: Any, key: Any) -> tuple[bool, Any]:
    if isinstance(value, dict):
        k = str(key)
        return (k in value, value.get(k))
    if isinstance(value, list):
        try:
            index = int(key)
        except (TypeError, ValueError):
            return (False, None)
        if index < 0:
            index += len(value)
        return (0 <= index < len(value), value[index] if 0 <= index < len(value) else None)
    return (False, None)


def json_get(doc: Any, key: Any, as_text: int = 0) -> Any:
    """doc -> key / doc ->> key (an int key indexes arrays, negative from the end)."""
    if doc is None or key is None:
        return None
    value = _json_load(doc)
    if isinstance(key, str) and isinstance(value, list):
        return None
    if isinstance(key, int) and isinstance(value, dict):
        return None
    found, item = _json_step(value, key)
    return _json_out(item, bool(as_text)) if found else None


def json_path(doc: Any, path: Any, as_text: int = 0) -> Any:
    """doc #> path / doc #>> path; path is a text[] (stored as a JSON array)."""
    if doc is None or path is None:
        return None
    value = _json_load(doc)
    for key in json.loads(path):
        if key is None:
            return None
        found, value = _json_step(value, key)
        if not found:
            return None
    return _json_out(value, bool(as_text))


def _contains(a: Any, b: Any, top: bool = True) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return all(k in a and _contains(a[k], v, False) for k, v in b.items())
    if isinstance(a, list) and isinstance(b, list):
        return all(any(_contains(x, y, False) for x in a) for y in b)
    if isinstance(a, list) and top and not isinstance(b, dict | list):
        return any(not isinstance(x, dict | list) and x == b and type(x) is type(b) for x in a)
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return bool(a == b and (type(a) is type(b) or (isinstance(a, int | Decimal) and isinstance(b, int | Decimal))))


def jsonb_contains(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    return 1 if _contains(_json_load(a), _json_load(b)) else 0


def _has_key(value: Any, key: str) -> bool:
    if isinstance(value, dict):
        return key in value
    if isinstance(value, list):
        return any(isinstance(x, str) and x == key for x in value)
    return isinstance(value, str) and value == key


def jsonb_exists(doc: Any, key: Any, mode: int = 0) -> Any:
    """? key (mode 0), ?| keys (1: any), ?& keys (2: all); keys is a text[] as a JSON array."""
    if doc is None or key is None:
        return None
    value = _json_load(doc)
    if mode == 0:
        return 1 if _has_key(value, str(key)) else 0
    keys = [k for k in json.loads(key) if k is not None]
    hits = [_has_key(value, k) for k in keys]
    return 1 if (any(hits) if mode == 1 else all(hits)) else 0


def jsonb_concat(a: Any, b: Any) -> Any:
    if a is None or b is None:
        return None
    x, y = _json_load(a), _json_load(b)
    if isinstance(x, dict) and isinstance(y, dict):
        return T._jsonb_dump({**x, **y})
    left = x if isinstance(x, list) else [x]
    right = y if isinstance(y, list) else [y]
    return T._jsonb_dump(left + right)


def jsonb_delete(doc: Any, key: Any) -> Any:
    if doc is None or key is None:
        return None
    value = _json_load(doc)
    if isinstance(value, dict):
        if isinstance(key, int):
            raise SqlError("22023", "cannot delete from object using integer index")
        value.pop(str(key), None)
    elif isinstance(value, list):
        if isinstance(key, int):
            index = key + len(value) if key < 0 else key
            if 0 <= index < len(value):
                del value[index]
        else:
            value = [x for x in value if not (isinstance(x, str) and x == key)]
    else:
        raise SqlError("22023", "cannot delete from scalar")
    return T._jsonb_dump(value)


def jsonb_set(doc: Any, path: Any, new: Any, create_missing: Any = 1) -> Any:
    if doc is None or path is None or new is None:
        return None
    root = _json_load(doc)
    keys = json.loads(path)
    replacement = _json_load(new)
    if not keys:
        return T._jsonb_dump(root)
    target = root
    for key in keys[:-1]:
        found, target = _json_step(target, key)
        if not found:
            return T._jsonb_dump(root)
    last = keys[-1]
    if isinstance(target, dict):
        if last in target or create_missing:
            target[last] = replacement
    elif isinstance(target, list):
        try:
            index = int(last)
        except ValueError:
            raise SqlError("22P02", f'path element at position {len(keys)} is not an integer: "{last}"') from None
        if index < 0:
            index += len(target)
        if 0 <= index < len(target):
            target[index] = replacement
        elif create_missing:
            if index < 0:
                target.insert(0, replacement)
            else:
                target.append(replacement)
    return T._jsonb_dump(root)


def json_typeof(doc: Any) -> Any:
    if doc is None:
        return None
    value = _json_load(doc)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | Decimal | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def jsonb_strip_nulls(doc: Any) -> Any:
    def strip(v: Any) -> Any:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if x is not None}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    return None if doc is None else T._jsonb_dump(strip(_json_load(doc)))


def jsonb_array_length(doc: Any) -> Any:
    if doc is None:
        return None
    value = _json_load(doc)
    if not isinstance(value, list):
        raise SqlError("22023", "cannot get array length of a non-array" if not isinstance(value, dict)
                       else "cannot get array length of a non-array")
    return len(value)


HANDLERS: dict[str, Handler] = {
    "jsonb_pretty": _h_jsonb_pretty,
    "jsonb_object_agg": _h_object_agg,
    "json_object_agg": _h_object_agg,
    "jsonb_typeof": _json_typeof,
    "json_typeof": _json_typeof,
    "jsonb_set": _jsonb_set,
    "jsonb_strip_nulls": _jsonb_strip_nulls,
    "jsonb_array_length": _jsonb_array_length,
    "json_array_length": _jsonb_array_length,
    "json_build_object": _json_build_object,
    "jsonb_build_object": _json_build_object,
    "json_build_array": _json_build_array,
    "jsonb_build_array": _json_build_array,
    "json_agg": _json_agg,
    "jsonb_agg": _json_agg,
    "to_json": _to_json,
    "to_jsonb": _to_json,
    "row_to_json": _to_json,
    "row": _row,
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)
    det = {"deterministic": True}
    scalar("pg_json_out", lambda v: v, 1, True)
    conn.create_scalar_function("pg_json_get", json_get, -1, **det)
    conn.create_scalar_function("pg_json_path", json_path, -1, **det)
    conn.create_scalar_function("pg_jsonb_contains", jsonb_contains, 2, **det)
    conn.create_scalar_function("pg_jsonb_exists", jsonb_exists, -1, **det)
    conn.create_scalar_function("pg_jsonb_concat", jsonb_concat, 2, **det)
    conn.create_scalar_function("pg_jsonb_delete", jsonb_delete, 2, **det)
    conn.create_scalar_function("pg_jsonb_set", jsonb_set, -1, **det)
    conn.create_scalar_function("pg_json_typeof", json_typeof, 1, **det)
    conn.create_scalar_function("pg_jsonb_strip_nulls", jsonb_strip_nulls, 1, **det)
    conn.create_scalar_function("pg_jsonb_array_length", jsonb_array_length, 1, **det)
    conn.create_scalar_function("pg_jsonb_pretty", _jsonb_pretty, 1, **det)
