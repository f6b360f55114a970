"""Calls of user functions (CREATE FUNCTION) in any expression.

A LANGUAGE sql function whose body is one ``SELECT expr`` (no FROM) is inlined, as PostgreSQL
inlines such functions: the body is substituted with the (cast) arguments and compiled in the
caller's scope. Any other user function compiles to ``__strata_call(oid, args...)``, the UDF of
compute/sql/procedural/runtime.py, typed with the declared result type. A VOLATILE function
that is not inlined makes the statement a write (it may write; it runs on the writer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.catalog.objects import bare_name, relation_key
from compute.sql.procedural.catalog import TRIGGER_OID, UserFunction
from compute.sql.translate.parse import parse
from compute.sql.translate.scope import Scope, Source, SourceColumn, Srf, fn, ident, lit_int
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.catalog.catalog import Catalog
    from compute.sql.translate.expressions import ExprCompiler

_NUMERIC = frozenset({T.INT2, T.INT4, T.INT8, T.NUMERIC, T.FLOAT4, T.FLOAT8, T.OID})
_STRINGS = frozenset({T.TEXT, T.VARCHAR, T.BPCHAR, T.NAME})


def function_candidates(catalog: Catalog, schema: str | None, name: str) -> list[UserFunction]:
    """The user functions a call of ``[schema.]name`` may mean: those of the named schema, or of
    the first schema of the search path that has a function of this name (functions are stored
    under ``relation_key(schema, name)``)."""
    if schema is not None:
        if schema != "pg_catalog" and not catalog.schema_exists(schema):
            raise SqlError("3F000", f'schema "{schema}" does not exist')
        return catalog.routines.named(relation_key(schema, name))
    for candidate in catalog.path():
        found = catalog.routines.named(relation_key(candidate, name))
        if found:
            return found
    return []


def user_call(compiler: ExprCompiler, node: exp.Anonymous, scope: Scope,
              schema: str | None = None) -> tuple[exp.Expression, Ty] | None:
    """The call, or None when no user function has this name (the caller reports 42883)."""
    catalog = compiler.state.catalog
    name = node.name.lower()
    candidates = function_candidates(catalog, schema, name)
    if not candidates:
        return None
    positional, named = _split_args(node)
    types = [compiler.compile(a, scope)[1].oid for a in positional]
    chosen = _choose(candidates, types, named)
    if chosen is None:
        return None
    if chosen.ret_type == TRIGGER_OID:
        raise SqlError("0A000", "trigger functions can only be called as triggers")
    if chosen.ret_set:
        return _set_in_select_list(compiler, chosen, positional, named, scope)
    if len(chosen.out_columns) > 1:
        raise SqlError("0A000", f"a function with several OUT parameters ({chosen.name}) in an expression is not "
                                "supported (its result is a record): call it in FROM")
    args = _bind(chosen, positional, named)
    casts = [_cast(a, chosen.arg_types[k], catalog.format_type) for k, a in enumerate(args)]
    inline = _inlinable(chosen)
    if inline is not None:
        return compiler.compile(_inline(chosen, inline, casts, catalog.format_type), scope)
    compiled = [compiler.compile(c, scope)[0] for c in casts]
    if chosen.volatility == "v":
        compiler.state.is_write = True
    return fn("__strata_call", lit_int(chosen.oid), *compiled), Ty(chosen.ret_type)


def _split_args(node: exp.Anonymous) -> tuple[list[exp.Expression], dict[str, exp.Expression]]:
    positional: list[exp.Expression] = []
    named: dict[str, exp.Expression] = {}
    for arg in node.expressions:
        if isinstance(arg, exp.Kwarg):
            named[arg.this.name.lower()] = arg.expression
        elif named:
            raise SqlError("42601", "positional argument cannot follow named argument")
        else:
            positional.append(arg)
    return positional, named


def _compatible(given: int, declared: int) -> bool:
    return given in (declared, T.UNKNOWN) or (given in _NUMERIC and declared in _NUMERIC) \
        or (given in _STRINGS and declared in _STRINGS)


def _choose(candidates: list[UserFunction], types: list[int], named: dict[str, exp.Expression]
            ) -> UserFunction | None:
    fits = []
    for cand in candidates:
        total = len(types) + len(named)
        if not (cand.required <= total <= len(cand.arg_types)):
            continue
        if any(n not in cand.arg_names for n in named):
            continue
        if all(_compatible(t, cand.arg_types[k]) for k, t in enumerate(types)):
            fits.append(cand)
    exact = [c for c in fits if all(t == c.arg_types[k] for k, t in enumerate(types))]
    if len(exact) == 1:
        return exact[0]
    if len(fits) > 1:
        raise SqlError("42725", f"function {candidates[0].name} is not unique",
                       hint="Could not choose a best candidate function. You might need to add explicit type casts.")
    return fits[0] if fits else None


def _bind(chosen: UserFunction, positional: list[exp.Expression], named: dict[str, exp.Expression]
          ) -> list[exp.Expression]:
    args = list(positional)
    for k in range(len(positional), len(chosen.arg_types)):
        arg_name = chosen.arg_names[k]
        if arg_name and arg_name in named:
            args.append(named[arg_name])
            continue
        default = chosen.arg_defaults[k]
        if default is None:
            raise SqlError("42883", f"function {chosen.name} has no value for argument {arg_name or k + 1}")
        args.append(_expression(default))
    return args


def _expression(text: str) -> exp.Expression:
    tree = parse(f"SELECT {text}")
    assert isinstance(tree, exp.Select)
    return tree.expressions[0]


def _type(oid: int, format_type: object) -> exp.DataType:
    tree = parse(f"SELECT CAST(NULL AS {format_type(oid)})")  # type: ignore[operator]
    cast = tree.expressions[0]
    assert isinstance(cast, exp.Cast)
    return cast.to


def _cast(arg: exp.Expression, oid: int, format_type: object) -> exp.Expression:
    return exp.Cast(this=arg.copy(), to=_type(oid, format_type))


def _inlinable(chosen: UserFunction) -> exp.Expression | None:
    """The expression of a ``SELECT expr`` body (PostgreSQL's inline_function conditions, simplified)."""
    if chosen.language != "sql" or chosen.ret_type == T.VOID or ";" in chosen.body.strip().rstrip(";"):
        return None
    try:
        tree = parse(chosen.body.strip().rstrip(";"))
    except SqlError:
        return None
    if not isinstance(tree, exp.Select) or len(tree.expressions) != 1:
        return None
    if any(tree.args.get(k) for k in ("from", "from_", "where", "group", "having", "order", "limit", "with",
                                      "with_", "distinct", "joins", "offset")):
        return None
    item = tree.expressions[0]
    if item.find(exp.Select) is not None:
        return None
    return item.this if isinstance(item, exp.Alias) else item


def _inline(chosen: UserFunction, body: exp.Expression, args: list[exp.Expression], format_type: object
            ) -> exp.Expression:
    names = {n: k for k, n in enumerate(chosen.arg_names) if n}

    def substitute(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Parameter):
            n = int(node.name)
            if not 1 <= n <= len(args):
                raise SqlError("42P02", f"there is no parameter ${n}")
            return exp.Paren(this=args[n - 1].copy())
        if isinstance(node, exp.Column) and node.name in names and (not node.table or node.table == bare_name(chosen.name)):
            return exp.Paren(this=args[names[node.name]].copy())
        return node

    result: exp.Expression = exp.Cast(this=exp.Paren(this=body.copy().transform(substitute)),
                                      to=_type(chosen.ret_type, format_type))
    if chosen.strict and args:
        any_null = exp.or_(*[exp.Is(this=exp.Paren(this=a.copy()), expression=exp.Null()) for a in args])
        result = exp.Case(ifs=[exp.If(this=any_null, true=exp.Null())], default=result)
    return result


# ---------------------------------------------------------------------------------- set-returning


def _set_call(compiler: ExprCompiler, chosen: UserFunction, positional: list[exp.Expression],
              named: dict[str, exp.Expression], scope: Scope) -> exp.Expression:
    """``__strata_call_set(oid, args...)``: the rows as a JSON array of arrays (runtime.call_set)."""
    catalog = compiler.state.catalog
    args = _bind(chosen, positional, named)
    casts = [_cast(a, chosen.arg_types[k], catalog.format_type) for k, a in enumerate(args)]
    compiled = [compiler.compile(c, scope)[0] for c in casts]
    if chosen.volatility == "v":
        compiler.state.is_write = True
    return fn("__strata_call_set", lit_int(chosen.oid), *compiled)


def _result_columns(chosen: UserFunction) -> list[tuple[str, int]]:
    columns = list(chosen.out_columns) or [(bare_name(chosen.name), chosen.ret_type)]
    if any(oid == T.BYTEA for _, oid in columns):
        raise SqlError("0A000", "bytea results of functions called in FROM are not supported")
    return columns


def _set_in_select_list(compiler: ExprCompiler, chosen: UserFunction, positional: list[exp.Expression],
                        named: dict[str, exp.Expression], scope: Scope) -> tuple[exp.Expression, Ty]:
    """A SETOF scalar function in a SELECT list: a json_each() joined to the row (scope.Srf)."""
    if len(chosen.out_columns) > 1:
        raise SqlError("0A000", f"a function returning several columns ({chosen.name}) in a SELECT list is not "
                                "supported (its rows are records): call it in FROM")
    if scope.srfs is None:
        raise SqlError("0A000", f"set-returning function {chosen.name}() is only supported in FROM or a SELECT list")
    (_, oid), = _result_columns(chosen)
    alias = compiler.query.fresh_alias("srf")
    scope.srfs.append(Srf(alias, _set_call(compiler, chosen, positional, named, scope)))
    return fn("json_extract", exp.Column(this=ident("value"), table=ident(alias)), exp.Literal.string("$[0]")), Ty(oid)


def user_from_source(compiler: ExprCompiler, call: exp.Anonymous, alias: str | None, col_aliases: list[str],
                     scope: Scope, schema: str | None = None) -> exp.Expression | None:
    """A user function in FROM (``SELECT * FROM f(1) AS x(a, b)``, in joins and LATERAL): a
    json_each() over ``__strata_call_set``, each column read by position. None when no user
    function has this name."""
    candidates = function_candidates(compiler.state.catalog, schema, call.name.lower())
    if not candidates:
        return None
    positional, named = _split_args(call)
    chosen = _choose(candidates, [compiler.compile(a, scope)[1].oid for a in positional], named)
    if chosen is None:
        return None
    if chosen.ret_type == TRIGGER_OID:
        raise SqlError("0A000", "trigger functions can only be called as triggers")
    if chosen.ret_type == T.VOID:
        raise SqlError("0A000", f"a function returning void ({chosen.name}) in FROM is not supported")
    columns = _result_columns(chosen)
    visible = alias or bare_name(chosen.name)
    if not chosen.out_columns and alias and not col_aliases:  # a scalar function's alias names its column
        col_aliases = [alias]
    if len(col_aliases) > len(columns):
        raise SqlError("42P10", f'table "{visible}" has {len(columns)} columns available but '
                                f"{len(col_aliases)} columns specified")
    sql_alias = compiler.query.fresh_alias("fn") if alias is None else visible
    names = [*col_aliases, *(n for n, _ in columns[len(col_aliases):])]
    inline = {f"{i}": (fn("json_extract", exp.Column(this=ident("value"), table=ident(sql_alias)),
                          exp.Literal.string(f"$[{i}]")), Ty(oid)) for i, (_, oid) in enumerate(columns)}
    scope.sources.append(Source(visible, sql_alias, [SourceColumn(n, Ty(oid), sql_name=f"{i}")
                                                     for i, (n, (_, oid)) in enumerate(zip(names, columns, strict=True))],
                                inline=inline))
    source = fn("json_each", _set_call(compiler, chosen, positional, named, scope))
    return exp.Table(this=source, alias=exp.TableAlias(this=ident(sql_alias)))
