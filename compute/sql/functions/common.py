"""Helpers shared by the function families: handler factories and argument checks."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.translate.scope import Handler, Scope, fn
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


def simple(sqlite_name: str, result: Ty | Callable[[list[Ty]], Ty], *, write: bool = False,
           off_loop: bool = False) -> Handler:
    """A handler calling ``sqlite_name`` with the arguments as they are; ``result`` is the result
    type or a function of the argument types. ``write``: the call writes (nextval), so the
    statement is a write; ``off_loop``: it blocks (pg_sleep), so never on the event loop."""

    def handler(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
        if off_loop:
            c.state.off_loop = True
        if write:
            c.state.is_write = True
            c.state.write_command = c.state.write_command or f"{node.name.lower()}()"
        rt = result(types) if callable(result) else result
        return fn(sqlite_name, *args), rt

    return handler


def scalar_registrar(conn: Any) -> Callable[..., None]:
    """``scalar(name, func, nargs=-1, deterministic=False)``: registers one scalar UDF on ``conn``."""
    create = conn.create_scalar_function

    def scalar(name: str, func: Callable[..., Any], nargs: int = -1, deterministic: bool = False) -> None:
        if deterministic:
            create(name, func, nargs, deterministic=True)
        else:
            create(name, func, nargs)

    return scalar


def first_type(types: list[Ty]) -> Ty:
    return ty.TEXT if not types or types[0].oid == T.UNKNOWN else Ty(types[0].oid)


def type_names(types: list[Ty]) -> list[str]:
    return [T.format_type(t.oid) if t.oid != T.UNKNOWN else "unknown" for t in types]


def args_as(c: ExprCompiler, args: list[exp.Expression], types: list[Ty],
             wanted: list[Ty]) -> list[exp.Expression]:
    return [c.coerce(a, t, w) for a, t, w in zip(args, types, wanted, strict=False)]


def typed_udf(udf: str, result: Ty | None, arg_types: list[Ty] | None = None,
               nargs: tuple[int, ...] | None = None) -> Handler:
    """A handler calling ``udf`` with arguments coerced to ``arg_types`` (result None: first arg's type)."""

    def handler(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                scope: Scope) -> tuple[exp.Expression, Ty]:
        name = node.name.lower()
        if nargs is not None and len(args) not in nargs:
            raise SqlError("42883", f"function {name}({', '.join(T.format_type(t.oid) for t in types)}) does not "
                                    "exist", hint="No function matches the given name and argument types. You "
                                                  "might need to add explicit type casts.")
        wanted = arg_types or []
        out = [c.coerce(a, t, wanted[i] if i < len(wanted) else t) for i, (a, t) in enumerate(zip(args, types,
                                                                                                 strict=True))]
        rt = result
        if rt is None:
            rt = types[0] if types and types[0].oid != T.UNKNOWN else ty.INT4
            rt = Ty(rt.oid)
        return fn(udf, *out), rt

    return handler

