"""What expressions are compiled against: scopes (FROM sources, CTEs, SELECT outputs), the
per-statement State and Params, and the small sqlglot-building helpers.

Function handlers (compute/sql/functions/) and the compilers (translate/expressions.py,
translate/query.py) both use these, so they live below both: a handler needs nothing from
the compiler module at runtime.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.catalog.catalog import Catalog, Table
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


# ------------------------------------------------------------------------------ helpers


def fn(name: str, *args: exp.Expression) -> exp.Expression:
    """A call to an SQLite function/UDF, printed verbatim."""
    return exp.Anonymous(this=name, expressions=list(args))


def lit_int(value: int) -> exp.Expression:
    if value < 0:
        return exp.Paren(this=exp.Literal.number(value))
    return exp.Literal.number(value)


def raw(sql: str) -> exp.Expression:
    """Raw SQLite text (already quoted/safe)."""
    return exp.Var(this=sql)


def storage_literal(value: Any) -> exp.Expression:
    """A Python storage value as an SQLite literal."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Literal.number(1 if value else 0)
    if isinstance(value, int):
        return lit_int(value)
    if isinstance(value, float):
        if value != value:  # SQLite cannot hold a NaN double: floats store NaN as 'NaN'
            return exp.Literal.string("NaN")
        if value in (float("inf"), float("-inf")):
            return raw("9e999" if value > 0 else "(-9e999)")
        text = repr(value)
        return exp.Paren(this=exp.Literal.number(text)) if value < 0 else exp.Literal.number(text)
    if isinstance(value, bytes):
        return raw("X'" + value.hex() + "'")
    return exp.Literal.string(str(value))


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def ident(name: str) -> exp.Identifier:
    return exp.Identifier(this=name, quoted=True)


def is_string_literal(node: exp.Expression) -> bool:
    return isinstance(node, exp.Literal) and node.is_string


# ------------------------------------------------------------------------------ scopes


@dataclass
class SourceColumn:
    name: str
    ty: Ty
    table_oid: int = 0
    attnum: int = 0
    sql_name: str | None = None  # the SQLite column name when it differs from ``name``


@dataclass
class Source:
    """A relation visible in a FROM clause."""

    alias: str  # the name PostgreSQL qualifies columns with
    sql_alias: str  # the SQLite name for the same relation
    columns: list[SourceColumn]
    table: Table | None = None
    inline: dict[str, tuple[exp.Expression, Ty]] | None = None  # lateral one-row subselect
    hidden_using: set[str] = field(default_factory=set)
    # USING/NATURAL columns of a FULL or RIGHT join: the unqualified name means the merged value
    merged_using: dict[str, tuple[exp.Expression, Ty]] = field(default_factory=dict)

    def find(self, name: str) -> SourceColumn | None:
        for col in self.columns:
            if col.name == name:
                return col
        return None


@dataclass
class Srf:
    """A set-returning function call in a SELECT list: its rows as a JSON array, joined as ``alias``."""

    alias: str
    array: exp.Expression


@dataclass
class Scope:
    parent: Scope | None = None
    sources: list[Source] = field(default_factory=list)
    ctes: dict[str, tuple[list[SourceColumn], bool]] = field(default_factory=dict)
    outputs: dict[str, Ty] = field(default_factory=dict)  # SELECT aliases (ORDER BY may use them)
    output_types: list[Ty] = field(default_factory=list)  # by position (ORDER BY 2)
    ambiguous_outputs: frozenset[str] = frozenset()  # names of two different SELECT items (42702)
    aggregate_ok: bool = True
    excluded: Source | None = None  # ON CONFLICT ... EXCLUDED
    srfs: list[Srf] | None = None  # set while compiling a SELECT list: where its SRF calls go
    # column order of SELECT * once a USING/NATURAL join reordered it (merged columns first)
    star_order: list[tuple[Source, SourceColumn]] | None = None

    def cte(self, name: str) -> list[SourceColumn] | None:
        scope: Scope | None = self
        while scope is not None:
            found = scope.ctes.get(name)
            if found is not None:
                return found[0]
            scope = scope.parent
        return None


@dataclass
class Params:
    """Parameter types inferred so far ($n -> oid, 0 = not yet known)."""

    types: dict[int, int] = field(default_factory=dict)
    fixed: dict[int, int] = field(default_factory=dict)  # types the client declared in Parse

    def note(self, n: int) -> Ty:
        if n in self.fixed and self.fixed[n]:
            self.types[n] = self.fixed[n]
        oid = self.types.setdefault(n, 0)
        return Ty(oid) if oid else ty.UNKNOWN

    def assign(self, n: int, t: Ty) -> None:
        if not self.types.get(n) and t.oid != T.UNKNOWN:
            self.types[n] = t.oid

    def oids(self) -> tuple[int, ...]:
        if not self.types:
            return ()
        count = max(self.types)
        return tuple(self.types.get(i, 0) or T.TEXT for i in range(1, count + 1))


# ------------------------------------------------------------------------------ statement state


@dataclass
class State:
    """Per-statement translation state shared by all compilers of the statement."""

    catalog: Catalog
    params: Params = field(default_factory=Params)
    is_write: bool = False
    notices: list[str] = field(default_factory=list)
    write_command: str = ""  # how PostgreSQL names the write in 25006 ("nextval()", "SELECT FOR UPDATE")
    off_loop: bool = False  # calls the node (pg_promote, pg_stat_replication): never inline on the loop


# A function's translation: (compiler, compiled args, their types, the call node, scope) ->
# (SQLite expression, result type). Registered in compute/sql/functions/registry.py.
Handler = Callable[["ExprCompiler", list[exp.Expression], list[Ty], exp.Expression, Scope],
                   tuple[exp.Expression, Ty]]
