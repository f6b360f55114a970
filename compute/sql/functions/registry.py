"""The one table of SQL functions: every family's translation handlers and SQLite runtime.

A family (one file per concept in this package) exposes ``HANDLERS`` (SQL name -> handler, the
translation) and ``register_udfs(conn, ctx)`` (its UDFs, aggregates and collations on one
connection). Nothing registers on import: this module lists the families and builds both.
A name defined by two families is an error at import, not a silent override.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from compute.sql.functions import (
    admin,
    aggregate,
    array,
    bits,
    casts,
    catalog_info,
    conditional,
    constraint,
    datetime,
    enum,
    formatting,
    formatting_input,
    json,
    math,
    network,
    node,
    numeric,
    range,
    regex,
    sequence,
    session,
    srf,
    text,
    window,
)
from compute.sql.functions.session import SessionContext
from compute.sql.translate.scope import Handler

# (handlers, UDF registration) per family, in registration order.
FAMILIES: tuple[tuple[Mapping[str, Handler], Callable[[Any, SessionContext], None]], ...] = (
    (session.HANDLERS, session.register_udfs),
    (datetime.HANDLERS, datetime.register_udfs),
    (formatting.HANDLERS, formatting.register_udfs),
    (formatting_input.HANDLERS, formatting_input.register_udfs),
    (numeric.HANDLERS, numeric.register_udfs),
    (math.HANDLERS, math.register_udfs),
    (casts.HANDLERS, casts.register_udfs),
    (text.HANDLERS, text.register_udfs),
    (regex.HANDLERS, regex.register_udfs),
    (json.HANDLERS, json.register_udfs),
    (array.HANDLERS, array.register_udfs),
    (srf.HANDLERS, srf.register_udfs),
    (aggregate.HANDLERS, aggregate.register_udfs),
    (window.HANDLERS, window.register_udfs),
    (conditional.HANDLERS, conditional.register_udfs),
    (catalog_info.HANDLERS, catalog_info.register_udfs),
    (sequence.HANDLERS, sequence.register_udfs),
    (constraint.HANDLERS, constraint.register_udfs),
    (node.HANDLERS, node.register_udfs),
    (enum.HANDLERS, enum.register_udfs),
    (network.HANDLERS, network.register_udfs),
    (bits.HANDLERS, bits.register_udfs),
    (range.HANDLERS, range.register_udfs),
    (admin.HANDLERS, admin.register_udfs),
)


def _build_handlers() -> dict[str, Handler]:
    table: dict[str, Handler] = {}
    for handlers, _register in FAMILIES:
        for name, handler in handlers.items():
            if name in table:
                raise RuntimeError(f"function {name} is defined by two families")
            table[name] = handler
    return table


# SQL function name (lower case) -> translation handler; read by translate.expressions.
HANDLERS: dict[str, Handler] = _build_handlers()


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """Every family's SQLite functions, aggregates and collations on one apsw connection."""
    for _handlers, register in FAMILIES:
        register(conn, ctx)
