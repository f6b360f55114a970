"""pg_get_functiondef, pg_get_function_arguments/_identity_arguments/_result, pg_get_triggerdef
and pg_function_is_visible for user functions and triggers (psql \\df, pg_dump), in PostgreSQL's
text forms, read from the ``__strata_functions`` / ``__strata_triggers`` rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from compute.sql.catalog.objects import quote_ident, split_key
from compute.sql.procedural.catalog import TRIGGER_OID, UserFunction, UserTrigger
from compute.sql.procedural.engine import SqlEngine

_VOLATILITY = {"i": "IMMUTABLE", "s": "STABLE", "v": "VOLATILE"}
_EVENT_ORDER = ("INSERT", "DELETE", "UPDATE", "TRUNCATE")  # the order pg_get_triggerdef prints them


class Describe:
    def __init__(self, engine: SqlEngine) -> None:
        self.engine = engine

    def _function(self, oid: Any) -> UserFunction | None:
        if oid is None:
            return None
        return self.engine.catalog().routines.by_oid(int(oid))

    def _type(self, oid: int) -> str:
        if oid == TRIGGER_OID:
            return "trigger"
        return self.engine.catalog().format_type(oid)

    def arguments(self, oid: Any, defaults: bool = True) -> str | None:
        """pg_get_function_arguments (modes, defaults) or, without ``defaults``,
        pg_get_function_identity_arguments (PostgreSQL 15 lists OUT parameters in both)."""
        fn = self._function(oid)
        if fn is None:
            return None
        parts = []
        k = 0  # the next IN argument
        outs = iter(fn.out_columns)
        for mode in fn.arg_modes or "i" * len(fn.arg_types):
            if mode == "o":
                name, type_oid = next(outs)
                parts.append(f"OUT {quote_ident_if_needed(name)} {self._type(type_oid)}")
                continue
            if mode == "b":
                next(outs)
            name = fn.arg_names[k] if k < len(fn.arg_names) else ""
            text = ("INOUT " if mode == "b" else "") + (quote_ident_if_needed(name) + " " if name else "") \
                + self._type(fn.arg_types[k])
            default = fn.arg_defaults[k] if k < len(fn.arg_defaults) else None
            if defaults and default is not None:
                text += f" DEFAULT {default}"
            parts.append(text)
            k += 1
        return ", ".join(parts)

    def proc_args(self, oid: Any, what: Any) -> str | None:
        """pg_proc.proallargtypes / proargmodes / proargnames (JSON arrays) of a function with OUT
        parameters or RETURNS TABLE columns; NULL for one with only IN parameters."""
        fn = self._function(oid)
        if fn is None or not fn.modes:
            return None
        types: list[int] = []
        names: list[str] = []
        k = 0
        outs = iter(fn.out_columns)
        for mode in fn.modes:
            if mode in "ot":
                name, type_oid = next(outs)
            else:
                name, type_oid = (fn.arg_names[k] if k < len(fn.arg_names) else ""), fn.arg_types[k]
                k += 1
                if mode == "b":
                    next(outs)
            types.append(type_oid)
            names.append(name)
        return json.dumps({"types": types, "modes": list(fn.modes), "names": names}[str(what)])

    def identity_arguments(self, oid: Any) -> str | None:
        return self.arguments(oid, defaults=False)

    def result(self, oid: Any) -> str | None:
        fn = self._function(oid)
        return None if fn is None else self._result(fn)

    def _result(self, fn: UserFunction) -> str:
        """``integer``, ``SETOF integer`` or ``TABLE(a integer, b text)``, as PostgreSQL prints it."""
        if fn.out_columns and not fn.arg_modes:
            return "TABLE(" + ", ".join(f"{quote_ident_if_needed(n)} {self._type(t)}" for n, t in fn.out_columns) + ")"
        return ("SETOF " if fn.ret_set else "") + self._type(fn.ret_type)

    def functiondef(self, oid: Any) -> str | None:
        fn = self._function(oid)
        if fn is None:
            return None
        schema, name = split_key(fn.name)
        lines = [f"CREATE OR REPLACE FUNCTION {quote_ident_if_needed(schema)}.{quote_ident_if_needed(name)}"
                 f"({self.arguments(oid)})",
                 f" RETURNS {self._result(fn)}", f" LANGUAGE {fn.language}"]
        attributes = ([_VOLATILITY[fn.volatility]] if fn.volatility != "v" else []) + (["STRICT"] if fn.strict else [])
        if attributes:
            lines.append(" " + " ".join(attributes))
        lines.append(f"AS $function${fn.body}$function$")
        return "\n".join(lines) + "\n"

    def is_visible(self, oid: Any) -> int:
        return 1 if self._function(oid) is not None else 0

    def triggerdef(self, oid: Any, pretty: Any = False) -> str | None:
        if oid is None:
            return None
        trg = next((t for t in self.engine.catalog().routines.triggers if t.oid == int(oid)), None)
        if trg is None:
            return None
        path = str(self.engine.ctx.settings.get("search_path", "public"))
        visible = "public" in [part.strip().strip('"') for part in path.split(",")]
        return trigger_definition(trg, bool(pretty), qualify_function=not visible)


def trigger_definition(trg: UserTrigger, pretty: bool = False, qualify_function: bool = False) -> str:
    """pg_get_triggerdef: the pretty form names a visible table without its schema."""
    events = []
    for event in _EVENT_ORDER:
        if event in trg.events:
            of = " OF " + ", ".join(quote_ident_if_needed(c) for c in trg.columns) \
                if event == "UPDATE" and trg.columns else ""
            events.append(event + of)
    when = f" WHEN ({trg.when_sql})" if trg.when_sql else ""
    args = ", ".join("'" + a.replace("'", "''") + "'" for a in trg.args)
    return (f"CREATE TRIGGER {quote_ident_if_needed(trg.name)} {trg.timing} {' OR '.join(events)} ON "
            f"{_table_text(trg.table, pretty)} FOR EACH {trg.level}{when} EXECUTE FUNCTION "
            f"{_function_text(trg.function, qualify_function)}({args})")


def _function_text(key: str, qualify_public: bool) -> str:
    """The trigger's function: qualified outside public, and in public when public is not visible."""
    schema, name = split_key(key)
    if schema == "public" and not qualify_public:
        return quote_ident_if_needed(name)
    return f"{quote_ident_if_needed(schema)}.{quote_ident_if_needed(name)}"


def _table_text(key: str, pretty: bool) -> str:
    """The trigger's table as pg_get_triggerdef prints it: schema-qualified (the pretty form
    leaves out public)."""
    schema, name = split_key(key)
    if pretty and schema == "public":
        return quote_ident_if_needed(name)
    return f"{quote_ident_if_needed(schema)}.{quote_ident_if_needed(name)}"


def quote_ident_if_needed(name: str) -> str:
    plain = name.isidentifier() and name == name.lower() and name.isascii()
    return name if plain else quote_ident(name)


def register(conn: Any, engine: SqlEngine) -> None:
    d = Describe(engine)
    scalar: Callable[..., None] = conn.create_scalar_function
    scalar("__strata_get_function_arguments", d.arguments, 1)
    scalar("__strata_get_function_identity_arguments", d.identity_arguments, 1)
    scalar("__strata_get_function_result", d.result, 1)
    scalar("__strata_get_functiondef", d.functiondef, 1)
    scalar("__strata_function_is_visible", d.is_visible, 1)
    scalar("__strata_proc_args", d.proc_args, 2)
    scalar("__strata_get_triggerdef", d.triggerdef, -1)
