"""ALTER TABLE (add / drop / alter columns and constraints, rename) and the column and name
resolution it shares with CREATE TABLE: ``TableDdl``, the base of ``DdlCompiler`` (ddl.py).
"""

from __future__ import annotations

import json
from dataclasses import replace

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.catalog import catalog as C
from compute.sql.catalog.catalog import (
    Catalog,
    Column,
    Constraint,
    Index,
    Sequence,
    Table,
    quote_literal,
)
from compute.sql.translate.ddl_identity import regclass_text
from compute.sql.translate.ddl_sql import (
    CHECK_TRIGGER_SUFFIXES,
    FK_TRIGGER_SUFFIXES,
    UNNAMED_CHECK,
    DdlResult,
    _check_columns,
    _drop_declared_not_null_sql,
    _nn_trigger_sql,
    _null_check_sql,
    _q,
    _storage_decl,
    _tuple_text_sql,
    check_trigger_prefix,
    drop_triggers_sql,
    fk_options,
    fk_trigger_prefix,
    fk_trigger_sql,
)
from compute.sql.translate.parse import parse
from compute.sql.translate.query import QueryCompiler, generate
from compute.sql.translate.scope import Scope, Source, SourceColumn, State
from compute.sql.types import Ty


def index_storage_name(catalog: Catalog, key: str) -> str:
    """The SQLite name of a new index: its key, unless an index moved to another schema (SET
    SCHEMA, ALTER SCHEMA RENAME: SQLite cannot rename an index) still has that SQLite name."""
    taken = {i.sqlite_name for t in catalog.tables.values() for i in t.indexes if i.sqlite_name}
    if key not in taken:
        return key
    n = 1
    while f"{key}#{n}" in taken:
        n += 1
    return f"{key}#{n}"


class TableDdl:
    """The table-level DDL compiler: what a column and a table name mean (used by CREATE TABLE
    too), and ALTER TABLE. ``DdlCompiler`` (ddl.py) adds CREATE, DROP and the rest."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.catalog = state.catalog
        self.qc = QueryCompiler(state)

    def _name(self, table: exp.Expression) -> str:
        if isinstance(table, exp.Schema):
            table = table.this
        if not isinstance(table, exp.Table):
            raise SqlError("42601", "expected a relation name")
        if table.db:
            return self.catalog.qualify(table.db, table.name)  # normally done by schemas.resolve_names
        return table.name

    def _existing(self, name: str) -> Table:
        table = self.catalog.user_table(name)
        if table is None:
            raise SqlError("42P01", f'relation "{name}" does not exist')
        return table

    def _default(self, expr: exp.Expression, col: Column, table_name: str) -> tuple[str, str]:
        """(PostgreSQL text, SQLite expression) of a column default."""
        scope = Scope()
        compiled, t = self.qc.ex.compile(expr, scope)
        fake = Table(0, table_name, (col,))
        assigned = self.qc.assign(compiled, t, col, fake)
        if self.state.params.types:
            raise SqlError("42P02", "there is no parameter $1")
        return expr.sql(dialect="postgres"), generate(assigned)

    def _check_sql(self, expr: exp.Expression, columns: list[Column]) -> str:
        scope = Scope(sources=[Source("", "", [SourceColumn(c.name, Ty(c.type_oid, c.typmod)) for c in columns])])
        return generate(self.qc.ex.condition(expr, scope))

    def _column(self, item: exp.ColumnDef, table: str, attnum: int, sequences: list[Sequence],
                pending: list[tuple[str, exp.Expression, str | None]]) -> Column:
        name = item.name
        kind = item.args.get("kind")
        if kind is None:
            raise SqlError("42601", f'column "{name}" needs a type')
        col_ty = ty.resolve_type(kind, self.catalog)
        col = Column(name, attnum, col_ty.oid, col_ty.typmod)
        default_node: exp.Expression | None = None
        identity: str | None = None
        identity_options: dict[str, int] = {}
        serial = ty.is_serial(kind)
        for constraint in item.args.get("constraints") or []:
            body = constraint.args.get("kind") if isinstance(constraint, exp.ColumnConstraint) else constraint
            if isinstance(body, exp.NotNullColumnConstraint):
                if body.args.get("allow_null"):
                    continue
                col = replace(col, not_null=True)
            elif isinstance(body, exp.DefaultColumnConstraint):
                default_node = body.this
            elif isinstance(body, exp.GeneratedAsIdentityColumnConstraint):
                identity = "a" if body.this else "d"
                for option in ("start", "increment", "minvalue", "maxvalue"):
                    value = body.args.get(option)
                    if value is not None:
                        identity_options[option] = int(value.this if not isinstance(value, exp.Neg)
                                                       else -int(value.this.this))
            elif isinstance(body, (exp.PrimaryKeyColumnConstraint, exp.UniqueColumnConstraint,
                                   exp.CheckColumnConstraint, exp.Reference)):
                pending.append(("column", constraint, name))  # a ColumnConstraint keeps its CONSTRAINT name
            elif isinstance(body, (exp.CollateColumnConstraint, exp.CommentColumnConstraint)):
                continue
            else:
                raise SqlError("0A000", f"column constraint {type(body).__name__} is not supported")
        if serial or identity:
            seq_name = f"{table}_{name}_seq"
            seq_type = col_ty.oid
            max_value = {T.INT2: 2**15 - 1, T.INT4: 2**31 - 1}.get(seq_type, 2**63 - 1)
            increment = identity_options.get("increment", 1)
            min_value = identity_options.get("minvalue", 1 if increment > 0 else -max_value - 1)
            max_value = identity_options.get("maxvalue", max_value if increment > 0 else -1)
            start = identity_options.get("start", min_value if increment > 0 else max_value)
            sequences.append(Sequence(0, seq_name, seq_type, start, increment, min_value, max_value, False,
                                      None, name))
            col = replace(
                col,
                not_null=True,
                default_expr=f"nextval('{regclass_text(seq_name)}'::regclass)",
                default_sql=f"nextval({quote_literal(regclass_text(seq_name))})",
                identity=identity,
            )
        elif default_node is not None:
            pg_text, sql = self._default(default_node, col, table)
            col = replace(col, default_expr=pg_text, default_sql=sql)
        return col

    def alter_table(self, node: exp.Alter) -> DdlResult:
        name = self._name(node.this)
        table = self.catalog.user_table(name)
        if table is None:
            if node.args.get("exists"):
                return DdlResult("ALTER TABLE", notices=[f'relation "{name}" does not exist, skipping'])
            raise SqlError("42P01", f'relation "{name}" does not exist')
        steps: list[str] = []
        notices: list[str] = []
        catalog = self.catalog
        validate = not node.args.get("not_valid")
        for action in node.args.get("actions") or []:
            table = catalog.user_table(table.name) or table
            if isinstance(action, exp.AddConstraint):
                for con in action.expressions:
                    catalog, more = self._add_constraint(catalog, table, con, validate)
                    steps.extend(more)
            elif isinstance(action, (exp.PrimaryKey, exp.UniqueColumnConstraint, exp.Constraint, exp.ForeignKey)):
                catalog, more = self._add_constraint(catalog, table, action, validate)
                steps.extend(more)
            elif isinstance(action, exp.ColumnDef):
                catalog, more = self._add_column(catalog, table, action)
                steps.extend(more)
            elif isinstance(action, exp.Drop) and str(action.args.get("kind") or "").upper() == "CONSTRAINT":
                catalog, more = self._drop_constraint(catalog, table, action, notices)
                steps.extend(more)
            elif isinstance(action, exp.Drop):
                catalog, more = self._drop_column(catalog, table, action)
                steps.extend(more)
            elif isinstance(action, exp.RenameColumn):
                old, new = action.this.name, action.args["to"].name
                col = table.column(old)
                if col is None:
                    raise SqlError("42703", f'column "{old}" does not exist')
                if table.column(new) is not None:
                    raise SqlError("42701", f'column "{new}" of relation "{table.name}" already exists')
                steps.append(f"ALTER TABLE {_q(table.name)} RENAME COLUMN {_q(old)} TO {_q(new)}")
                steps.append(f"UPDATE {C.COLUMNS} SET name = {quote_literal(new)} WHERE table_oid = "
                             f"{C.oid_of_sql(table.name)} AND name = {quote_literal(old)}")
                new_indexes = []
                for index in table.indexes:
                    cols = tuple(new if c == old else c for c in index.columns)
                    if cols != index.columns:
                        steps.append(f"UPDATE {C.INDEXES} SET columns = {quote_literal(json.dumps(list(cols)))} "
                                     f"WHERE oid = {C.oid_of_sql(index.name)}")
                    new_indexes.append(replace(index, columns=cols))
                new_cons = []
                for con in table.constraints:
                    cols = tuple(new if c == old else c for c in con.columns)
                    if cols != con.columns:
                        steps.append(f"UPDATE {C.CONSTRAINTS} SET columns = {quote_literal(json.dumps(list(cols)))} "
                                     f"WHERE table_oid = {C.oid_of_sql(table.name)} AND name = {quote_literal(C.bare_name(con.name))}")
                    new_cons.append(replace(con, columns=cols))
                columns = tuple(replace(c, name=new) if c.name == old else c for c in table.columns)
                catalog = catalog.with_table(replace(table, columns=columns, indexes=tuple(new_indexes),
                                                     constraints=tuple(new_cons)))
            elif isinstance(action, exp.AlterRename):
                new = C.relation_key(C.split_key(table.name)[0], self._name(action.this))  # stays in its schema
                if catalog.relation_exists(new):
                    raise SqlError("42P07", f'relation "{C.bare_name(new)}" already exists')
                steps.append(f"ALTER TABLE {_q(table.name)} RENAME TO {_q(new)}")
                steps.append(f"UPDATE {C.TABLES} SET name = {quote_literal(C.bare_name(new))} "
                             f"WHERE oid = {C.oid_of_sql(table.name)}")
                renamed = replace(table, name=new)
                for con in table.constraints:
                    if con.type == "c" and con.index_oid == 0:  # their triggers name the relation
                        steps.extend(self._drop_check_triggers(table, con.name))
                        steps.extend(self._check_triggers(renamed, con.name))
                catalog = catalog.without_table(table.name).with_table(renamed)
                for seq in self.catalog.sequences.values():
                    if seq.owner_table == table.oid and table.oid:
                        catalog = catalog.with_sequence(seq)
            elif isinstance(action, exp.AlterColumn):
                catalog, more = self._alter_column(catalog, table, action)
                steps.extend(more)
            elif isinstance(action, exp.AlterSet):
                continue
            else:
                raise SqlError("0A000", f"ALTER TABLE {type(action).__name__} is not supported")
        return DdlResult("ALTER TABLE", steps, catalog, notices)

    def _drop_constraint(self, catalog: Catalog, table: Table, action: exp.Drop,
                         notices: list[str]) -> tuple[Catalog, list[str]]:
        steps: list[str] = []
        for target in action.args.get("tables") or action.expressions or []:
            table = catalog.user_table(table.name) or table
            name = C.relation_key(C.split_key(table.name)[0], target.name)  # constraints are keyed like relations
            con = next((c for c in table.constraints if c.name == name), None)
            if con is None:
                if action.args.get("exists"):
                    notices.append(f'constraint "{target.name}" of relation "{table.relname}" does not exist, skipping')
                    continue
                raise SqlError("42704", f'constraint "{target.name}" of relation "{table.relname}" does not exist')
            if con.type == "f":
                catalog, more = self._drop_foreign_key(catalog, table, con)
                steps.extend(more)
                continue
            if con.type == "c":
                if con.index_oid != 0:
                    raise SqlError("0A000", "DROP CONSTRAINT of a CHECK declared in CREATE TABLE is not supported")
                steps.extend(self._drop_check_triggers(table, name))
            else:
                index = next((i for i in table.indexes if i.name == name), None)
                if index is None or index.sqlite_name is None:
                    kind = "PRIMARY KEY" if con.type == "p" else "UNIQUE"
                    raise SqlError("0A000", f"DROP CONSTRAINT of a {kind} declared in CREATE TABLE is not supported")
                dependents = [(other, fk) for other in catalog.tables.values() for fk in other.constraints
                              if fk.type == "f" and table.oid and fk.ref_table == table.oid
                              and set(fk.ref_columns) == set(index.columns)]
                if dependents and not action.args.get("cascade"):
                    other, fk = dependents[0]
                    raise SqlError(
                        "2BP01", f"cannot drop constraint {name} on table {table.name} because other objects "
                        f"depend on it",
                        detail=f"constraint {fk.name} on table {other.name} depends on index {name}",
                        hint="Use DROP ... CASCADE to drop the dependent objects too.")
                for other, fk in dependents:
                    notices.append(f"drop cascades to constraint {fk.name} on table {other.name}")
                    catalog, more = self._drop_foreign_key(catalog, catalog.user_table(other.name) or other, fk)
                    steps.extend(more)
                table = catalog.user_table(table.name) or table
                steps.append(f"DROP INDEX {_q(index.sqlite_name)}")
                steps.extend(C.drop_index_sql(name))
                table = replace(table, indexes=tuple(i for i in table.indexes if i.name != name))
            steps.append(f"DELETE FROM {C.CONSTRAINTS} WHERE table_oid = {C.oid_of_sql(table.name)} "
                         f"AND name = {quote_literal(C.bare_name(name))}")
            catalog = catalog.with_table(replace(table, constraints=tuple(c for c in table.constraints
                                                                          if c.name != name)))
        steps.extend(C.BUMP_SCHEMA_VERSION)
        return catalog, steps

    def _check_triggers(self, table: Table, name: str, expr: exp.Expression | None = None) -> list[str]:
        """(Re)create the triggers of a CHECK added by ALTER TABLE. They name every column (the
        "Failing row contains" detail), so ADD/DROP COLUMN recreate them."""
        if expr is None:
            con = next(c for c in table.constraints if c.name == name)
            expr = parse(f"SELECT {con.definition}").expressions[0]
        cols = list(table.columns)
        # The condition reads the stored row (AFTER the change, by rowid): NEW.col has neither the
        # column's affinity nor its collation (numeric compares by COLLATE pgnumeric). An error
        # undoes the statement, so the row never stays.
        row_scope = Scope(sources=[Source("new", "__ck_row", [SourceColumn(c.name, Ty(c.type_oid, c.typmod))
                                                               for c in cols])])
        row_check = generate(self.qc.ex.condition(expr, row_scope))
        stored = f'(SELECT {row_check} FROM {_q(table.name)} AS "__ck_row" WHERE "__ck_row".rowid = NEW.rowid)'
        prefix = check_trigger_prefix(table.oid or table.name, name)
        message = quote_literal(f'new row for relation "{table.relname}" violates check constraint '
                                f'"{C.bare_name(name)}"')
        detail = f"'Failing row contains (' || {_tuple_text_sql('NEW.', cols)} || ').'"
        steps = self._drop_check_triggers(table, name)
        for event, suffix in (("INSERT", "_i"), ("UPDATE", "_u")):
            steps.append(f"CREATE TRIGGER {_q(prefix + suffix)} AFTER {event} ON {_q(table.name)} "
                         f"WHEN NOT {stored} BEGIN SELECT pg_raise('23514', {message}, {detail}); END")
        return steps

    @staticmethod
    def _drop_check_triggers(table: Table, name: str) -> list[str]:
        steps: list[str] = []
        for key in dict.fromkeys((table.oid or table.name, table.name)):
            steps.extend(drop_triggers_sql(check_trigger_prefix(key, name), CHECK_TRIGGER_SUFFIXES))
        return steps

    def _drop_foreign_key(self, catalog: Catalog, table: Table, con: Constraint) -> tuple[Catalog, list[str]]:
        """Remove a trigger-enforced foreign key of ``table`` (triggers and catalog row)."""
        info = json.loads(con.definition or "{}")
        prefix = info.get("trigger")
        if not prefix:
            raise SqlError("0A000", f'foreign key "{con.name}" was created by an older version (SQLite foreign '
                           f"key) and cannot be dropped")
        steps = drop_triggers_sql(str(prefix), FK_TRIGGER_SUFFIXES)
        steps.append(f"DELETE FROM {C.CONSTRAINTS} WHERE table_oid = {C.oid_of_sql(table.name)} "
                     f"AND name = {quote_literal(C.bare_name(con.name))}")
        table = catalog.user_table(table.name) or table
        new_table = replace(table, constraints=tuple(c for c in table.constraints if c.name != con.name))
        return catalog.with_table(new_table), steps

    def _add_constraint(self, catalog: Catalog, table: Table, con: exp.Expression,
                        validate: bool = True) -> tuple[Catalog, list[str]]:
        cname = None
        body = con
        if isinstance(con, exp.Constraint):
            cname = con.name if con.name == UNNAMED_CHECK else C.relation_key(C.split_key(table.name)[0], con.name)
            body = con.expressions[0]
        if isinstance(body, exp.PrimaryKey):
            cols = [e.name for e in body.expressions]
            return self._add_unique(catalog, table, cols, cname or f"{table.name}_pkey", primary=True)
        if isinstance(body, exp.UniqueColumnConstraint):
            cols = [e.name for e in body.this.expressions]
            return self._add_unique(catalog, table, cols, cname or f"{table.name}_{'_'.join(cols)}_key", primary=False)
        if cname == UNNAMED_CHECK:
            cname = None
        if cname is not None and any(c.name == cname for c in table.constraints):
            raise SqlError("42710", f'constraint "{cname}" for relation "{table.name}" already exists')
        if isinstance(body, exp.ForeignKey):
            return self._add_foreign_key(catalog, table, body, cname, validate)
        if isinstance(body, exp.CheckColumnConstraint):
            return self._add_check(catalog, table, body.this, cname, validate)
        raise SqlError("0A000", f"ALTER TABLE ADD {type(body).__name__} is not supported")

    def _constraint_name(self, catalog: Catalog, table: str, column: str | None, label: str) -> str:
        """PostgreSQL's ChooseConstraintName: table_column_label, then a digit suffix while taken."""
        taken = {c.name for t in catalog.tables.values() for c in t.constraints}
        base = f"{table}_{column}_{label}" if column else f"{table}_{label}"
        candidate, i = base, 0
        while candidate in taken:
            i += 1
            candidate = f"{base}{i}"
        return candidate

    def _add_foreign_key(self, catalog: Catalog, table: Table, body: exp.ForeignKey, cname: str | None,
                         validate: bool) -> tuple[Catalog, list[str]]:
        cols = [e.name for e in body.expressions]
        ref = body.args["reference"]
        ref_schema = ref.this
        parent_name = self._name(ref_schema)
        parent = catalog.user_table(parent_name)
        if parent is None or parent.kind != "r":
            raise SqlError("42P01", f'relation "{parent_name}" does not exist')
        ref_cols = [e.name for e in ref_schema.expressions] if isinstance(ref_schema, exp.Schema) else []
        ccols: list[Column] = []
        for col_name in cols:
            col = table.column(col_name)
            if col is None:
                raise SqlError("42703", f'column "{col_name}" referenced in foreign key constraint does not exist')
            ccols.append(col)
        if not ref_cols:
            pk = parent.primary_key
            if pk is None:
                raise SqlError("42830", f'there is no primary key for referenced table "{parent_name}"')
            ref_cols = list(pk.columns)
        pcols: list[Column] = []
        for col_name in ref_cols:
            col = parent.column(col_name)
            if col is None:
                raise SqlError("42703", f'column "{col_name}" referenced in foreign key constraint does not exist')
            pcols.append(col)
        if not any(i.unique and set(i.columns) == set(ref_cols) and len(i.columns) == len(ref_cols)
                   for i in parent.indexes):
            raise SqlError("42830", f'there is no unique constraint matching given keys for referenced table '
                           f'"{parent_name}"')
        if len(ccols) != len(pcols):
            raise SqlError("42830", "number of referencing and referenced columns for foreign key disagree")
        for cc, pc in zip(ccols, pcols, strict=True):
            c_info, p_info = T.TYPES.get(cc.type_oid), T.TYPES.get(pc.type_oid)
            if cc.type_oid != pc.type_oid and (
                    c_info is None or p_info is None or c_info.sqlite_type != p_info.sqlite_type
                    or (cc.type_oid == T.NUMERIC) != (pc.type_oid == T.NUMERIC)):
                raise SqlError(
                    "42804", f'foreign key constraint "{cname or table.name + "_" + "_".join(cols) + "_fkey"}" '
                    f"cannot be implemented",
                    detail=f'Key columns "{cc.name}" and "{pc.name}" are of incompatible types: '
                    f"{catalog.format_type(cc.type_oid, cc.typmod)} and "
                    f"{catalog.format_type(pc.type_oid, pc.typmod)}.")
        name = cname or self._constraint_name(catalog, table.name, "_".join(cols), "fkey")
        info = fk_options(ref)
        prefix = fk_trigger_prefix(table.name, name)
        info["trigger"] = prefix
        steps: list[str] = []
        if validate:
            match = " AND ".join(f"p.{_q(pc.name)} = c.{_q(cc.name)}" for cc, pc in zip(ccols, pcols, strict=True))
            not_null = " AND ".join(f"c.{_q(c.name)} IS NOT NULL" for c in ccols)
            message = quote_literal(f'insert or update on table "{table.name}" violates foreign key constraint '
                                    f'"{name}"')
            detail = (f"'Key ({', '.join(cols)})=(' || {_tuple_text_sql('c.', ccols)} || " +
                      quote_literal(') is not present in table "' + parent_name + '".'))
            steps.append(f"SELECT pg_raise('23503', {message}, {detail}) FROM {_q(table.name)} AS c "
                         f"WHERE {not_null} AND NOT EXISTS (SELECT 1 FROM {_q(parent_name)} AS p WHERE {match}) "
                         f"LIMIT 1")
        steps.extend(fk_trigger_sql(prefix, name, table.name, ccols, parent_name, pcols, info))
        con = Constraint(name, table.oid, "f", tuple(cols), None, json.dumps(info), parent.oid, tuple(ref_cols))
        steps.append(C.insert_constraint_sql(con, table.name, ref_table=parent_name))
        return catalog.with_table(replace(table, constraints=(*table.constraints, con))), steps

    def _add_check(self, catalog: Catalog, table: Table, expr: exp.Expression, cname: str | None,
                   validate: bool) -> tuple[Catalog, list[str]]:
        pg_text = expr.sql(dialect="postgres")
        referenced = sorted({c.name for c in expr.find_all(exp.Column)})
        for col_name in referenced:
            if table.column(col_name) is None:
                raise SqlError("42703", f'column "{col_name}" does not exist')
        name = cname or self._constraint_name(catalog, table.name, referenced[0] if len(referenced) == 1 else None,
                                              "check")
        cols = list(table.columns)
        steps: list[str] = []
        if validate:
            plain = self._check_sql(expr.copy(), cols)
            message = quote_literal(f'check constraint "{name}" of relation "{table.name}" is violated by some row')
            steps.append(f"SELECT pg_raise('23514', {message}) FROM {_q(table.name)} WHERE NOT ({plain}) LIMIT 1")
        steps.extend(self._check_triggers(table, name, expr.copy()))
        columns = tuple(referenced) if len(referenced) == 1 else ()
        # index_oid 0 (not NULL) marks a CHECK enforced by triggers (CREATE TABLE's are SQLite CHECKs)
        con = Constraint(name, table.oid, "c", columns, index_oid=0, definition=pg_text)
        steps.append(C.insert_constraint_sql(con, table.name))
        steps.append(f"UPDATE {C.CONSTRAINTS} SET index_oid = 0 "
                     f"WHERE table_oid = {C.oid_of_sql(table.name)} AND name = {quote_literal(C.bare_name(name))}")
        return catalog.with_table(replace(table, constraints=(*table.constraints, con))), steps

    def _add_unique(self, catalog: Catalog, table: Table, cols: list[str], name: str,
                    primary: bool) -> tuple[Catalog, list[str]]:
        for col_name in cols:
            if table.column(col_name) is None:
                raise SqlError("42703", f'column "{col_name}" of relation "{table.name}" does not exist')
        if primary and table.primary_key is not None:
            raise SqlError("42P16", f'multiple primary keys for table "{table.name}" are not allowed')
        if catalog.relation_exists(name):
            raise SqlError("42P07", f'relation "{name}" already exists')
        steps: list[str] = []
        columns = list(table.columns)
        if primary:
            for i, col in enumerate(columns):
                if col.name in cols and not col.not_null:
                    steps.append(_null_check_sql(table.name, col.name))
                    steps.extend(_nn_trigger_sql(table.name, col.name))
                    steps.append(f"UPDATE {C.COLUMNS} SET not_null = 1 WHERE table_oid = {C.oid_of_sql(table.name)} "
                                 f"AND name = {quote_literal(col.name)}")
                    columns[i] = replace(col, not_null=True)
        storage = index_storage_name(catalog, name)
        steps.append(f"CREATE UNIQUE INDEX {_q(storage)} ON {_q(table.name)} ({', '.join(_q(c) for c in cols)})")
        steps.extend(C.insert_index_sql(name, table.name, cols, True, primary, storage))
        con = Constraint(name, table.oid, "p" if primary else "u", tuple(cols))
        steps.append(C.insert_constraint_sql(con, table.name, index_name=name))
        index = Index(0, name, table.oid, tuple(cols), True, primary, storage)
        new_table = replace(table, columns=tuple(columns), indexes=(*table.indexes, index),
                            constraints=(*table.constraints, con))
        return catalog.with_table(new_table), steps

    def _add_column(self, catalog: Catalog, table: Table, item: exp.ColumnDef) -> tuple[Catalog, list[str]]:
        if table.column(item.name) is not None:
            if item.args.get("exists"):
                return catalog, []
            raise SqlError("42701", f'column "{item.name}" of relation "{table.name}" already exists')
        attnum = max((c.attnum for c in table.columns), default=0) + 1
        sequences: list[Sequence] = []
        pending: list[tuple[str, exp.Expression, str | None]] = []
        col = self._column(item, table.name, attnum, sequences, pending)
        steps = [f"ALTER TABLE {_q(table.name)} ADD COLUMN {_q(col.name)} {_storage_decl(Ty(col.type_oid, col.typmod))}"]
        for seq in sequences:
            steps.extend(C.insert_sequence_sql(seq, table.name))
            catalog = catalog.with_sequence(seq)
        steps.append(C.insert_columns_sql(table.name, [col]) or "")
        if col.default_sql is not None:
            steps.append(f"UPDATE {_q(table.name)} SET {_q(col.name)} = ({col.default_sql})")
        if col.not_null:
            steps.append(_null_check_sql(table.name, col.name))
            steps.extend(_nn_trigger_sql(table.name, col.name))
        new_table = replace(table, columns=(*table.columns, col))
        catalog = catalog.with_table(new_table)
        for con in new_table.constraints:
            if con.type == "c" and con.index_oid == 0:
                steps.extend(self._check_triggers(new_table, con.name))
        for _kind, pending_item, _name in pending:
            body = pending_item.args["kind"] if isinstance(pending_item, exp.ColumnConstraint) else pending_item
            cname = (pending_item.name or None) if isinstance(pending_item, exp.ColumnConstraint) else None
            if isinstance(body, exp.PrimaryKeyColumnConstraint):
                catalog, more = self._add_unique(catalog, new_table, [col.name], cname or f"{table.name}_pkey", True)
                steps.extend(more)
            elif isinstance(body, exp.UniqueColumnConstraint):
                catalog, more = self._add_unique(catalog, new_table, [col.name],
                                                 cname or f"{table.name}_{col.name}_key", False)
                steps.extend(more)
            elif isinstance(body, exp.Reference):
                fk = exp.ForeignKey(expressions=[exp.to_identifier(col.name)], reference=body)
                catalog, more = self._add_foreign_key(catalog, catalog.user_table(table.name) or new_table, fk,
                                                      cname, True)
                steps.extend(more)
            else:
                raise SqlError("0A000", "ADD COLUMN with CHECK is not supported")
        return catalog, steps

    def _drop_column(self, catalog: Catalog, table: Table, action: exp.Drop) -> tuple[Catalog, list[str]]:
        steps: list[str] = []
        for target in action.expressions or action.args.get("tables") or []:
            name = target.name
            col = table.column(name)
            if col is None:
                if action.args.get("exists"):
                    continue
                raise SqlError("42703", f'column "{name}" of relation "{table.name}" does not exist')
            if len(table.columns) == 1:
                raise SqlError("0A000", "dropping the last column of a table is not supported")
            for index in table.indexes:
                if name in index.columns:
                    if index.sqlite_name is None:
                        raise SqlError("0A000", f'cannot drop column "{name}": it is part of constraint {index.name}')
                    steps.append(f"DROP INDEX {_q(index.sqlite_name)}")
                    steps.extend(C.drop_index_sql(index.name))
            for suffix in ("_i", "_u"):
                steps.append(f"DROP TRIGGER IF EXISTS {_q(f'__strata_nn_{table.name}_{name}{suffix}')}")
            for con in table.constraints:  # PostgreSQL drops the constraints that use the column
                if con.type == "f" and name in con.columns:
                    catalog, more = self._drop_foreign_key(catalog, table, con)
                    steps.extend(more)
                    table = catalog.user_table(table.name) or table
                elif con.type == "c" and con.index_oid == 0:
                    steps.extend(self._drop_check_triggers(table, con.name))  # they name every column
                    if name not in _check_columns(con.definition or ""):
                        continue
                    steps.append(f"DELETE FROM {C.CONSTRAINTS} WHERE table_oid = {C.oid_of_sql(table.name)} "
                                 f"AND name = {quote_literal(C.bare_name(con.name))}")
                    table = replace(table, constraints=tuple(c for c in table.constraints if c.name != con.name))
                    catalog = catalog.with_table(table)
            steps.append(f"ALTER TABLE {_q(table.name)} DROP COLUMN {_q(name)}")
            steps.append(f"DELETE FROM {C.COLUMNS} WHERE table_oid = {C.oid_of_sql(table.name)} AND name = {quote_literal(name)}")
            table = replace(
                table,
                columns=tuple(c for c in table.columns if c.name != name),
                indexes=tuple(i for i in table.indexes if name not in i.columns),
                constraints=tuple(c for c in table.constraints if name not in c.columns),
            )
            for con in table.constraints:
                if con.type == "c" and con.index_oid == 0:
                    steps.extend(self._check_triggers(table, con.name))
            catalog = catalog.with_table(table)
        return catalog, steps

    def _alter_column(self, catalog: Catalog, table: Table, action: exp.AlterColumn) -> tuple[Catalog, list[str]]:
        name = action.name
        col = table.column(name)
        if col is None:
            raise SqlError("42703", f'column "{name}" of relation "{table.name}" does not exist')
        where = f"WHERE table_oid = {C.oid_of_sql(table.name)} AND name = {quote_literal(name)}"
        steps: list[str] = []
        new_col = col
        if action.args.get("drop") and action.args.get("allow_null") is None:
            steps.append(f"UPDATE {C.COLUMNS} SET default_expr = NULL, default_sql = NULL {where}")
            new_col = replace(col, default_expr=None, default_sql=None)
        elif action.args.get("default") is not None:
            pg_text, sql = self._default(action.args["default"], col, table.name)
            steps.append(f"UPDATE {C.COLUMNS} SET default_expr = {quote_literal(pg_text)}, "
                         f"default_sql = {quote_literal(sql)} {where}")
            new_col = replace(col, default_expr=pg_text, default_sql=sql)
        elif action.args.get("allow_null") is False:
            if not col.not_null:
                steps.append(_null_check_sql(table.name, name))
                steps.extend(_nn_trigger_sql(table.name, name))
                steps.append(f"UPDATE {C.COLUMNS} SET not_null = 1 {where}")
            new_col = replace(col, not_null=True)
        elif action.args.get("allow_null") is True or action.args.get("drop"):
            if col.not_null:
                pk = table.primary_key
                if pk is not None and name in pk.columns:
                    raise SqlError("42P16", f'column "{name}" is in a primary key')
                steps.extend(f"DROP TRIGGER IF EXISTS {_q(f'__strata_nn_{table.name}_{name}{s}')}" for s in ("_i", "_u"))
                steps.extend(_drop_declared_not_null_sql(table.name, name))
                steps.append(f"UPDATE {C.COLUMNS} SET not_null = 0 {where}")
            new_col = replace(col, not_null=False)
        elif action.args.get("dtype") is not None:
            new_ty = ty.resolve_type(action.args["dtype"], catalog)
            using = action.args.get("using")
            enum_steps = self._enum_column_type(catalog, table, col, new_ty,
                                                using if isinstance(using, exp.Expression) else None)
            old_info, new_info = T.TYPES.get(col.type_oid), T.TYPES.get(new_ty.oid)
            if enum_steps is not None:
                steps.extend(enum_steps)
                steps.append(f"UPDATE {C.COLUMNS} SET type_oid = {new_ty.oid}, typmod = {new_ty.typmod} {where}")
                new_col = replace(col, type_oid=new_ty.oid, typmod=new_ty.typmod)
            elif old_info is None or new_info is None or old_info.sqlite_type != new_info.sqlite_type or (
                (col.type_oid == T.NUMERIC) != (new_ty.oid == T.NUMERIC)
            ):
                raise SqlError("0A000", "ALTER COLUMN TYPE between different storage classes is not supported")
            else:
                if isinstance(using, exp.Expression):  # any expression over the row, assigned to the new type
                    scope = Scope(sources=[Source("", "", [SourceColumn(c.name, Ty(c.type_oid, c.typmod))
                                                           for c in table.columns])])
                    compiled, using_ty = self.qc.ex.compile(using, scope)
                    target = replace(col, type_oid=new_ty.oid, typmod=new_ty.typmod)
                    value = generate(self.qc.assign(compiled, using_ty, target, table))
                    steps.append(f"UPDATE {_q(table.name)} SET {_q(name)} = {value}")
                else:
                    # assignment semantics, as PostgreSQL: a too long value is 22001, not truncated
                    value = f"pg_cast({_q(name)}, {col.type_oid}, {new_ty.oid})"
                    if new_ty.typmod >= 0:
                        value = f"pg_typmod({value}, {new_ty.oid}, {new_ty.typmod})"
                    steps.append(f"UPDATE {_q(table.name)} SET {_q(name)} = {value} WHERE {_q(name)} IS NOT NULL")
                steps.append(f"UPDATE {C.COLUMNS} SET type_oid = {new_ty.oid}, typmod = {new_ty.typmod} {where}")
                new_col = replace(col, type_oid=new_ty.oid, typmod=new_ty.typmod)
        else:
            raise SqlError("0A000", "this ALTER COLUMN form is not supported")
        steps.extend(C.BUMP_SCHEMA_VERSION)
        columns = tuple(new_col if c.name == name else c for c in table.columns)
        return catalog.with_table(replace(table, columns=columns)), steps

    def _enum_column_type(self, catalog: Catalog, table: Table, col: Column, new_ty: Ty,
                          using: exp.Expression | None) -> list[str] | None:
        """ALTER COLUMN TYPE to or from an enum (None: neither type is an enum).

        Labels are TEXT in storage, so the SQLite column stays; the values are converted (and
        checked) in place. Like PostgreSQL, a string column needs ``USING col::enum``."""
        old_enum, new_enum = catalog.enum_by_oid(col.type_oid), catalog.enum_by_oid(new_ty.oid)
        if old_enum is None and new_enum is None:
            return None
        ref = _q(col.name)
        target = replace(col, type_oid=new_ty.oid, typmod=new_ty.typmod)
        cannot = SqlError("42804", f'column "{col.name}" cannot be cast automatically to type '
                                   f"{catalog.format_type(new_ty.oid, new_ty.typmod)}",
                          hint=f'You might need to specify "USING {col.name}::'
                               f'{catalog.format_type(new_ty.oid, new_ty.typmod)}".')
        value: exp.Expression | None
        if using is not None:
            scope = Scope(sources=[Source("", "", [SourceColumn(c.name, Ty(c.type_oid, c.typmod))
                                                   for c in table.columns])])
            compiled, src = self.qc.ex.compile(using, scope)
            value = self.qc.assign(compiled, src, target, table)
        elif col.type_oid == new_ty.oid:
            value = None
        elif old_enum is not None and new_ty.oid in ty.STRINGS:
            value = exp.Anonymous(this="pg_typmod", expressions=[exp.column(col.name, quoted=True),
                                                                 exp.Literal.number(new_ty.oid),
                                                                 exp.Literal.number(new_ty.typmod)]) \
                if new_ty.typmod >= 0 else None
        else:
            raise cannot
        if new_enum is not None and col.default_sql is not None and col.type_oid != new_ty.oid:
            literal = col.default_sql.startswith("'") and col.default_sql.endswith("'")
            if not literal or col.default_sql[1:-1].replace("''", "'") not in new_enum.labels:
                raise SqlError("42804", f'default for column "{col.name}" cannot be cast automatically to type '
                                        f"{new_enum.name}")
        if value is None:
            return []
        return [f"UPDATE {_q(table.name)} SET {ref} = {generate(value)}"]
