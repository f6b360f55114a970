"""The FROM clause: tables, views, subqueries, joins, LATERAL, set-returning functions in FROM
(the ``QueryCompiler`` part for it; query.py has the rest)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.catalog.catalog import SEQUENCES
from compute.sql.functions.user import user_from_source
from compute.sql.translate import expressions as E
from compute.sql.translate.expressions import ExprCompiler
from compute.sql.translate.outputs import OutColumn, figure_colname, generate
from compute.sql.translate.scope import (
    Scope,
    Source,
    SourceColumn,
    State,
    fn,
    ident,
    lit_int,
    quote,
    raw,
)
from compute.sql.types import Ty

_SEQUENCE_COLUMNS = ("last_value", "log_cnt", "is_called")
# pg_catalog relations have the system column ``tableoid`` (pg_dump selects it); SELECT * skips it
SYSTEM_ATTNUM_TABLEOID = -6


class FromClauses:
    if TYPE_CHECKING:  # implemented by QueryCompiler (query.py)
        state: State
        ex: ExprCompiler

        def fresh_alias(self, base: str) -> str: ...
        def resolve_column(self, name: str, table: str, scope: Scope) -> tuple[exp.Expression, Ty] | None: ...
        def _ref(self, src: Source, col: SourceColumn) -> tuple[exp.Expression, Ty]: ...
        def subquery(self, node: exp.Expression, scope: Scope,
                     rename: list[str] | None = None) -> tuple[str, list[OutColumn]]: ...
        def values(self, node: exp.Values, scope: Scope,
                   rename: list[str] | None = None) -> tuple[exp.Expression, list[OutColumn]]: ...
        def query(self, node: exp.Expression, scope: Scope, rename: list[str] | None = None,
                  wrap_tstz: bool = False) -> tuple[exp.Expression, list[OutColumn]]: ...

    # ------------------------------------------------------------------ FROM clause
    def from_clause(self, first: exp.Expression, joins: list[exp.Expression],
                    scope: Scope) -> tuple[exp.Expression | None, list[exp.Expression]]:
        items: list[exp.Expression] = []
        first, joins = _unparenthesize(first, joins)
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
            found = user_from_source(self.ex, call, alias, col_aliases, scope) \
                if not _ordinality(node, col_aliases) else None  # CREATE FUNCTION (functions/user.py)
            if found is not None:
                return found
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
                schema = node.db
                if schema and schema not in ("public", "pg_catalog"):  # s.f(): a user function of schema s
                    found = user_from_source(self.ex, inner, alias, col_aliases, scope, schema=schema)
                    if found is None:
                        raise SqlError("42883", f"function {schema}.{inner.name.lower()}() does not exist")
                    return found
                ordinality = _ordinality(node, col_aliases) if node.args.get("ordinality") else None
                return self.table_function(inner, alias, col_aliases, scope, ordinality)
            return self.table_ref(node, alias, col_aliases, scope)
        if isinstance(node, exp.Subquery):
            if alias is None:
                alias = self.fresh_alias("subquery")
            out, cols = self.query(node.this, Scope(parent=scope), rename=col_aliases or None)
            sql = generate(out)
            if _calls_volatile(out):  # every row's calls made once, used or not (see below)
                cte = self.fresh_alias("volatile")
                sql = f"WITH {quote(cte)} AS MATERIALIZED ({sql}) SELECT * FROM {quote(cte)}"
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
        if schema and schema not in ("pg_catalog", "information_schema"):
            name = self.state.catalog.qualify(schema, name)  # normally done by schemas.resolve_names
            schema = ""
        cte_cols = scope.cte(name) if not schema else None
        if cte_cols is not None:
            visible = alias or name
            cols = [SourceColumn(c.name, c.ty) for c in cte_cols]
            for i, new in enumerate(col_aliases):
                cols[i] = SourceColumn(new, cols[i].ty, sql_name=cols[i].sql_name or cols[i].name)
            scope.sources.append(Source(visible, visible, cols))
            return exp.Table(this=ident(name), alias=exp.TableAlias(this=ident(visible)))
        table = self.state.catalog.table(name)
        if table is None and name in self.state.catalog.sequences:
            return self.sequence_ref(name, alias, col_aliases, scope)
        if table is None:
            raise SqlError("42P01", f'relation "{name}" does not exist')
        if name == "pg_stat_replication" and name not in self.state.catalog.tables:
            self.state.off_loop = True  # asks the node for its replicas (may do I/O)
        visible = alias or table.relname
        cols = [SourceColumn(c.name, Ty(c.type_oid, c.typmod), table.oid, c.attnum) for c in table.columns]
        for i, new in enumerate(col_aliases):
            if i < len(cols):
                cols[i] = SourceColumn(new, cols[i].ty, cols[i].table_oid, cols[i].attnum, cols[i].sql_name or cols[i].name)
        if table.oid and table.schema == "pg_catalog" and name not in self.state.catalog.tables:
            cols.append(SourceColumn("tableoid", ty.OID, table.oid, SYSTEM_ATTNUM_TABLEOID))
        scope.sources.append(Source(visible, visible, cols, table=table))
        return exp.Table(this=ident(table.storage_name), alias=exp.TableAlias(this=ident(visible)))

    def sequence_ref(self, name: str, alias: str | None, col_aliases: list[str], scope: Scope) -> exp.Expression:
        """A sequence read as a relation (pg_dump: SELECT last_value, is_called FROM seq): one row
        of last_value, log_cnt, is_called, from the sequence's stored position."""
        oid = self.state.catalog.sequences[name].oid
        visible = alias or name
        names = [*col_aliases, *_SEQUENCE_COLUMNS[len(col_aliases):]][:3]
        sql = (f"SELECT last_value AS {quote(names[0])}, 0 AS {quote(names[1])}, is_called AS {quote(names[2])} "
               f"FROM {SEQUENCES} WHERE oid = {oid}")
        types = (ty.INT8, ty.INT8, ty.BOOL)
        scope.sources.append(Source(visible, visible, [SourceColumn(n, t) for n, t in zip(names, types, strict=True)]))
        return exp.Subquery(this=raw(sql), alias=exp.TableAlias(this=ident(visible)))

    def table_function(self, call: exp.Anonymous, alias: str | None, col_aliases: list[str],
                       scope: Scope, ordinality: str | None = None) -> exp.Expression:
        name = call.name.lower()
        if ordinality is not None or name in ("generate_subscripts", "regexp_matches", "pg_listening_channels") \
                or name in E.JSON_SRFS:
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
        if name == "pg_options_to_table" and len(call.expressions) == 1:  # text[] of name=value
            opts = self.ex.typed(call.expressions[0], scope, Ty(T.TEXT_ARRAY))
            visible = alias or name
            key_col = col_aliases[0] if col_aliases else "option_name"
            val_col = col_aliases[1] if len(col_aliases) > 1 else "option_value"
            sql = (f"SELECT substr(value, 1, instr(value, '=') - 1) AS {quote(key_col)}, "
                   f"substr(value, instr(value, '=') + 1) AS {quote(val_col)} FROM json_each({generate(opts)})")
            scope.sources.append(Source(visible, visible, [SourceColumn(key_col, ty.TEXT), SourceColumn(val_col, ty.TEXT)]))
            return exp.Subquery(this=raw(sql), alias=exp.TableAlias(this=ident(visible)))
        found = user_from_source(self.ex, call, alias, col_aliases, scope)  # CREATE FUNCTION (functions/user.py)
        if found is not None:
            return found
        if name not in E.SET_RETURNING:
            return self.scalar_source(call, alias, col_aliases, scope)
        raise SqlError("0A000", f"function {name}() in FROM is not supported")

    def scalar_source(self, call: exp.Expression, alias: str | None, col_aliases: list[str],
                      scope: Scope) -> exp.Expression:
        """A function returning one value in FROM (``SELECT * FROM current_schema()``, as
        TypeORM asks): one row of one column, named by the column alias, else the table
        alias, else the function, as PostgreSQL names it."""
        name = call.name.lower()
        sql, t = self.ex.compile(call, scope)
        visible = alias or name
        col = col_aliases[0] if col_aliases else visible
        if len(col_aliases) > 1:
            raise SqlError("42P10", f'table "{visible}" has 1 columns available but {len(col_aliases)} '
                                    "columns specified")
        scope.sources.append(Source(visible, visible, [SourceColumn(col, t)]))
        return exp.Subquery(this=raw(f"SELECT {generate(sql)} AS {quote(col)}"),
                            alias=exp.TableAlias(this=ident(visible)))

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


# SQLite functions with side effects or a new value per call. SQLite drops unused result columns
# of a FROM subquery (the calls in them never happen: nextval() does not advance) and, when it
# flattens one, copies the expression to each use (two calls where PostgreSQL makes one); a
# MATERIALIZED CTE is neither pruned nor flattened, so each call happens once per row, as in
# PostgreSQL.
VOLATILE_CALLS = frozenset({
    "nextval", "setval", "pg_random", "gen_random_uuid", "pg_clock_timestamp", "strata_notify",
    "strata_advisory_lock", "strata_advisory_unlock", "strata_advisory_unlock_all",
})


def _calls_volatile(tree: exp.Expression) -> bool:
    return any(call.name.lower() in VOLATILE_CALLS for call in tree.find_all(exp.Anonymous))


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


def _unparenthesize(first: exp.Expression, joins: list[exp.Expression]) -> tuple[exp.Expression, list[exp.Expression]]:
    """``FROM (a JOIN b ON ...) JOIN c`` (how pg_get_viewdef and pg_dump write joins) is
    ``FROM a JOIN b ON ... JOIN c``: a parenthesized join as the first item nests left-deep."""
    while (isinstance(first, exp.Subquery) and not first.args.get("alias")
           and isinstance(first.this, (exp.Table, exp.Subquery)) and first.this.args.get("joins")):
        inner = first.this.copy()
        inner_joins = list(inner.args.get("joins") or [])
        inner.set("joins", None)
        first, joins = inner, [*inner_joins, *joins]
    return first, joins
