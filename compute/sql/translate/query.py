"""Queries and DML: SELECT / set operations / VALUES, INSERT, UPDATE, DELETE.

Name resolution follows PostgreSQL (FROM-clause scopes, correlated references to outer
scopes, ``SELECT *`` expanded here so the column list and its types are known), and the output
is an SQLite statement plus PostgreSQL result column descriptions.
"""

from __future__ import annotations

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.translate import expressions as E
from compute.sql.translate.expressions import ExprCompiler
from compute.sql.translate.grouping import check_grouping, has_aggregate
from compute.sql.translate.grouping_sets import expand as expand_grouping_sets
from compute.sql.translate.grouping_sets import has_grouping_sets
from compute.sql.translate.outputs import OutColumn, figure_colname, generate
from compute.sql.translate.query_dml import DmlStatements
from compute.sql.translate.query_from import FromClauses
from compute.sql.translate.scope import (
    Scope,
    Source,
    SourceColumn,
    Srf,
    State,
    fn,
    ident,
    lit_int,
    quote,
    raw,
)
from compute.sql.types import Ty


class QueryCompiler(FromClauses, DmlStatements):
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
        # The first row is a SELECT naming its columns: SQLite 3.54 loses the names of a VALUES
        # whose first row refers to an outer column, and then reads "column1" as a string.
        inner: exp.Expression = exp.Select(expressions=[
            exp.Alias(this=v, alias=exp.Identifier(this=f"column{i + 1}", quoted=True))
            for i, v in enumerate(out_rows[0].expressions)])
        if len(out_rows) > 1:
            inner = exp.Union(this=inner, expression=exp.Values(expressions=out_rows[1:]), distinct=False)
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
            elif wrap_tstz and col.ty.oid == T.TSTZRANGE:  # bounds in the session TimeZone
                value = fn("pg_tstzrange_out", value)
            elif wrap_tstz and col.ty.oid == T.REGCLASS:  # regclassout prints the relation name
                value = fn("pg_regclass_out", value)
            elif wrap_tstz and col.ty.oid == T.REGNAMESPACE:  # and regnamespaceout the schema name
                value = fn("pg_regnamespace_out", value)
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
            if table is None and col.name in src.hidden_using or col.attnum < 0:  # system column
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


def _lock_command(locks: list[exp.Expression]) -> str:
    """PostgreSQL's name of a locking SELECT in 25006 (``SELECT FOR UPDATE``, ...)."""
    first = locks[0]
    update = bool(first.args.get("update"))
    key = bool(first.args.get("key"))
    if update:
        return "SELECT FOR NO KEY UPDATE" if key else "SELECT FOR UPDATE"
    return "SELECT FOR KEY SHARE" if key else "SELECT FOR SHARE"

