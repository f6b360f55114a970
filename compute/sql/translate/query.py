"""Queries and DML: SELECT / set operations / VALUES, INSERT, UPDATE, DELETE.

Name resolution follows PostgreSQL (FROM-clause scopes, correlated references to outer
scopes, ``SELECT *`` expanded here so the column list and its types are known), and the output
is an SQLite statement plus PostgreSQL result column descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.catalog.catalog import Column, Table
from compute.sql.translate import expressions as E
from compute.sql.translate.dialect import StrataSQLite
from compute.sql.translate.expressions import ExprCompiler
from compute.sql.translate.grouping import check_grouping, has_aggregate
from compute.sql.translate.grouping_sets import expand as expand_grouping_sets
from compute.sql.translate.grouping_sets import has_grouping_sets
from compute.sql.translate.scope import (
    Scope,
    Source,
    SourceColumn,
    Srf,
    State,
    fn,
    ident,
    is_string_literal,
    lit_int,
    quote,
    raw,
)
from compute.sql.types import Ty


def generate(node: exp.Expression) -> str:
    return node.sql(dialect=StrataSQLite)


@dataclass
class OutColumn:
    name: str
    ty: Ty
    table_oid: int = 0
    attnum: int = 0


_FIGURE_NAMES: dict[type, str] = {
    exp.CurrentTimestamp: "current_timestamp",
    exp.CurrentDate: "current_date",
    exp.CurrentTime: "current_time",
    exp.CurrentUser: "current_user",
    exp.SessionUser: "session_user",
    exp.CurrentSchema: "current_schema",
    exp.AtTimeZone: "timezone",
    exp.Overlaps: "overlaps",
    exp.Case: "case",
    exp.Exists: "exists",
    exp.Array: "array",
    exp.Localtimestamp: "localtimestamp",
    exp.Extract: "extract",
    exp.Substring: "substring",
    exp.Trim: "btrim",
    exp.StrPosition: "position",
    exp.GroupConcat: "string_agg",
    exp.Interval: "interval",
    exp.Overlay: "overlay",
    exp.Coalesce: "coalesce",
    exp.Greatest: "greatest",
    exp.Least: "least",
    exp.Nullif: "nullif",
    exp.Tuple: "row",
    exp.ArrayAgg: "array_agg",
    exp.Count: "count",
}


def figure_colname(node: exp.Expression) -> str:
    """PostgreSQL's FigureColname(): the default name of an unaliased result column."""
    return _figure(node)[0]


def _cast_type_name(to: exp.Expression) -> str:
    try:
        target = ty.resolve_type(to)
    except SqlError:  # a user-defined (enum) type: PostgreSQL names the column after it
        inner = to
        while isinstance(inner, exp.DataType) and inner.this == exp.DataType.Type.ARRAY and inner.expressions:
            inner = inner.expressions[0]
        kind = inner.args.get("kind")
        if isinstance(kind, exp.Dot):
            kind = kind.expression
        return kind.name if isinstance(kind, exp.Identifier) else "?column?"
    oid = target.element.oid if target.is_array and target.oid not in T.VECTORS else target.oid
    info = T.TYPES.get(oid)
    if info is not None:
        return info.name
    if isinstance(to, exp.DataType) and isinstance(to.this, exp.DataType.Type):
        return "?column?"
    name = to.name if isinstance(to, exp.DataType) else to.sql()
    return name.lower() or "?column?"


def _figure(node: exp.Expression) -> tuple[str, int]:
    """(name, strength) as FigureColnameInternal: 2 = column/function name, 1 = cast type name."""
    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Column) and not isinstance(node.this, exp.Star):
        return node.name, 2
    if isinstance(node, exp.Anonymous):
        return node.name.lower(), 2
    if isinstance(node, (exp.Window, exp.Filter, exp.WithinGroup)):
        return _figure(node.this)
    if isinstance(node, exp.Dot) and isinstance(node.expression, exp.Anonymous):
        return node.expression.name.lower(), 2
    if isinstance(node, exp.Bracket):
        return _figure(node.this)
    if isinstance(node, exp.Cast):
        inner, strength = _figure(node.this)
        if strength > 1:
            return inner, strength
        return _cast_type_name(node.args["to"]), 1
    if isinstance(node, exp.Trim):
        position = str(node.args.get("position") or "").upper()
        return {"LEADING": "ltrim", "TRAILING": "rtrim"}.get(position, "btrim"), 2
    if isinstance(node, exp.Subquery):
        inner = node.this
        if isinstance(inner, exp.Select) and inner.expressions:
            first = inner.expressions[0]
            if isinstance(first, exp.Alias):
                return first.alias, 2
            return _figure(first)
        return "?column?", 0
    if isinstance(node, exp.Interval):  # interval '1 day' is a cast: a later cast renames it
        return "interval", 1
    for cls, name in _FIGURE_NAMES.items():
        if isinstance(node, cls):
            return name, 2
    return "?column?", 0


class QueryCompiler:
    """Compiles one statement's queries; nested queries share the statement's State."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.ex = ExprCompiler(state, self)
        self._alias_counter = 0

    def fresh_alias(self, base: str) -> str:
        self._alias_counter += 1
        return f"__{base}{self._alias_counter}"

    # ------------------------------------------------------------------ resolution
    def resolve_column(self, name: str, table: str, scope: Scope) -> tuple[exp.Expression, Ty] | None:
        current: Scope | None = scope
        while current is not None:
            if table:
                if table == "excluded" and current.excluded is not None:
                    col = current.excluded.find(name)
                    if col is None:
                        raise SqlError("42703", f"column excluded.{name} does not exist")
                    return exp.Column(this=ident(name), table=ident("excluded")), col.ty
                for src in current.sources:
                    if src.alias == table:
                        col = src.find(name)
                        if col is None:
                            raise SqlError("42703", f"column {table}.{name} does not exist")
                        return self._ref(src, col)
            else:
                matches = [s for s in current.sources if s.find(name) is not None and name not in s.hidden_using]
                if len(matches) > 1:
                    raise SqlError("42702", f'column reference "{name}" is ambiguous')
                if matches:
                    src = matches[0]
                    if name in src.merged_using:
                        return src.merged_using[name]
                    col = src.find(name)
                    assert col is not None
                    return self._ref(src, col)
            current = current.parent
        if table:
            raise SqlError("42P01", f'missing FROM-clause entry for table "{table}"')
        return None

    def _ref(self, src: Source, col: SourceColumn) -> tuple[exp.Expression, Ty]:
        if src.inline is not None:
            node, t = src.inline[col.sql_name or col.name]
            return node.copy(), t
        if not src.sql_alias:  # CHECK constraints and index expressions: bare column names
            return exp.Column(this=ident(col.sql_name or col.name)), col.ty
        return exp.Column(this=ident(col.sql_name or col.name), table=ident(src.sql_alias)), col.ty

    # ------------------------------------------------------------------ queries
    def statement_query(self, node: exp.Expression) -> tuple[str, list[OutColumn]]:
        """A top-level query: timestamptz results are rendered in the session time zone."""
        out, cols = self.query(node, Scope(), wrap_tstz=True)
        return generate(out), cols

    def subquery(self, node: exp.Expression, scope: Scope,
                 rename: list[str] | None = None) -> tuple[str, list[OutColumn]]:
        out, cols = self.query(node, Scope(parent=scope), rename=rename)
        return generate(out), cols

    def query(self, node: exp.Expression, scope: Scope, rename: list[str] | None = None,
              wrap_tstz: bool = False) -> tuple[exp.Expression, list[OutColumn]]:
        while isinstance(node, exp.Subquery) and not node.alias:
            node = node.this
        with_ = node.args.get("with_") or node.args.get("with")
        if with_ is not None:
            scope = Scope(parent=scope)
            ctes = self.ctes(with_, scope)
        else:
            ctes = None
        if isinstance(node, exp.Select) and has_grouping_sets(node):
            expanded = expand_grouping_sets(node)
            if with_ is not None:
                expanded.set("with_", None)
            node = expanded
        if isinstance(node, exp.Select):
            out, cols = self.select(node, scope, rename, wrap_tstz)
        elif isinstance(node, exp.SetOperation):
            out, cols = self.set_operation(node, scope, rename, wrap_tstz)
        elif isinstance(node, exp.Values):
            out, cols = self.values(node, scope, rename)
        elif isinstance(node, exp.Subquery):
            out, cols = self.query(node.this, scope, rename, wrap_tstz)
        else:
            raise SqlError("0A000", f"{type(node).__name__} is not supported as a query")
        if ctes is not None:
            out.set("with_", ctes) if "with_" in type(out).arg_types else out.set("with", ctes)
        return out, cols

    def ctes(self, with_: exp.With, scope: Scope) -> exp.With:
        recursive = bool(with_.args.get("recursive"))
        compiled = []
        for cte in with_.expressions:
            name = cte.alias
            alias_cols = [c.name for c in cte.args["alias"].columns] if cte.args.get("alias") else []
            body = cte.this
            if not isinstance(body, (exp.Select, exp.SetOperation, exp.Values, exp.Subquery)):
                raise SqlError("0A000", "data-modifying statements in WITH are not supported")
            if recursive and isinstance(body, exp.SetOperation):
                anchor_out, anchor_cols = self.query(body.this, Scope(parent=scope), rename=alias_cols or None)
                cols = [SourceColumn(c.name, c.ty) for c in anchor_cols]
                scope.ctes[name] = (cols, True)
                out, out_cols = self.query(body, Scope(parent=scope), rename=alias_cols or None)
                del anchor_out
            else:
                out, out_cols = self.query(body, Scope(parent=scope), rename=alias_cols or None)
            scope.ctes[name] = ([SourceColumn(c.name, c.ty) for c in out_cols], True)
            compiled.append(exp.CTE(this=out, alias=exp.TableAlias(this=ident(name))))
        return exp.With(expressions=compiled, recursive=recursive)

    def values(self, node: exp.Values, scope: Scope,
               rename: list[str] | None = None) -> tuple[exp.Expression, list[OutColumn]]:
        rows = [list(t.expressions) if isinstance(t, exp.Tuple) else [t] for t in node.expressions]
        width = len(rows[0])
        if any(len(r) != width for r in rows):
            raise SqlError("42601", "VALUES lists must all be the same length")
        compiled = [[self.ex.compile(v, scope) for v in row] for row in rows]
        types = []
        for i in range(width):
            t = ty.UNKNOWN
            for row, source in zip(compiled, rows, strict=True):
                # NULL and untyped string literals take the type of the others
                if not isinstance(source[i], exp.Null) and not (
                        isinstance(source[i], exp.Literal) and source[i].is_string):
                    t = ty.common_type(t, row[i][1])
            types.append(t if t.oid != T.UNKNOWN else ty.TEXT)
        names = rename or [f"column{i + 1}" for i in range(width)]
        out_rows = []
        for row in compiled:
            out_rows.append(exp.Tuple(expressions=[self.ex.coerce(v, t, types[i]) for i, (v, t) in enumerate(row)]))
        inner = exp.Values(expressions=out_rows)
        select = exp.Select(expressions=[
            exp.Alias(this=exp.Column(this=exp.Identifier(this=f"column{i + 1}", quoted=True)),
                      alias=ident(names[i]))
            for i in range(width)
        ]).from_(exp.Subquery(this=inner))
        return select, [OutColumn(names[i], types[i]) for i in range(width)]

    def set_operation(self, node: exp.SetOperation, scope: Scope, rename: list[str] | None,
                      wrap_tstz: bool) -> tuple[exp.Expression, list[OutColumn]]:
        left, lcols = self.query(node.this, Scope(parent=scope), rename, wrap_tstz)
        right, rcols = self.query(node.expression, Scope(parent=scope), None, wrap_tstz)
        if len(lcols) != len(rcols):
            kind = {exp.Union: "UNION", exp.Intersect: "INTERSECT", exp.Except: "EXCEPT"}.get(type(node), "UNION")
            raise SqlError("42601", f"each {kind} query must have the same number of columns")
        cols = [
            OutColumn(lc.name, ty.common_type(lc.ty, rc.ty) if lc.ty.oid != T.UNKNOWN else rc.ty)
            for lc, rc in zip(lcols, rcols, strict=True)
        ]
        for branch, branch_cols in ((left, lcols), (right, rcols)):
            self._coerce_branch(branch, branch_cols, cols)
        if isinstance(node, (exp.Intersect, exp.Except)) and node.args.get("distinct") is False:
            out: exp.Expression = _multiset_operation(node, left, right, cols)
        else:
            out = type(node)(this=_unwrap_for_setop(left), expression=_unwrap_for_setop(right),
                             distinct=node.args.get("distinct"))
        order = node.args.get("order")
        if order is not None and self._orders_by_enum(order, cols):
            # SQLite orders a compound SELECT only by its result columns: sort an enum column by its
            # labels' order from an enclosing SELECT instead
            wrapper = exp.Select(expressions=[exp.Star()])
            wrapper.set("from_", exp.From(this=exp.Subquery(
                this=out, alias=exp.TableAlias(this=exp.to_identifier(self.fresh_alias("setop"))))))
            out_scope = Scope(parent=scope, outputs={c.name: c.ty for c in cols},
                              output_types=[c.ty for c in cols])
            wrapper.set("order", exp.Order(expressions=self.order_by(order, out_scope, out_cols=cols)))
            self.limit_offset(node, wrapper, scope)
            return wrapper, cols
        if order is not None:
            out_scope = Scope(parent=scope, outputs={c.name: c.ty for c in cols},
                              output_types=[c.ty for c in cols])
            out.set("order", exp.Order(expressions=self.order_by(order, out_scope, outputs_only=True)))
        self.limit_offset(node, out, scope)
        return out, cols

    def _orders_by_enum(self, order: exp.Order, cols: list[OutColumn]) -> bool:
        """Whether an ORDER BY item of a set operation names or numbers an enum result column."""
        by_name = {c.name: c.ty for c in cols}
        for ordered in order.expressions:
            target = ordered.this if isinstance(ordered, exp.Ordered) else ordered
            t: Ty | None = None
            if isinstance(target, exp.Literal) and not target.is_string and target.this.isdigit():
                position = int(target.this)
                t = cols[position - 1].ty if 1 <= position <= len(cols) else None
            elif isinstance(target, exp.Column) and not target.table:
                t = by_name.get(target.name)
            if t is not None and self.state.catalog.enum_by_oid(t.oid) is not None:
                return True
        return False

    def _coerce_branch(self, branch: exp.Expression, branch_cols: list[OutColumn], cols: list[OutColumn]) -> None:
        """Give a set operation's branch the result column types (UNION of int and numeric is
        numeric: its values must be numeric text, or SQLite orders integers before all text)."""
        if not isinstance(branch, exp.Select):
            return
        items = list(branch.expressions)
        if len(items) != len(cols):
            return
        changed = False
        for i, (item, have, want) in enumerate(zip(items, branch_cols, cols, strict=True)):
            if have.ty.oid == want.ty.oid or want.ty.oid != T.NUMERIC or have.ty.oid not in ty.INTS:
                continue
            value = item.this if isinstance(item, exp.Alias) else item
            coerced = self.ex.coerce(value, have.ty, want.ty)
            if coerced is value:
                coerced = exp.Cast(this=value, to=exp.DataType.build("TEXT"))
            items[i] = exp.Alias(this=coerced, alias=item.args["alias"]) if isinstance(item, exp.Alias) else coerced
            changed = True
        if changed:
            branch.set("expressions", items)

    def select(self, node: exp.Select, parent: Scope, rename: list[str] | None,
               wrap_tstz: bool) -> tuple[exp.Expression, list[OutColumn]]:
        scope = Scope(parent=parent)
        out = exp.Select()
        node = _inline_named_windows(node)
        from_ = node.args.get("from_") or node.args.get("from")
        joins = list(node.args.get("joins") or [])
        if from_ is not None:
            out_from, out_joins = self.from_clause(from_.this, joins, scope)
            if out_from is not None:
                out.set("from_", exp.From(this=out_from))
            if out_joins:
                out.set("joins", out_joins)
        elif joins:
            raise SqlError("42601", "JOIN without FROM")
        where = node.args.get("where")
        if where is not None:
            out.set("where", exp.Where(this=self.ex.condition(where.this, scope)))
        # select list
        expressions: list[exp.Expression] = []
        cols: list[OutColumn] = []
        scope.srfs = []
        for item in node.expressions:
            for compiled, col in self.select_item(item, scope):
                expressions.append(compiled)
                cols.append(col)
        srfs, scope.srfs = scope.srfs, None
        if srfs:
            self.join_srfs(node, out, srfs)
        if rename:
            if len(rename) > len(cols):
                raise SqlError("42P10", f"table has {len(cols)} columns available but {len(rename)} columns specified")
            for i, name in enumerate(rename):
                cols[i] = OutColumn(name, cols[i].ty, cols[i].table_oid, cols[i].attnum)
        final_exprs = []
        for compiled, col in zip(expressions, cols, strict=True):
            if col.ty.oid == T.UNKNOWN:
                col.ty = ty.TEXT
            value = compiled
            if wrap_tstz and col.ty.oid == T.TIMESTAMPTZ:
                value = fn("pg_tstz_out", value)
            elif wrap_tstz and col.ty.oid == T.REGCLASS:  # regclassout prints the relation name
                value = fn("pg_regclass_out", value)
            final_exprs.append(exp.Alias(this=value, alias=ident(col.name)))
        out.set("expressions", final_exprs)
        scope.outputs = {c.name: c.ty for c in cols}
        scope.output_types = [c.ty for c in cols]
        seen: dict[str, str] = {}
        ambiguous = set()
        for compiled, col in zip(expressions, cols, strict=True):
            text = generate(compiled)
            if seen.setdefault(col.name, text) != text:
                ambiguous.add(col.name)
        scope.ambiguous_outputs = frozenset(ambiguous)
        distinct = node.args.get("distinct")
        distinct_on: list[exp.Expression] = []
        if distinct is not None:
            on = distinct.args.get("on")
            if on is not None:
                distinct_on = list(on.expressions if isinstance(on, exp.Tuple) else [on])
            else:
                out.set("distinct", exp.Distinct())
        check_grouping(node, scope)  # 42803
        group = node.args.get("group")
        if group is not None:
            out.set("group", exp.Group(expressions=[self.group_item(g, scope, node) for g in group.expressions]))
        having = node.args.get("having")
        if having is not None:
            out.set("having", exp.Having(this=self.ex.condition(having.this, scope)))
            items = out.expressions
            if group is None and items:
                # HAVING alone makes one group of all rows in PostgreSQL; SQLite wants an aggregate
                # in the result to see an aggregate query, so the first item gets a no-op one.
                first = items[0]
                value = first.this if isinstance(first, exp.Alias) else first
                wrapped = fn("coalesce", value, fn("max", exp.Null()))
                items[0] = exp.Alias(this=wrapped, alias=first.args["alias"]) if isinstance(first, exp.Alias) \
                    else wrapped
                out.set("expressions", items)
        order = node.args.get("order")
        if order is not None:
            out.set("order", exp.Order(expressions=self.order_by(order, scope, out_cols=cols)))
        self.limit_offset(node, out, scope)
        if node.args.get("locks"):
            self.state.is_write = True  # FOR UPDATE/SHARE: take the writer, our only lock
            self.state.write_command = self.state.write_command or _lock_command(node.args["locks"])
        if distinct_on:
            return self.distinct_on(out, expressions, distinct_on, order, scope), cols
        return out, cols

    def join_srfs(self, node: exp.Select, out: exp.Select, srfs: list[Srf]) -> None:
        """Set-returning functions of a SELECT list, evaluated per row of FROM/WHERE.

        Each call is a json_each() of its rows joined to the row; several calls run in lockstep
        as in PostgreSQL (the row repeats as often as the longest, the shorter ones give NULL)."""
        if node.args.get("group") or node.args.get("having") or any(
                has_aggregate(e) or e.find(exp.Window) for e in node.expressions):
            raise SqlError("0A000", "set-returning functions in the SELECT list of a grouped query are not supported")
        items: list[exp.Expression]
        if len(srfs) == 1:
            items = [exp.Table(this=fn("json_each", srfs[0].array), alias=exp.TableAlias(this=ident(srfs[0].alias)))]
        else:
            rows = self.fresh_alias("srf_rows")
            longest = fn("max", *(fn("coalesce", fn("json_array_length", s.array.copy()), lit_int(0)) for s in srfs))
            items = [exp.Table(this=fn("json_each", fn("pg_series_json", lit_int(0), exp.Sub(
                this=longest, expression=lit_int(1)))), alias=exp.TableAlias(this=ident(rows)))]
            for srf in srfs:
                items.append(exp.Join(
                    this=exp.Table(this=fn("json_each", srf.array), alias=exp.TableAlias(this=ident(srf.alias))),
                    side="LEFT",
                    on=exp.EQ(this=exp.column("key", table=srf.alias), expression=exp.column("value", table=rows))))
        first, *rest = items
        joins = list(out.args.get("joins") or [])
        if out.args.get("from_") is None:
            out.set("from_", exp.From(this=first))
        else:
            joins.append(exp.Join(this=first))
        joins.extend(rest)
        out.set("joins", joins)

    def distinct_on(self, out: exp.Select, exprs: list[exp.Expression], on: list[exp.Expression],
                    order: exp.Order | None, scope: Scope) -> exp.Expression:
        """SELECT DISTINCT ON (keys) ... ORDER BY ...: the first row of each key group in ORDER BY
        order, as ROW_NUMBER() OVER (PARTITION BY keys ORDER BY ...) = 1 in a subquery."""
        names = [e.alias for e in out.expressions]

        def resolve(e: exp.Expression) -> exp.Expression:
            # like ORDER BY, DISTINCT ON may name an output column by position or by name
            if isinstance(e, exp.Literal) and not e.is_string and e.this.isdigit():
                index = int(e.this) - 1
                if not 0 <= index < len(exprs):
                    raise SqlError("42P10", f"SELECT DISTINCT ON position {e.this} is not in select list")
                return exprs[index].copy()
            if isinstance(e, exp.Column) and not e.table and e.name in names:
                return exprs[names.index(e.name)].copy()
            return self.ex.compile(e, scope)[0]

        keys: list[tuple[exp.Expression, bool, bool]] = []
        for item in order.expressions if order is not None else []:
            target = item.this if isinstance(item, exp.Ordered) else item
            desc = bool(item.args.get("desc")) if isinstance(item, exp.Ordered) else False
            nulls_first = item.args.get("nulls_first") if isinstance(item, exp.Ordered) else None
            keys.append((resolve(target), desc, desc if nulls_first is None else bool(nulls_first)))

        def ordered(e: exp.Expression, desc: bool, nulls_first: bool) -> exp.Expression:
            return raw(f"{generate(e)}{' DESC' if desc else ''} NULLS {'FIRST' if nulls_first else 'LAST'}")

        window = exp.Window(
            this=exp.Anonymous(this="ROW_NUMBER"),
            partition_by=[resolve(e) for e in on],
            order=exp.Order(expressions=[ordered(*k) for k in keys]) if keys else None,
        )
        inner = out.copy()
        for key in ("order", "limit", "offset"):
            inner.set(key, None)
        inner_exprs = [exp.Alias(this=e.this, alias=ident(f"__strata_c{i}")) for i, e in enumerate(out.expressions)]
        inner_exprs.append(exp.Alias(this=window, alias=ident("__strata_rn")))
        for i, (e, _, _) in enumerate(keys):
            inner_exprs.append(exp.Alias(this=e, alias=ident(f"__strata_o{i}")))
        inner.set("expressions", inner_exprs)
        sub = self.fresh_alias("distinct_on")
        outer = exp.Select(
            expressions=[exp.Alias(this=exp.column(f"__strata_c{i}", table=sub), alias=ident(name))
                         for i, name in enumerate(names)],
        ).from_(exp.Subquery(this=inner, alias=exp.TableAlias(this=ident(sub))))
        outer = outer.where(exp.EQ(this=exp.column("__strata_rn", table=sub), expression=lit_int(1)))
        if keys:
            outer.set("order", exp.Order(expressions=[
                ordered(exp.column(f"__strata_o{i}", table=sub), desc, nulls_first)
                for i, (_, desc, nulls_first) in enumerate(keys)]))
        for key in ("limit", "offset"):
            if out.args.get(key) is not None:
                outer.set(key, out.args[key])
        return outer

    def limit_offset(self, node: exp.Expression, out: exp.Expression, scope: Scope) -> None:
        limit = node.args.get("limit")
        if isinstance(limit, exp.Fetch):
            count = limit.args.get("count")
            if count is not None:
                out.set("limit", exp.Limit(expression=self.ex.typed(count, scope, ty.INT8)))
        elif limit is not None:
            expr = limit.expression
            if isinstance(expr, exp.Var) and expr.name.upper() == "ALL" or isinstance(expr, exp.Null):
                out.set("limit", exp.Limit(expression=exp.Literal.number(-1)))
            else:
                out.set("limit", exp.Limit(expression=self._non_negative(expr, scope, "LIMIT")))
        offset = node.args.get("offset")
        if offset is not None:
            if out.args.get("limit") is None:
                out.set("limit", exp.Limit(expression=exp.Literal.number(-1)))
            out.set("offset", exp.Offset(expression=self._non_negative(offset.expression, scope, "OFFSET")))

    def _non_negative(self, expr: exp.Expression, scope: Scope, what: str) -> exp.Expression:
        """LIMIT/OFFSET value: 2201W when negative (literals at translation time, else at run time)."""
        compiled = self.ex.typed(expr, scope, ty.INT8)
        value = E._int_literal(compiled)
        if value is not None:
            if value < 0:
                raise SqlError("2201W" if what == "LIMIT" else "2201X", f"{what} must not be negative")
            return compiled
        return fn("pg_check_limit", compiled, exp.Literal.string(what))

    def select_item(self, item: exp.Expression, scope: Scope) -> list[tuple[exp.Expression, OutColumn]]:
        if isinstance(item, exp.Star):
            return self.expand_star(None, scope)
        if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
            return self.expand_star(item.table, scope)
        if isinstance(item, exp.Alias):
            name = item.alias
            inner = item.this
        else:
            name = figure_colname(item)
            inner = item
        compiled, t = self.ex.compile(inner, scope)
        table_oid = attnum = 0
        bare = inner
        if isinstance(bare, exp.Column) and not isinstance(bare.this, exp.Star):
            table_oid, attnum = self.column_origin(bare.name, bare.table, scope)
        return [(compiled, OutColumn(name, t, table_oid, attnum))]

    def column_origin(self, name: str, table: str, scope: Scope) -> tuple[int, int]:
        for src in scope.sources:
            if (not table or src.alias == table) and src.inline is None:
                col = src.find(name)
                if col is not None:
                    return col.table_oid, col.attnum
        return 0, 0

    def expand_star(self, table: str | None, scope: Scope) -> list[tuple[exp.Expression, OutColumn]]:
        sources = [s for s in scope.sources if table is None or s.alias == table]
        if table is not None and not sources:
            raise SqlError("42P01", f'missing FROM-clause entry for table "{table}"')
        if table is None and not scope.sources:
            raise SqlError("42601", "SELECT * with no tables specified is not valid")
        out = []
        pairs = [(src, col) for src in sources for col in src.columns]
        if table is None and scope.star_order is not None:
            ordered = {(id(s), c.name) for s, c in scope.star_order}
            pairs = scope.star_order + [(s, c) for s, c in pairs if (id(s), c.name) not in ordered]
        for src, col in pairs:
            if table is None and col.name in src.hidden_using:
                continue
            node, t = self._ref(src, col)
            if table is None and col.name in src.merged_using:
                node, t = src.merged_using[col.name]
            out.append((node, OutColumn(col.name, t, col.table_oid, col.attnum)))
        return out

    def group_item(self, item: exp.Expression, scope: Scope, select: exp.Select) -> exp.Expression:
        if isinstance(item, exp.Literal) and not item.is_string:
            return exp.Literal.number(int(item.this))
        if isinstance(item, exp.Column) and not item.table:
            if self.resolve_column(item.name, "", scope) is None and item.name in scope.outputs:
                return raw(quote(item.name))
        return self.ex.compile(item, scope)[0]

    def order_by(self, order: exp.Order, scope: Scope, outputs_only: bool = False,
                 out_cols: list[OutColumn] | None = None) -> list[exp.Expression]:
        """ORDER BY items. Enum values sort by their labels' order (not for UNION results);
        numerics are decimal text, so computed ones (sum, a * 2) get the pgnumeric collation."""
        items = []
        for ordered in order.expressions:
            target = ordered.this if isinstance(ordered, exp.Ordered) else ordered
            compiled: exp.Expression
            item_type: Ty | None = None
            if isinstance(target, exp.Literal) and not target.is_string:
                compiled = exp.Literal.number(int(target.this))
                position = int(target.this)
                if 1 <= position <= len(scope.output_types):
                    item_type = scope.output_types[position - 1]
                if out_cols and 1 <= position <= len(out_cols) and not outputs_only:
                    col = out_cols[position - 1]
                    if self.state.catalog.enum_by_oid(col.ty.oid) is not None or col.ty.oid == T.TIMETZ:
                        compiled = self.ex.sort_key(raw(quote(col.name)), col.ty)
            elif isinstance(target, exp.Column) and not target.table and target.name in scope.outputs:
                if target.name in scope.ambiguous_outputs:
                    raise SqlError("42702", f'ORDER BY "{target.name}" is ambiguous')
                compiled = raw(quote(target.name))
                item_type = scope.outputs[target.name]
                if not outputs_only:
                    compiled = self.ex.sort_key(compiled, item_type)
            elif outputs_only:
                if isinstance(target, exp.Column):
                    raise SqlError("42703", f'column "{target.name}" does not exist')
                raise SqlError("0A000", "ORDER BY on a UNION result must name or number a result column")
            else:
                compiled, item_type = self.ex.compile(target, scope)
                compiled = self.ex.sort_key(compiled, item_type)
            if item_type is not None and item_type.oid == T.NUMERIC and not isinstance(compiled, exp.Column):
                compiled = raw(f"{generate(compiled)} COLLATE pgnumeric")
            desc = bool(ordered.args.get("desc")) if isinstance(ordered, exp.Ordered) else False
            nulls_first = ordered.args.get("nulls_first") if isinstance(ordered, exp.Ordered) else None
            if nulls_first is None:
                nulls_first = desc  # PostgreSQL: NULLs sort as the largest values
            suffix = " DESC" if desc else ""
            suffix += " NULLS FIRST" if nulls_first else " NULLS LAST"
            items.append(raw(f"{generate(compiled)}{suffix}"))
        return items

    # ------------------------------------------------------------------ FROM clause
    def from_clause(self, first: exp.Expression, joins: list[exp.Expression],
                    scope: Scope) -> tuple[exp.Expression | None, list[exp.Expression]]:
        items: list[exp.Expression] = []
        if isinstance(first, exp.Lateral):
            raise SqlError("0A000", "LATERAL as the first FROM item is not supported")
        out_first = self.from_item(first, scope)
        out_joins: list[exp.Expression] = []
        for join in joins:
            if not isinstance(join, exp.Join):
                raise SqlError("0A000", f"{type(join).__name__} in FROM is not supported")
            target = join.this
            lateral_fn = isinstance(target, exp.Lateral) and isinstance(target.this, (exp.Unnest, exp.Anonymous))
            lateral_sub = not lateral_fn and (
                isinstance(target, exp.Lateral) or (isinstance(target, exp.Subquery) and target.args.get("lateral")))
            if lateral_sub and self.lateral(target, scope):
                continue
            if lateral_sub:
                compiled = self.lateral_subquery(target, scope)
            elif lateral_fn:
                compiled = self.lateral_function(target, scope)
            else:
                compiled = self.from_item(target, scope)
            new_join = exp.Join(this=compiled)
            for key in ("side", "kind"):
                if join.args.get(key):
                    new_join.set(key, join.args[key])
            natural = str(join.args.get("method") or "").upper() == "NATURAL"
            if join.args.get("method") and not natural:
                new_join.set("method", join.args["method"])
            on = join.args.get("on")
            using = join.args.get("using")
            if on is not None:
                new_join.set("on", self.ex.condition(on, scope))
            elif using or natural:
                right = scope.sources[-1]
                left_sources = scope.sources[:-1]
                if natural:  # the column names the two sides have in common, in the left's order
                    names = [c.name for s in left_sources for c in s.columns
                             if c.name not in s.hidden_using and right.find(c.name) is not None]
                else:
                    names = [u.name for u in using or []]
                conds = []
                side = str(join.args.get("side") or "").upper()
                for name in names:
                    left_src = next((s for s in left_sources
                                     if s.find(name) is not None and name not in s.hidden_using), None)
                    if left_src is None or right.find(name) is None:
                        raise SqlError("42703", f'column "{name}" specified in USING clause does not exist in left table')
                    lref, lt = self.resolve_column(name, "", Scope(sources=[left_src])) or \
                        self._ref(left_src, left_src.find(name))  # type: ignore[arg-type]
                    rref, rt = self._ref(right, right.find(name))  # type: ignore[arg-type]
                    conds.append(self.ex.comparison("=", lref, lt, rref, rt))
                    if side == "FULL":  # the merged column is COALESCE(left, right)
                        merged = ty.common_type(lt, rt)
                        left_src.merged_using[name] = (fn("coalesce", self.ex.coerce(lref, lt, merged),
                                                          self.ex.coerce(rref, rt, merged)), merged)
                    elif side == "RIGHT":
                        left_src.merged_using[name] = (rref, rt)
                right.hidden_using.update(names)
                # SELECT * of a USING join: the join columns, then the left's others, then the right's
                base = scope.star_order if scope.star_order is not None else [
                    (s, c) for s in left_sources for c in s.columns]
                joined = [p for name in names for p in base if p[1].name == name and name not in p[0].hidden_using]
                taken = {(id(s), c.name) for s, c in joined}
                scope.star_order = joined + [p for p in base if (id(p[0]), p[1].name) not in taken] + [
                    (right, c) for c in right.columns]
                cond: exp.Expression = exp.true()
                for i, extra in enumerate(conds):
                    cond = extra if i == 0 else exp.And(this=cond, expression=extra)
                new_join.set("on", cond)
            out_joins.append(new_join)
        del items
        seen: set[str] = set()
        for src in scope.sources:  # FROM t, t / two unaliased generate_series(): 42712
            if src.alias in seen:
                raise SqlError("42712", f'table name "{src.alias}" specified more than once')
            seen.add(src.alias)
        return out_first, out_joins

    def lateral_function(self, node: exp.Expression, scope: Scope) -> exp.Expression:
        """LATERAL unnest(...) / generate_series(...): a correlated json_each() table."""
        call = node.this
        alias_node = node.args.get("alias")
        alias = alias_node.name if alias_node is not None and alias_node.name else None
        col_aliases = [c.name for c in alias_node.columns] if alias_node is not None and alias_node.columns else []
        if isinstance(call, exp.Unnest):
            return self.srf_source("unnest", call.expressions, alias, col_aliases, _ordinality(call, []), scope)
        assert isinstance(call, exp.Anonymous)
        name = call.name.lower()
        if name not in E.SET_RETURNING:
            raise SqlError("0A000", f"LATERAL {name}() is not supported")
        return self.srf_source(name, call.expressions, alias, col_aliases, _ordinality(node, col_aliases), scope)

    def lateral_subquery(self, node: exp.Expression, scope: Scope) -> exp.Expression:
        """[LEFT] JOIN LATERAL (any SELECT) AS x: SQLite has no LATERAL, but a table-valued
        function may read the columns of the tables to its left. So the subquery (correlated to
        those tables) is folded into a JSON array of its rows and read back with json_each()."""
        sub = node.this if isinstance(node, exp.Lateral) else node
        alias_node = node.args.get("alias")
        if isinstance(sub, exp.Subquery):
            alias_node = alias_node or sub.args.get("alias")
            sub = sub.this
        alias = alias_node.name if alias_node is not None and alias_node.name else self.fresh_alias("lateral")
        col_aliases = [c.name for c in alias_node.columns] if alias_node is not None and alias_node.columns else []
        _, probe = self.subquery(sub, scope, rename=col_aliases or None)
        positional = [f"__l{i + 1}" for i in range(len(probe))]
        sql, _ = self.subquery(sub, scope, rename=positional)
        rows = (f"(SELECT json_group_array(json_array({', '.join(positional)})) "
                f"FROM ({sql}) AS {quote(self.fresh_alias('rows'))})")
        inline: dict[str, tuple[exp.Expression, Ty]] = {}
        columns = []
        for i, col in enumerate(probe):
            t = col.ty if col.ty.oid != T.UNKNOWN else ty.TEXT
            inline[col.name] = (fn("json_extract", exp.column("value", table=alias),
                                   exp.Literal.string(f"$[{i}]")), t)
            columns.append(SourceColumn(col.name, t))
        scope.sources.append(Source(alias, alias, columns, inline=inline))
        return exp.Table(this=fn("json_each", raw(rows)), alias=exp.TableAlias(this=ident(alias)))

    def lateral(self, node: exp.Expression, scope: Scope) -> bool:
        """CROSS JOIN LATERAL (SELECT exprs) AS o(cols): one row, so inline the expressions.
        False when the subquery is not that simple (see lateral_subquery)."""
        sub = node.this if isinstance(node, exp.Lateral) else node
        alias_node = node.args.get("alias")
        if isinstance(sub, exp.Subquery):
            alias_node = alias_node or sub.args.get("alias")
            sub = sub.this
        simple = (
            isinstance(sub, exp.Select)
            and not sub.args.get("from_")
            and not sub.args.get("from")
            and not any(sub.args.get(k) for k in ("where", "group", "having", "joins", "limit", "order"))
        )
        if not simple:
            return False
        assert isinstance(sub, exp.Select)
        alias = alias_node.name if alias_node is not None else "unnamed_subquery"
        col_names = [c.name for c in alias_node.columns] if alias_node is not None else []
        inline: dict[str, tuple[exp.Expression, Ty]] = {}
        columns = []
        for i, item in enumerate(sub.expressions):
            inner = item.this if isinstance(item, exp.Alias) else item
            name = col_names[i] if i < len(col_names) else (item.alias if isinstance(item, exp.Alias) else figure_colname(item))
            compiled, t = self.ex.compile(inner, scope)
            if t.oid == T.UNKNOWN:
                t = ty.TEXT
            inline[name] = (exp.Paren(this=compiled), t)
            columns.append(SourceColumn(name, t))
        scope.sources.append(Source(alias, alias, columns, inline=inline))
        return True

    def from_item(self, node: exp.Expression, scope: Scope) -> exp.Expression:
        alias_node = node.args.get("alias")
        alias = alias_node.name if alias_node is not None else None
        col_aliases = [c.name for c in alias_node.columns] if alias_node is not None and alias_node.columns else []
        if isinstance(node, exp.Table):
            inner = node.this
            if isinstance(inner, exp.Anonymous):
                ordinality = _ordinality(node, col_aliases) if node.args.get("ordinality") else None
                return self.table_function(inner, alias, col_aliases, scope, ordinality)
            return self.table_ref(node, alias, col_aliases, scope)
        if isinstance(node, exp.Subquery):
            if alias is None:
                alias = self.fresh_alias("subquery")
            sql, cols = self.subquery(node.this, scope, rename=col_aliases or None)
            scope.sources.append(Source(alias, alias, [SourceColumn(c.name, c.ty) for c in cols]))
            return exp.Subquery(this=raw(sql), alias=exp.TableAlias(this=ident(alias)))
        if isinstance(node, exp.Values):
            alias = alias or self.fresh_alias("values")
            out, cols = self.values(node, Scope(parent=scope), rename=col_aliases or None)
            scope.sources.append(Source(alias, alias, [SourceColumn(c.name, c.ty) for c in cols]))
            return exp.Subquery(this=out, alias=exp.TableAlias(this=ident(alias)))
        if isinstance(node, exp.Unnest):
            return self.srf_source("unnest", node.expressions, alias, col_aliases, _ordinality(node, []), scope)
        raise SqlError("0A000", f"{type(node).__name__} in FROM is not supported")

    def table_ref(self, node: exp.Table, alias: str | None, col_aliases: list[str],
                  scope: Scope) -> exp.Expression:
        name = node.name
        schema = node.db
        if node.catalog:
            raise SqlError("0A000", "cross-database references are not implemented")
        if schema and schema not in ("public", "pg_catalog", "information_schema"):
            raise SqlError("3F000", f'schema "{schema}" does not exist')
        cte_cols = scope.cte(name) if not schema else None
        if cte_cols is not None:
            visible = alias or name
            cols = [SourceColumn(c.name, c.ty) for c in cte_cols]
            for i, new in enumerate(col_aliases):
                cols[i] = SourceColumn(new, cols[i].ty, sql_name=cols[i].sql_name or cols[i].name)
            scope.sources.append(Source(visible, visible, cols))
            return exp.Table(this=ident(name), alias=exp.TableAlias(this=ident(visible)))
        table = self.state.catalog.table(name)
        if table is None:
            raise SqlError("42P01", f'relation "{name}" does not exist')
        if name == "pg_stat_replication" and name not in self.state.catalog.tables:
            self.state.off_loop = True  # asks the node for its replicas (may do I/O)
        visible = alias or name
        cols = [SourceColumn(c.name, Ty(c.type_oid, c.typmod), table.oid, c.attnum) for c in table.columns]
        for i, new in enumerate(col_aliases):
            if i < len(cols):
                cols[i] = SourceColumn(new, cols[i].ty, cols[i].table_oid, cols[i].attnum, cols[i].sql_name or cols[i].name)
        scope.sources.append(Source(visible, visible, cols, table=table))
        return exp.Table(this=ident(table.storage_name), alias=exp.TableAlias(this=ident(visible)))

    def table_function(self, call: exp.Anonymous, alias: str | None, col_aliases: list[str],
                       scope: Scope, ordinality: str | None = None) -> exp.Expression:
        name = call.name.lower()
        if ordinality is not None or name in ("generate_subscripts", "regexp_matches") or name in E.JSON_SRFS:
            if name not in E.SET_RETURNING:
                raise SqlError("0A000", f"{name}() WITH ORDINALITY is not supported")
            return self.srf_source(name, call.expressions, alias, col_aliases, ordinality, scope)
        if name == "generate_series":
            args = [self.ex.compile(a, scope) for a in call.expressions]
            if len(args) not in (2, 3):
                raise SqlError("42883", "function generate_series with these arguments does not exist")
            kinds = {t.oid for _, t in args}
            if kinds - {*ty.INTS, T.UNKNOWN}:  # timestamps, numerics: the JSON-array form
                return self.srf_source(name, call.expressions, alias, col_aliases, None, scope)
            result = ty.INT8 if T.INT8 in kinds else ty.INT4
            start, stop = (self.ex.coerce(a, t, result) for a, t in args[:2])
            step = self.ex.coerce(args[2][0], args[2][1], result) if len(args) == 3 else lit_int(1)
            visible = alias or "generate_series"
            col = col_aliases[0] if col_aliases else visible
            cte = self.fresh_alias("gs")
            s, e, st = generate(start), generate(stop), generate(step)
            sql = (
                f"WITH RECURSIVE {cte}(v) AS (SELECT {s} WHERE ({st}) <> 0 UNION ALL SELECT v + ({st}) FROM {cte} "
                f"WHERE (({st}) > 0 AND v + ({st}) <= ({e})) OR (({st}) < 0 AND v + ({st}) >= ({e}))) "
                f"SELECT v AS {quote(col)} FROM {cte} WHERE (({st}) > 0 AND v <= ({e})) OR (({st}) < 0 AND v >= ({e}))"
            )
            scope.sources.append(Source(visible, visible, [SourceColumn(col, result)]))
            return exp.Subquery(this=raw(sql), alias=exp.TableAlias(this=ident(visible)))
        if name == "unnest":
            return self.srf_source(name, call.expressions, alias, col_aliases, None, scope)
        if name in ("json_each", "jsonb_each", "json_each_text", "jsonb_each_text"):
            doc = self.ex.typed(call.expressions[0], scope, Ty(T.JSONB))
            visible = alias or name
            value_t = Ty(T.TEXT) if name.endswith("text") else Ty(T.JSONB if "jsonb" in name else T.JSON)
            key_col = col_aliases[0] if col_aliases else "key"
            val_col = col_aliases[1] if len(col_aliases) > 1 else "value"
            value_sql = "value" if name.endswith("text") else "json_quote(value)"
            sql = f"SELECT key AS {quote(key_col)}, {value_sql} AS {quote(val_col)} FROM json_each({generate(doc)})"
            scope.sources.append(Source(visible, visible, [SourceColumn(key_col, ty.TEXT), SourceColumn(val_col, value_t)]))
            return exp.Subquery(this=raw(sql), alias=exp.TableAlias(this=ident(visible)))
        raise SqlError("0A000", f"function {name}() in FROM is not supported")

    def srf_source(self, name: str, call_args: list[exp.Expression], alias: str | None, col_aliases: list[str],
                   ordinality: str | None, scope: Scope) -> exp.Expression:
        """unnest() / generate_series() / generate_subscripts() in FROM, maybe WITH ORDINALITY:
        a json_each() of the rows (the ordinality column is its key + 1)."""
        if name == "unnest" and len(call_args) > 1:
            return self.unnest_several(call_args, alias, col_aliases, ordinality, scope)
        compiled = [self.ex.compile(a, scope) for a in call_args]
        array, row_type = E.srf_array(self.ex, name, [a for a, _ in compiled], [t for _, t in compiled])
        visible = alias or name
        # an alias names the column of a scalar-returning function, not an OUT column ("value")
        out_column = E.JSON_SRFS[name][1] if name in E.JSON_SRFS and E.JSON_SRFS[name][1] == "value" else None
        col = col_aliases[0] if col_aliases else (out_column or (alias or name))
        element = E.stored_element(visible, row_type) if name == "unnest" else None
        if ordinality is None and element is None:
            scope.sources.append(Source(visible, visible, [SourceColumn(col, row_type, sql_name="value")]))
        else:
            inline = {col: (element or exp.column("value", table=visible), row_type)}
            if ordinality is not None:
                inline[ordinality] = (exp.Paren(this=exp.Add(this=exp.column("key", table=visible),
                                                             expression=lit_int(1))), ty.INT8)
            scope.sources.append(Source(visible, visible, [SourceColumn(n, t) for n, (_, t) in inline.items()],
                                        inline=inline))
        return exp.Table(this=fn("json_each", array), alias=exp.TableAlias(this=ident(visible)))

    def unnest_several(self, args: list[exp.Expression], alias: str | None, col_aliases: list[str],
                       ordinality: str | None, scope: Scope) -> exp.Expression:
        """unnest(a, b, ...) in FROM (Django's bulk_create and index introspection): the arrays
        zipped into one JSON array of rows, shorter ones padded with NULL, as PostgreSQL does."""
        arrays: list[tuple[exp.Expression, Ty]] = []
        for arg in args:
            arr, at = self.ex.compile(arg, scope)
            if at.oid == T.UNKNOWN:
                arr, at = self.ex.coerce(arr, at, Ty(T.TEXT_ARRAY)), Ty(T.TEXT_ARRAY)
            if not at.is_array:
                raise SqlError("42883", f"function unnest({T.format_type(at.oid)}) does not exist")
            arrays.append((arr, at))
        visible = alias or "unnest"
        sql_alias = self.fresh_alias("unnest") if alias is None else visible
        names = list(col_aliases) + ["unnest"] * (len(arrays) - len(col_aliases))
        cols = [(names[i], at.element, f"json_extract({quote(sql_alias)}.value, '$[{i}]')")
                for i, (_, at) in enumerate(arrays)]
        if ordinality is not None:
            cols.append((ordinality, ty.INT8, f"({quote(sql_alias)}.key + 1)"))
        # inline keys are per position: several columns may share a name ("unnest")
        inline = {f"{i}": (raw(sql), t) for i, (_, t, sql) in enumerate(cols)}
        columns = [SourceColumn(n, t, sql_name=f"{i}") for i, (n, t, _) in enumerate(cols)]
        scope.sources.append(Source(visible, sql_alias, columns, inline=inline))
        source = fn("json_each", fn("pg_unnest_zip", *[a for a, _ in arrays]))
        return exp.Table(this=source, alias=exp.TableAlias(this=ident(sql_alias)))

    # ------------------------------------------------------------------ DML
    def target_table(self, node: exp.Expression) -> tuple[Table, str]:
        table_node = node.this if isinstance(node, exp.Schema) else node
        if not isinstance(table_node, exp.Table):
            raise SqlError("42601", "syntax error in target table")
        name = table_node.name
        if table_node.db and table_node.db != "public":
            if table_node.db == "pg_catalog":
                raise SqlError("42809", f'cannot change relation "{name}"')
            raise SqlError("3F000", f'schema "{table_node.db}" does not exist')
        table = self.state.catalog.user_table(name)
        if table is None:
            if self.state.catalog.table(name) is not None:
                raise SqlError("42809", f'cannot change relation "{name}"')
            raise SqlError("42P01", f'relation "{name}" does not exist')
        if table.kind != "r":
            raise SqlError("55000", f'cannot change view "{name}"', hint="Views are read-only here.")
        alias_node = table_node.args.get("alias")
        alias = alias_node.name if alias_node is not None else name
        return table, alias

    def assign(self, node: exp.Expression, src: Ty, col: Column, table: Table) -> exp.Expression:
        """Assignment coercion of a value to a column (INSERT/UPDATE/COPY)."""
        dst = Ty(col.type_oid, col.typmod)
        bare = node
        while isinstance(bare, exp.Paren):
            bare = bare.this
        if src.oid == T.UNKNOWN:
            if is_string_literal(bare):
                return self.ex.fold_literal(bare.this, dst)
            if isinstance(bare, exp.Parameter):
                self.state.params.assign(int(bare.name), Ty(dst.oid))
                checked = self.ex.enum_param(node, dst)
                if checked is not None:
                    return checked
                return typmod_wrap(node, dst)
            return node
        if src.oid == dst.oid:
            if dst.typmod >= 0 and src.typmod != dst.typmod:
                return typmod_wrap(node, dst)
            return node
        if src.oid in ty.INTS and dst.oid in ty.INTS:
            if ty.INT_RANK[src.oid] > ty.INT_RANK[dst.oid]:
                return fn("pg_check_int", node, lit_int(dst.oid))
            return node
        if src.oid in ty.INTS and dst.oid == T.FLOAT4:
            return fn("pg_to_float4", node)  # 16777217 is stored as 16777216, as in PostgreSQL
        if src.oid in ty.INTS and dst.oid == T.FLOAT8:
            return exp.Cast(this=node, to=exp.DataType.build("REAL"))  # float columns are ANY
        if src.oid in ty.INTS and dst.oid in ty.OIDLIKE:
            return node
        if src.oid in ty.INTS and dst.oid == T.NUMERIC:
            return typmod_wrap(node, dst) if dst.typmod >= 0 else node
        if src.oid == T.NUMERIC and dst.oid == T.NUMERIC:
            return typmod_wrap(node, dst)
        if src.oid in ty.STRINGS and dst.oid in ty.STRINGS:
            if src.oid == T.BPCHAR and dst.oid != T.BPCHAR:
                node = fn("rtrim", node, exp.Literal.string(" "))
            return typmod_wrap(node, dst) if dst.typmod >= 0 else node
        numeric = (*ty.INTS, *ty.FLOATS, T.NUMERIC)
        if src.oid in numeric and dst.oid in numeric:
            return fn("pg_cast", node, lit_int(src.oid), lit_int(dst.oid), lit_int(dst.typmod))
        if src.oid == T.TIMESTAMPTZ and dst.oid == T.TIMESTAMP:
            return fn("pg_tstz_to_ts", node)
        if src.oid == T.TIMESTAMP and dst.oid == T.TIMESTAMPTZ:
            return fn("pg_ts_to_tstz", node)
        if src.oid in ty.DATETIMES and dst.oid in (*ty.DATETIMES, T.TIME):
            return fn("pg_cast", node, lit_int(src.oid), lit_int(dst.oid), lit_int(dst.typmod))
        if dst.oid in ty.STRINGS and self.state.catalog.enum_by_oid(src.oid) is not None:
            return typmod_wrap(node, dst) if dst.typmod >= 0 else node  # an enum is stored as its label
        if dst.oid in ty.STRINGS:
            return fn("pg_cast", node, lit_int(src.oid), lit_int(dst.oid), lit_int(dst.typmod))
        if src.oid in (T.JSON, T.JSONB) and dst.oid in (T.JSON, T.JSONB):
            return fn("pg_cast", node, lit_int(src.oid), lit_int(dst.oid)) if dst.oid == T.JSONB else node
        if src.is_array and dst.is_array:
            return node
        raise SqlError(
            "42804",
            f'column "{col.name}" is of type {self.state.catalog.format_type(dst.oid, dst.typmod)} but '
            f"expression is of type {self.state.catalog.format_type(src.oid, src.typmod)}",
            hint="You will need to rewrite or cast the expression.",
        )

    def default_value(self, col: Column) -> exp.Expression:
        if col.default_sql is None:
            return exp.Null()
        if "nextval(" in col.default_sql:
            self.state.is_write = True
        return raw(f"({col.default_sql})")

    def returning(self, node: exp.Expression, table: Table, alias: str,
                  scope: Scope) -> tuple[str, list[OutColumn]]:
        ret = node.args.get("returning")
        if ret is None:
            return "", []
        parts = []
        cols: list[OutColumn] = []
        for item in ret.expressions:
            for compiled, col in self.select_item(item, scope):
                if col.ty.oid == T.UNKNOWN:
                    col.ty = ty.TEXT
                value = compiled
                if col.ty.oid == T.TIMESTAMPTZ:
                    value = fn("pg_tstz_out", value)
                parts.append(f"{generate(value)} AS {quote(col.name)}")
                cols.append(col)
        return " RETURNING " + ", ".join(parts), cols

    def insert(self, node: exp.Insert) -> tuple[str, list[OutColumn]]:
        table, alias = self.target_table(node.this)
        target_cols: list[Column]
        if isinstance(node.this, exp.Schema) and node.this.expressions:
            target_cols = []
            for ident_node in node.this.expressions:
                col = table.column(ident_node.name)
                if col is None:
                    raise SqlError("42703", f'column "{ident_node.name}" of relation "{table.name}" does not exist')
                if col in target_cols:
                    raise SqlError("42701", f'column "{col.name}" specified more than once')
                target_cols.append(col)
        else:
            target_cols = list(table.columns)
        others = [c for c in table.columns if c not in target_cols]
        all_cols = target_cols + others
        col_sql = ", ".join(quote(c.name) for c in all_cols)
        source = node.expression
        scope = Scope()
        overriding = node.args.get("overriding")  # "system" / "user" (translator.strip_overriding)
        guarded = set() if overriding else {c.name for c in target_cols if c.identity == "a"}
        if source is None or node.args.get("default"):
            rows_sql = "VALUES (" + ", ".join(generate(self.default_value(c)) for c in all_cols) + ")"
        elif isinstance(source, exp.Values) and not source.args.get("alias"):
            rows = []
            for tup in source.expressions:
                values = list(tup.expressions) if isinstance(tup, exp.Tuple) else [tup]
                if len(values) > len(target_cols):
                    raise SqlError("42601", "INSERT has more expressions than target columns")
                if len(values) < len(target_cols) and isinstance(node.this, exp.Schema):
                    raise SqlError("42601", "INSERT has more target columns than expressions")
                out = []
                for col, value in zip(target_cols, values, strict=False):
                    if isinstance(value, exp.Var) and value.name.upper() == "DEFAULT" or (
                            overriding == "user" and col.identity):
                        out.append(self.default_value(col))
                        continue
                    if col.name in guarded:
                        raise _identity_always(col, "cannot insert a non-DEFAULT value into column")
                    compiled, t = self.ex.compile(value, scope)
                    out.append(self.assign(compiled, t, col, table))
                for col in target_cols[len(values):] + others:
                    out.append(self.default_value(col))
                rows.append("(" + ", ".join(generate(v) for v in out) + ")")
            rows_sql = "VALUES " + ", ".join(rows)
        else:
            _, probe = self.subquery(source, scope)
            if len(probe) > len(target_cols):
                raise SqlError("42601", "INSERT has more expressions than target columns")
            for col in target_cols[: len(probe)]:
                if col.name in guarded:
                    raise _identity_always(col, "cannot insert a non-DEFAULT value into column")
            inner_names = [f"__c{i + 1}" for i in range(len(probe))]
            sql, cols = self.subquery(source, scope, rename=inner_names)
            select_parts = []
            for i, col in enumerate(target_cols):
                if i < len(cols) and not (overriding == "user" and col.identity):
                    ref = exp.Column(this=ident(inner_names[i]), table=ident("__src"))
                    select_parts.append(generate(self.assign(ref, cols[i].ty, col, table)))
                else:
                    select_parts.append(generate(self.default_value(col)))
            for col in others:
                select_parts.append(generate(self.default_value(col)))
            rows_sql = f"SELECT {', '.join(select_parts)} FROM ({sql}) AS __src WHERE 1"
        target_scope = Scope(sources=[Source(table.name, table.name, [
            SourceColumn(c.name, Ty(c.type_oid, c.typmod), table.oid, c.attnum) for c in table.columns
        ], table=table)])
        conflict_sql = self.on_conflict(node, table, target_scope)
        returning_sql, cols_out = self.returning(node, table, alias, target_scope)
        sql = f"INSERT INTO {quote(table.name)} ({col_sql}) {rows_sql}{conflict_sql}{returning_sql}"
        return sql, cols_out

    def on_conflict(self, node: exp.Insert, table: Table, scope: Scope) -> str:
        conflict = node.args.get("conflict")
        if conflict is None:
            return ""
        keys = conflict.args.get("conflict_keys") or []
        key_names = []
        for key in keys:
            inner = key.this if isinstance(key, exp.Ordered) else key
            key_names.append(inner.name)
        constraint = conflict.args.get("constraint")
        if constraint is not None:
            index = next((i for i in table.indexes if i.name == constraint.name), None)
            if index is None:
                raise SqlError("42704", f'constraint "{constraint.name}" for table "{table.name}" does not exist')
            key_names = list(index.columns)
        target = f" ({', '.join(quote(k) for k in key_names)})" if key_names else ""
        action = conflict.args.get("action")
        action_text = action.name.upper() if action is not None else ""
        if conflict.args.get("duplicate") or "NOTHING" in action_text:
            return f" ON CONFLICT{target} DO NOTHING"
        if not key_names:
            raise SqlError("42601", "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                           hint="For example, ON CONFLICT (column_name).")
        excluded = Source("excluded", "excluded", list(scope.sources[0].columns))
        conflict_scope = Scope(sources=scope.sources, excluded=excluded)
        sets = self.set_list(conflict.expressions, table, conflict_scope)
        where = conflict.args.get("where")
        where_sql = ""
        if where is not None:
            where_sql = " WHERE " + generate(self.ex.condition(where.this, conflict_scope))
        return f" ON CONFLICT{target} DO UPDATE SET {sets}{where_sql}"

    def set_list(self, items: list[exp.Expression], table: Table, scope: Scope) -> str:
        parts = []
        seen: set[str] = set()
        for item in items:
            if not isinstance(item, exp.EQ):
                raise SqlError("42601", "syntax error in SET list")
            target = item.this
            if isinstance(target, exp.Tuple) or isinstance(target, exp.Paren):
                raise SqlError("0A000", "multiple-column SET (a, b) = (...) is not supported")
            name = target.name
            col = table.column(name)
            if col is None:
                raise SqlError("42703", f'column "{name}" of relation "{table.name}" does not exist')
            if name in seen:
                raise SqlError("42601", f'multiple assignments to same column "{name}"')
            seen.add(name)
            value = item.expression
            if _is_default_keyword(value):
                compiled = self.default_value(col)
            elif col.identity == "a":
                raise _identity_always(col, "can only be updated to DEFAULT")
            else:
                out, t = self.ex.compile(value, scope)
                compiled = self.assign(out, t, col, table)
            parts.append(f"{quote(name)} = {generate(compiled)}")
        return ", ".join(parts)

    def update(self, node: exp.Update) -> tuple[str, list[OutColumn]]:
        table, alias = self.target_table(node.this)
        scope = Scope()
        scope.sources.append(Source(alias, alias, [
            SourceColumn(c.name, Ty(c.type_oid, c.typmod), table.oid, c.attnum) for c in table.columns
        ], table=table))
        from_sql = ""
        from_ = node.args.get("from_") or node.args.get("from")
        if from_ is not None:
            first, joins = self.from_clause(from_.this, list(node.args.get("joins") or []), scope)
            from_sql = " FROM " + generate(first) if first is not None else ""
            for join in joins:
                from_sql += " " + generate(join)
        sets = self.set_list(node.expressions, table, scope)
        where = node.args.get("where")
        where_sql = " WHERE " + generate(self.ex.condition(where.this, scope)) if where is not None else ""
        ret_scope = Scope(sources=scope.sources[:1])
        returning_sql, cols = self.returning(node, table, alias, ret_scope)
        alias_sql = f" AS {quote(alias)}" if alias != table.name else ""
        return f"UPDATE {quote(table.name)}{alias_sql} SET {sets}{from_sql}{where_sql}{returning_sql}", cols

    def delete(self, node: exp.Delete) -> tuple[str, list[OutColumn]]:
        table, alias = self.target_table(node.this)
        scope = Scope()
        scope.sources.append(Source(alias, alias, [
            SourceColumn(c.name, Ty(c.type_oid, c.typmod), table.oid, c.attnum) for c in table.columns
        ], table=table))
        where = node.args.get("where")
        using = node.args.get("using")
        alias_sql = f" AS {quote(alias)}" if alias != table.name else ""
        if using:
            inner_scope = Scope(parent=scope)
            first, joins = self.from_clause(using[0], [exp.Join(this=u) for u in using[1:]], inner_scope)
            from_sql = generate(first) if first is not None else ""
            for join in joins:
                from_sql += " " + generate(join)
            cond = generate(self.ex.condition(where.this, inner_scope)) if where is not None else "1"
            where_sql = f" WHERE EXISTS (SELECT 1 FROM {from_sql} WHERE {cond})"
        else:
            where_sql = " WHERE " + generate(self.ex.condition(where.this, scope)) if where is not None else ""
        returning_sql, cols = self.returning(node, table, alias, scope)
        return f"DELETE FROM {quote(table.name)}{alias_sql}{where_sql}{returning_sql}", cols


def _ordinality(node: exp.Expression, col_aliases: list[str]) -> str | None:
    """The WITH ORDINALITY column's name, or None without it (sqlglot keeps it in an Unnest's
    ``offset`` and in a function table's ``ordinality`` flag plus its second column alias)."""
    if isinstance(node, exp.Unnest):
        offset = node.args.get("offset")
        if not offset:
            return None
        return offset.name if isinstance(offset, exp.Identifier) else "ordinality"
    if not node.args.get("ordinality"):
        return None
    return col_aliases[1] if len(col_aliases) > 1 else "ordinality"


def _inline_named_windows(node: exp.Select) -> exp.Select:
    """``WINDOW w AS (...)`` definitions copied into each ``OVER w`` / ``OVER (w ...)``."""
    defs = {w.this.name: w for w in node.args.get("windows") or [] if isinstance(w.this, exp.Identifier)}
    if not defs:
        return node
    node = node.copy()
    node.set("windows", None)
    for win in list(node.find_all(exp.Window)):
        ref = win.args.get("alias")
        if ref is None or not isinstance(win.this, exp.Expression) or ref.name not in defs:
            continue
        base = defs[ref.name]
        for key in ("partition_by", "order", "spec"):
            if win.args.get(key) is None and base.args.get(key) is not None:
                value = base.args[key]
                win.set(key, [v.copy() for v in value] if isinstance(value, list) else value.copy())
        win.set("alias", None)
    return node


def typmod_wrap(node: exp.Expression, dst: Ty) -> exp.Expression:
    if dst.typmod < 0 or dst.oid not in (T.BPCHAR, T.VARCHAR, T.NUMERIC, T.TIMESTAMP, T.TIMESTAMPTZ, T.TIME):
        return node
    return fn("pg_typmod", node, lit_int(dst.oid), lit_int(dst.typmod))


def _unwrap_for_setop(node: exp.Expression) -> exp.Expression:
    return node


def _multiset_operation(node: exp.Expression, left: exp.Expression, right: exp.Expression,
                        cols: list[OutColumn]) -> exp.Expression:
    """INTERSECT ALL / EXCEPT ALL, which SQLite lacks: number the duplicates of each row on both
    sides (row_number per distinct row) and keep the left's n-th copy when the right has [no]
    n-th copy. ``IS`` compares NULLs as equal, as set operations do."""
    n = len(cols)
    names = [f"__s{i + 1}" for i in range(n)]

    def numbered(query: exp.Expression) -> str:
        # rename the columns by position: a one-row VALUES names them column1.., the branch's rows
        # follow it in the UNION ALL, and OFFSET 1 drops that row again
        inner = f"SELECT * FROM ({generate(query)})"
        renamed = f"SELECT {', '.join(f'column{i + 1} AS {names[i]}' for i in range(n))} FROM (VALUES " \
                  f"({', '.join('NULL' for _ in range(n))}) UNION ALL {inner}) LIMIT -1 OFFSET 1"
        partition = ", ".join(names)
        return f"SELECT *, row_number() OVER (PARTITION BY {partition}) AS __n FROM ({renamed})"

    match = " AND ".join([*(f"__r.{c} IS __l.{c}" for c in names), "__r.__n = __l.__n"])
    keep = "EXISTS" if isinstance(node, exp.Intersect) else "NOT EXISTS"
    select_list = ", ".join(f"__l.{names[i]} AS {quote(c.name)}" for i, c in enumerate(cols))
    sql = (f"SELECT {select_list} FROM ({numbered(left)}) AS __l "
           f"WHERE {keep} (SELECT 1 FROM ({numbered(right)}) AS __r WHERE {match})")
    return exp.select("*").from_(exp.Subquery(this=raw(sql), alias=exp.TableAlias(this=ident("__multiset"))))


def _identity_always(col: Column, message: str) -> SqlError:
    """428C9 for an explicit value in a GENERATED ALWAYS identity column."""
    text = f'{message} "{col.name}"' if message.endswith("column") else f'column "{col.name}" {message}'
    hint = "Use OVERRIDING SYSTEM VALUE to override." if message.startswith("cannot insert") else None
    return SqlError("428C9", text, detail=f'Column "{col.name}" is an identity column defined as GENERATED ALWAYS.',
                    hint=hint)


def _is_default_keyword(value: exp.Expression) -> bool:
    """``DEFAULT`` as a value: sqlglot gives a Var in VALUES and a bare column in UPDATE SET."""
    if isinstance(value, exp.Var):
        return value.name.upper() == "DEFAULT"
    return (isinstance(value, exp.Column) and not value.table and isinstance(value.this, exp.Identifier)
            and not value.this.quoted and value.name.upper() == "DEFAULT")


def _lock_command(locks: list[exp.Expression]) -> str:
    """PostgreSQL's name of a locking SELECT in 25006 (``SELECT FOR UPDATE``, ...)."""
    first = locks[0]
    update = bool(first.args.get("update"))
    key = bool(first.args.get("key"))
    if update:
        return "SELECT FOR NO KEY UPDATE" if key else "SELECT FOR UPDATE"
    return "SELECT FOR KEY SHARE" if key else "SELECT FOR SHARE"

