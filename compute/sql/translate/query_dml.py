"""INSERT, UPDATE, DELETE (with ON CONFLICT and RETURNING): the ``QueryCompiler`` part for them;
query.py has the rest."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.catalog.catalog import Column, Table
from compute.sql.translate.expressions import ExprCompiler
from compute.sql.translate.outputs import OutColumn, generate
from compute.sql.translate.scope import (
    Scope,
    Source,
    SourceColumn,
    State,
    fn,
    ident,
    is_string_literal,
    lit_int,
    quote,
    raw,
)
from compute.sql.types import Ty


class DmlStatements:
    if TYPE_CHECKING:  # implemented by QueryCompiler (query.py) and FromClauses (query_from.py)
        state: State
        ex: ExprCompiler

        def subquery(self, node: exp.Expression, scope: Scope,
                     rename: list[str] | None = None) -> tuple[str, list[OutColumn]]: ...
        def select_item(self, item: exp.Expression, scope: Scope) -> list[tuple[exp.Expression, OutColumn]]: ...
        def from_clause(self, first: exp.Expression, joins: list[exp.Expression],
                        scope: Scope) -> tuple[exp.Expression | None, list[exp.Expression]]: ...

    # ------------------------------------------------------------------ DML
    def target_table(self, node: exp.Expression) -> tuple[Table, str]:
        table_node = node.this if isinstance(node, exp.Schema) else node
        if not isinstance(table_node, exp.Table):
            raise SqlError("42601", "syntax error in target table")
        name = table_node.name
        if table_node.db and table_node.db != "public":
            if table_node.db == "pg_catalog":
                raise SqlError("42809", f'cannot change relation "{name}"')
            name = self.state.catalog.qualify(table_node.db, name)  # normally done by schemas.resolve_names
        table = self.state.catalog.user_table(name)
        if table is None:
            if self.state.catalog.table(name) is not None:
                raise SqlError("42809", f'cannot change relation "{name}"')
            raise SqlError("42P01", f'relation "{name}" does not exist')
        if table.kind != "r":
            # PostgreSQL updates a simple view through its table; that is not built here
            raise SqlError("0A000", f'changing view "{name}" is not supported',
                           hint="Views are read-only here: change the table the view reads.")
        alias_node = table_node.args.get("alias")
        alias = alias_node.name if alias_node is not None else table.relname
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
            return typmod_wrap(node, dst) if ty.array_typmod(dst) else node
        if src.oid in (T.BIT, T.VARBIT) and dst.oid in (T.BIT, T.VARBIT):  # bit <-> varbit, length checked
            return typmod_wrap(node, dst)
        if src.oid in (T.INET, T.CIDR) and dst.oid in (T.INET, T.CIDR):  # cidr(inet) masks the host bits
            return node if dst.oid == T.INET else fn("pg_cast", node, lit_int(src.oid), lit_int(dst.oid))
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


def typmod_wrap(node: exp.Expression, dst: Ty) -> exp.Expression:
    if dst.typmod < 0 or (dst.oid not in (T.BPCHAR, T.VARCHAR, T.NUMERIC, T.BIT, T.VARBIT, T.TIMESTAMP, T.TIMESTAMPTZ, T.TIME)
                          and not ty.array_typmod(dst)):
        return node
    return fn("pg_typmod", node, lit_int(dst.oid), lit_int(dst.typmod))


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
