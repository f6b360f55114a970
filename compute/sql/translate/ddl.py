"""DDL: CREATE/DROP/ALTER TABLE, indexes, sequences, views, TRUNCATE.

Each DDL translation emits the SQLite DDL plus the ``__strata_*`` catalog maintenance in one
list of steps (same transaction), and returns the derived Catalog so later statements in the
same query string see the change.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

from sqlglot import exp
from sqlglot.tokens import Token, TokenType

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
from compute.sql.translate.ddl_alter import TableDdl, index_storage_name
from compute.sql.translate.ddl_sql import (
    FK_TRIGGER_SUFFIXES,
    DdlResult,
    _declared_primary_key,
    _opclass_name,
    _q,
    _seq_number,
    _storage_decl,
    drop_triggers_sql,
    fk_options,
    fk_trigger_prefix,
    fk_trigger_sql,
)
from compute.sql.translate.query import generate
from compute.sql.translate.scope import Scope, Source, SourceColumn
from compute.sql.translate.tokens import Tokens
from compute.sql.types import Ty


@dataclass
class _NewTable:
    """What CREATE TABLE collects from its column list before it emits the steps."""

    name: str
    options: list[str]
    columns: list[Column] = field(default_factory=list)
    table_constraints: list[str] = field(default_factory=list)  # inline in the SQLite CREATE TABLE
    unique_indexes: list[str] = field(default_factory=list)
    checks: list[tuple[str, exp.Expression]] = field(default_factory=list)
    indexes: list[Index] = field(default_factory=list)
    constraints: list[Constraint] = field(default_factory=list)
    sequences: list[Sequence] = field(default_factory=list)
    pk_cols: list[str] = field(default_factory=list)
    pending: list[tuple[str, exp.Expression, str | None]] = field(default_factory=list)  # (kind, node, name)
    fk_refs: dict[str, str] = field(default_factory=dict)  # foreign key name -> referenced table
    fk_pending: list[tuple[str, list[str], str, list[str], dict[str, object]]] = field(default_factory=list)
    used_names: set[str] = field(default_factory=set)

    def by_name(self) -> dict[str, Column]:
        return {c.name: c for c in self.columns}

    def unique_name(self, base: str, catalog: Catalog) -> str:
        """``base`` (a key: schema.name outside public) or base1, base2... while taken."""
        candidate = base
        i = 1
        while candidate in self.used_names or catalog.relation_exists(candidate):
            candidate = f"{base}{i}"
            i += 1
        self.used_names.add(candidate)
        return candidate


class DdlCompiler(TableDdl):
    """CREATE / DROP of tables, indexes, sequences and views, COMMENT, TRUNCATE (ALTER TABLE and the
    column resolution: ``TableDdl``)."""

    # ------------------------------------------------------------------ CREATE TABLE
    def create_table(self, node: exp.Create) -> DdlResult:
        return self._in_temp_schema(node, self._create_table(node))

    def _in_temp_schema(self, node: exp.Create, result: DdlResult) -> DdlResult:
        """A temporary relation: the steps that make the session's temporary schema go first
        when this is its first one (translate/schemas.py)."""
        if not C.split_key(self._name(node.this))[0].startswith(C.TEMP_SCHEMA_PREFIX) or not result.steps:
            return result
        steps, catalog = C.temp_schema_sql(self.catalog)
        if steps:
            result.steps[:0] = steps
            result.catalog = (result.catalog or catalog).with_schema(catalog.schemas[str(catalog.temp_name)])
        return result

    def _create_table(self, node: exp.Create) -> DdlResult:
        props = node.args.get("properties")
        options: list[str] = []
        on_commit = node.meta.get("on_commit")  # CREATE TEMP TABLE ... ON COMMIT (translate/schemas.py)
        if on_commit is not None and not C.split_key(self._name(node.this))[0].startswith(C.TEMP_SCHEMA_PREFIX):
            raise SqlError("42P16", "ON COMMIT can only be used on temporary tables")
        if on_commit in ("drop", "delete"):
            options.append(f"on_commit={on_commit}")
        if props is not None:
            for prop in props.expressions:
                if isinstance(prop, exp.TemporaryProperty):
                    continue  # its name is in the session's pg_temp_<n> (translate/schemas.py)
                if isinstance(prop, exp.WithDataProperty):  # CREATE TABLE AS ... WITH [NO] DATA
                    node.set("with_data", not prop.args.get("no"))
                    continue
                if isinstance(prop, exp.PartitionedByProperty):
                    raise SqlError("0A000", "partitioned tables are not supported")
                if isinstance(prop, exp.Property):
                    options.append(f"{prop.name}={prop.args['value'].name}")
        name = self._name(node.this)
        if self.catalog.relation_exists(name) or self.catalog.table(name) is not None:
            if node.args.get("exists"):
                return DdlResult("CREATE TABLE", notices=[f'relation "{name}" already exists, skipping'])
            raise SqlError("42P07", f'relation "{name}" already exists')
        if name in self.catalog.enums:  # a table's row type would take the enum's name
            raise SqlError("42710", f'type "{name}" already exists',
                           hint="A relation has an associated type of the same name, so you must use a name "
                                "that doesn't conflict with any existing type.")
        if node.expression is not None:
            return self.create_table_as(node, name, options)
        schema = node.this
        if not isinstance(schema, exp.Schema):
            raise SqlError("42601", "CREATE TABLE needs a column list")
        b = _NewTable(name, options)
        for item in schema.expressions:
            if isinstance(item, exp.ColumnDef):
                b.columns.append(self._column(item, name, len(b.columns) + 1, b.sequences, b.pending))
            else:
                b.pending.append(("table", item, None))
        names = [c.name for c in b.columns]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise SqlError("42701", f'column "{dup}" specified more than once')
        for _kind, item, col_name in b.pending:
            self._table_constraint(b, item, col_name)
        if b.pk_cols:
            b.columns = [replace(c, not_null=True) if c.name in b.pk_cols else c for c in b.columns]
        return self._create_table_steps(b)

    def _table_constraint(self, b: _NewTable, item: exp.Expression, col_name: str | None) -> None:
        """One PRIMARY KEY / UNIQUE / CHECK / FOREIGN KEY of a new table, column or table level."""
        name = b.name
        constraint_name = None
        body = item
        if isinstance(item, exp.Constraint):
            constraint_name = item.name
            body = item.expressions[0]
        if isinstance(body, exp.ColumnConstraint):
            constraint_name = constraint_name or body.name or None
            body = body.args["kind"]
        if constraint_name:  # constraint names are keyed like relations (schema.name outside public)
            constraint_name = C.relation_key(C.split_key(name)[0], constraint_name)
        if isinstance(body, (exp.PrimaryKey, exp.PrimaryKeyColumnConstraint)):
            cols = [col_name] if col_name else [e.name for e in body.expressions]
            if b.pk_cols:
                raise SqlError("42P16", f'multiple primary keys for table "{name}" are not allowed')
            self._check_cols(cols, b.by_name(), name)
            b.pk_cols = cols
            cname = constraint_name or b.unique_name(f"{name}_pkey", self.catalog)
            b.used_names.add(cname)
            b.table_constraints.append(f"CONSTRAINT {_q(cname)} PRIMARY KEY ({', '.join(_q(c) for c in cols)})")
            b.indexes.append(Index(0, cname, 0, tuple(cols), True, True, None))
            b.constraints.append(Constraint(cname, 0, "p", tuple(cols)))
        elif isinstance(body, exp.UniqueColumnConstraint):
            cols = [col_name] if col_name else [e.name for e in body.this.expressions]
            self._check_cols(cols, b.by_name(), name)
            cname = constraint_name or b.unique_name(f"{name}_{'_'.join(cols)}_key", self.catalog)
            b.used_names.add(cname)
            # a named SQLite index rather than an inline UNIQUE, so DROP CONSTRAINT can remove it
            storage = index_storage_name(self.catalog, cname)
            b.unique_indexes.append(f"CREATE UNIQUE INDEX {_q(storage)} ON {_q(name)} ({', '.join(_q(c) for c in cols)})")
            b.indexes.append(Index(0, cname, 0, tuple(cols), True, False, storage))
            b.constraints.append(Constraint(cname, 0, "u", tuple(cols)))
        elif isinstance(body, exp.CheckColumnConstraint):
            # PostgreSQL names it after the one column the expression uses, if it uses just one
            used = sorted({c.name for c in body.this.find_all(exp.Column)})
            named_col = used[0] if len(used) == 1 else None
            cname = constraint_name or b.unique_name(f"{name}_{named_col}_check" if named_col else f"{name}_check",
                                                     self.catalog)
            pg_text = body.this.sql(dialect="postgres")  # before compiling, which rewrites the tree
            self._check_sql(body.this.copy(), b.columns)  # errors in the expression (42703, 42804...)
            # enforced by triggers like an ALTER TABLE ADD CHECK (index_oid 0), so it can be dropped
            b.checks.append((cname, body.this.copy()))
            b.constraints.append(Constraint(cname, 0, "c", (col_name,) if col_name else (), index_oid=0,
                                            definition=pg_text))
        elif isinstance(body, (exp.ForeignKey, exp.Reference)):
            self._table_foreign_key(b, body, col_name, constraint_name)
        else:
            raise SqlError("0A000", f"constraint {type(body).__name__} is not supported")

    def _table_foreign_key(self, b: _NewTable, body: exp.ForeignKey | exp.Reference, col_name: str | None,
                           constraint_name: str | None) -> None:
        name = b.name
        if isinstance(body, exp.Reference):
            cols = [col_name] if col_name else []
            ref = body
        else:
            cols = [e.name for e in body.expressions]
            ref = body.args["reference"]
        ref_schema = ref.this
        ref_table_name = self._name(ref_schema)
        temp = C.split_key(name)[0].startswith(C.TEMP_SCHEMA_PREFIX)
        if temp != C.split_key(ref_table_name)[0].startswith(C.TEMP_SCHEMA_PREFIX):
            kind = "temporary tables may reference only temporary" if temp else \
                "permanent tables may reference only permanent"
            raise SqlError("42P16", f"constraints on {kind} tables")
        ref_table = self.catalog.user_table(ref_table_name) if ref_table_name != name else None
        if ref_table is None and ref_table_name != name:
            raise SqlError("42P01", f'relation "{ref_table_name}" does not exist')
        ref_cols = [e.name for e in ref_schema.expressions] if isinstance(ref_schema, exp.Schema) else []
        if not ref_cols and ref_table_name == name:  # self-reference: this table's primary key
            ref_cols = _declared_primary_key(b.pending)
        if not ref_cols:
            pk = ref_table.primary_key if ref_table is not None else None
            if pk is None:
                raise SqlError("42830", f'there is no primary key for referenced table "{ref_table_name}"')
            ref_cols = list(pk.columns)
        cname = constraint_name or b.unique_name(f"{name}_{'_'.join(cols)}_fkey", self.catalog)
        info = fk_options(ref)
        info["trigger"] = fk_trigger_prefix(name, cname)  # enforced by triggers (see fk_trigger_sql)
        b.fk_pending.append((cname, cols, ref_table_name, ref_cols, info))
        b.fk_refs[cname] = ref_table_name
        b.constraints.append(Constraint(cname, 0, "f", tuple(cols), None, json.dumps(info), None,
                                        tuple(ref_cols)))

    def _create_table_steps(self, b: _NewTable) -> DdlResult:
        name = b.name
        col_decls: list[str] = []
        for col in b.columns:
            decl = f"{_q(col.name)} {_storage_decl(Ty(col.type_oid, col.typmod))}"
            if col.not_null:
                decl += " NOT NULL"
            col_decls.append(decl)
        ddl = f"CREATE TABLE {_q(name)} ({', '.join(col_decls + b.table_constraints)}) STRICT"
        steps = [ddl, C.insert_relation_sql(name, "r", b.options)]
        columns_sql = C.insert_columns_sql(name, b.columns)
        if columns_sql:
            steps.append(columns_sql)
        steps.extend(b.unique_indexes)
        for index in b.indexes:
            steps.extend(C.insert_index_sql(index.name, name, index.columns, index.unique, index.primary,
                                            index.sqlite_name))
        for con in b.constraints:
            steps.append(C.insert_constraint_sql(
                con, name, index_name=con.name if con.type in ("p", "u") else None, ref_table=b.fk_refs.get(con.name)))
            if con.type == "c":
                steps.append(f"UPDATE {C.CONSTRAINTS} SET index_oid = 0 "
                             f"WHERE table_oid = {C.oid_of_sql(name)} AND name = {quote_literal(C.bare_name(con.name))}")
        for seq in b.sequences:
            steps.extend(C.insert_sequence_sql(seq, name))
        steps.extend(self._table_foreign_key_steps(b))
        table = Table(0, name, tuple(b.columns), options=tuple(b.options),
                      indexes=tuple(b.indexes), constraints=tuple(b.constraints))
        for cname, expr in b.checks:
            steps.extend(self._check_triggers(table, cname, expr))
        new_catalog = self.catalog.with_table(table)
        for seq in b.sequences:
            new_catalog = new_catalog.with_sequence(seq)
        return DdlResult("CREATE TABLE", steps, new_catalog)

    def _table_foreign_key_steps(self, b: _NewTable) -> list[str]:
        """The new table's foreign keys, checked against the parent now that all columns are known."""
        name = b.name
        steps: list[str] = []
        final = {c.name: c for c in b.columns}
        for cname, cols, ref_table_name, ref_cols, info in b.fk_pending:
            parent = self.catalog.user_table(ref_table_name)
            parent_cols = final if ref_table_name == name else {c.name: c for c in parent.columns} if parent else {}
            parent_keys = b.indexes if ref_table_name == name else list(parent.indexes) if parent else []
            for col_name in cols:
                if col_name not in final:
                    raise SqlError("42703", f'column "{col_name}" referenced in foreign key constraint does not exist')
            for col_name in ref_cols:
                if col_name not in parent_cols:
                    raise SqlError("42703", f'column "{col_name}" referenced in foreign key constraint does not exist')
            if len(cols) != len(ref_cols):
                raise SqlError("42830", "number of referencing and referenced columns for foreign key disagree")
            if not any(i.unique and sorted(i.columns) == sorted(ref_cols) for i in parent_keys):
                raise SqlError("42830", f'there is no unique constraint matching given keys for referenced table '
                               f'"{ref_table_name}"')
            for cc, pc in zip([final[c] for c in cols], [parent_cols[c] for c in ref_cols], strict=True):
                if cc.type_oid != pc.type_oid and max(cc.type_oid, pc.type_oid) >= C.FIRST_USER_OID:
                    raise SqlError(  # an enum key matches only the same enum
                        "42804", f'foreign key constraint "{cname}" cannot be implemented',
                        detail=f'Key columns "{cc.name}" and "{pc.name}" are of incompatible types: '
                               f"{self.catalog.format_type(cc.type_oid, cc.typmod)} and "
                               f"{self.catalog.format_type(pc.type_oid, pc.typmod)}.")
            steps.extend(fk_trigger_sql(str(info["trigger"]), cname, name, [final[c] for c in cols], ref_table_name,
                                        [parent_cols[c] for c in ref_cols], info))
        return steps

    def _check_cols(self, cols: list[str], by_name: dict[str, Column], table: str) -> None:
        for col in cols:
            if col not in by_name:
                raise SqlError("42703", f'column "{col}" named in key does not exist')

    def create_table_as(self, node: exp.Create, name: str, options: list[str]) -> DdlResult:
        rename = None
        if isinstance(node.this, exp.Schema) and node.this.expressions:
            rename = [e.name for e in node.this.expressions]
        sql, cols = self.qc.subquery(node.expression, Scope(), rename=rename)
        columns = [Column(c.name, i + 1, c.ty.oid if c.ty.oid != T.UNKNOWN else T.TEXT, c.ty.typmod)
                   for i, c in enumerate(cols)]
        decls = ", ".join(f"{_q(c.name)} {_storage_decl(Ty(c.type_oid, c.typmod))}" for c in columns)
        steps = [f"CREATE TABLE {_q(name)} ({decls}) STRICT", C.insert_relation_sql(name, "r", options)]
        columns_sql = C.insert_columns_sql(name, columns)
        if columns_sql:
            steps.append(columns_sql)
        with_data = node.args.get("with_data") if "with_data" in node.args else None
        if with_data is not False:
            steps.append(f"INSERT INTO {_q(name)} SELECT * FROM ({sql})")
        table = Table(0, name, tuple(columns), options=tuple(options))
        self.state.is_write = True
        return DdlResult("SELECT", steps, self.catalog.with_table(table), count_last_step=True)

    # ------------------------------------------------------------------ DROP
    def drop(self, node: exp.Drop) -> DdlResult:
        kind = (node.args.get("kind") or "TABLE").upper()
        if_exists = bool(node.args.get("exists"))
        names = [self._name(t) for t in node.expressions] if node.expressions else []
        if not names:
            names = [self._name(t) for t in node.args.get("tables") or []]
        if kind in ("TABLE", "VIEW"):
            return self.drop_relations(names, kind, if_exists, bool(node.args.get("cascade")))
        if kind == "INDEX":
            return self.drop_indexes(names, if_exists)
        if kind == "SEQUENCE":
            return self.drop_sequences(names, if_exists)
        if kind == "SCHEMA":
            raise SqlError("0A000", "DROP SCHEMA is not supported")
        raise SqlError("0A000", f"DROP {kind} is not supported")

    def drop_relations(self, names: list[str], kind: str, if_exists: bool, cascade: bool) -> DdlResult:
        steps: list[str] = []
        notices: list[str] = []
        catalog = self.catalog
        noun = kind.lower()
        for name in names:
            table = catalog.user_table(name)
            if table is None:
                if if_exists:
                    notices.append(_missing_notice(catalog, noun, name))
                    continue
                if catalog.table(name) is not None:
                    raise SqlError("42501", f'permission denied: "{name}" is a system catalog')
                raise SqlError("42P01", f'{noun} "{name}" does not exist')
            if kind == "TABLE" and table.kind == "v":
                raise SqlError("42809", f'"{name}" is not a table', hint="Use DROP VIEW to remove a view.")
            if kind == "VIEW" and table.kind != "v":
                raise SqlError("42809", f'"{name}" is not a view', hint="Use DROP TABLE to remove a table.")
            incoming = [(other, con) for other in catalog.tables.values() if other.name not in names
                        and other.name != name for con in other.constraints
                        if con.type == "f" and con.ref_table == table.oid and table.oid]
            if incoming and not cascade:
                other, con = incoming[0]
                raise SqlError(
                    "2BP01",
                    f"cannot drop table {name} because other objects depend on it",
                    detail=f"constraint {C.bare_name(con.name)} on table {other.name} depends on table {name}",
                    hint="Use DROP ... CASCADE to drop the dependent objects too.",
                )
            for other, con in incoming:
                notices.append(f"drop cascades to constraint {C.bare_name(con.name)} on table {other.name}")
                catalog, more = self._drop_foreign_key(catalog, catalog.user_table(other.name) or other, con)
                steps.extend(more)
            for con in table.constraints:
                prefix = json.loads(con.definition or "{}").get("trigger") if con.type == "f" else None
                if prefix:  # its parent-side triggers live on the referenced table
                    steps.extend(drop_triggers_sql(str(prefix), FK_TRIGGER_SUFFIXES))
            steps.append(f"DROP {'VIEW' if table.kind == 'v' else 'TABLE'} {_q(name)}")
            steps.extend(C.drop_relation_sql(name))
            catalog = catalog.without_table(name)
        tag = f"DROP {kind}"
        return DdlResult(tag, steps, catalog, notices)

    def drop_indexes(self, names: list[str], if_exists: bool) -> DdlResult:
        steps: list[str] = []
        notices: list[str] = []
        catalog = self.catalog
        for name in names:
            index = catalog.index(name)
            if index is None:
                if if_exists:
                    notices.append(f'index "{name}" does not exist, skipping')
                    continue
                raise SqlError("42704", f'index "{name}" does not exist')
            table = catalog.table_by_oid(index.table_oid) or next(
                (t for t in catalog.tables.values() if index in t.indexes), None)
            if index.sqlite_name is None or any(c.index_oid == index.oid and c.type in "pu" for c in (table.constraints if table else ())):
                if index.primary or index.sqlite_name is None:
                    owner = table.name if table else "?"
                    raise SqlError(
                        "2BP01",
                        f"cannot drop index {name} because constraint {name} on table {owner} requires it",
                        hint=f"You can drop constraint {name} on table {owner} instead.",
                    )
            steps.append(f"DROP INDEX {_q(index.sqlite_name or name)}")
            steps.extend(C.drop_index_sql(name))
            if table is not None:
                catalog = catalog.with_table(replace(table, indexes=tuple(i for i in table.indexes if i.name != name)))
        return DdlResult("DROP INDEX", steps, catalog, notices)

    def drop_sequences(self, names: list[str], if_exists: bool) -> DdlResult:
        steps: list[str] = []
        notices: list[str] = []
        catalog = self.catalog
        for name in names:
            if name not in catalog.sequences:
                if if_exists:
                    notices.append(f'sequence "{name}" does not exist, skipping')
                    continue
                raise SqlError("42P01", f'sequence "{name}" does not exist')
            steps.extend(C.drop_sequence_sql(name))
            catalog = catalog.without_sequence(name)
        steps.extend(C.BUMP_SCHEMA_VERSION)
        return DdlResult("DROP SEQUENCE", steps, catalog, notices)

    # ------------------------------------------------------------------ CREATE INDEX
    def create_index(self, node: exp.Create) -> DdlResult:
        index_node = node.this
        table_name = self._name(index_node.args["table"])
        table = self._existing(table_name)
        params = index_node.args.get("params")
        columns = params.args.get("columns") if params is not None else []
        scope = Scope(sources=[Source("", "", [SourceColumn(c.name, Ty(c.type_oid, c.typmod)) for c in table.columns])])
        parts = []
        names = []
        desc: list[bool] = []
        nulls_first: list[bool] = []
        expr_types: list[int | None] = []  # key type of expression keys (pg_index.indclass)
        opclasses: list[str | None] = []  # operator classes named per key (pg_get_indexdef)
        where_node = params.args.get("where") if params is not None else None
        where_text = where_node.this.sql(dialect="postgres") if where_node is not None else None
        for ordered in columns or []:
            target = ordered.this if isinstance(ordered, exp.Ordered) else ordered
            opclass_node = None
            if isinstance(target, exp.Opclass):
                opclass_node = target.expression
                target = target.this
            desc.append(bool(isinstance(ordered, exp.Ordered) and ordered.args.get("desc")))
            nulls_first.append(bool(isinstance(ordered, exp.Ordered) and ordered.args.get("nulls_first")))
            key_text = target.name if isinstance(target, exp.Column) else target.sql(dialect="postgres")
            compiled, key_ty = self.qc.ex.compile(target, scope)
            expr_types.append(None if isinstance(target, exp.Column) else key_ty.oid)
            opclasses.append(_opclass_name(opclass_node, key_ty) if opclass_node is not None else None)
            text = generate(compiled)
            if isinstance(ordered, exp.Ordered) and ordered.args.get("desc"):
                text += " DESC"
            parts.append(text)
            names.append(key_text)
        name = index_node.name or self._index_name(table_name, names)
        if self.catalog.relation_exists(name):
            if node.args.get("exists"):
                return DdlResult("CREATE INDEX", notices=[f'relation "{name}" already exists, skipping'])
            raise SqlError("42P07", f'relation "{name}" already exists')
        unique = bool(node.args.get("unique"))
        where = params.args.get("where") if params is not None else None
        where_sql = f" WHERE {generate(self.qc.ex.condition(where.this, scope))}" if where is not None else ""
        steps = [
            f"CREATE {'UNIQUE ' if unique else ''}INDEX {_q(index_storage_name(self.catalog, name))} ON "
            f"{_q(table_name)} ({', '.join(parts)}){where_sql}",
            *C.insert_index_sql(name, table_name, names, unique, False, index_storage_name(self.catalog, name)),
        ]
        if any(desc) or any(nulls_first) or where_text or any(expr_types) or any(opclasses):
            # pg_index.indoption / indclass / indpred and pg_get_indexdef read this
            info: dict[str, object] = {"desc": desc, "nulls": nulls_first, "where": where_text, "types": expr_types}
            if any(opclasses):
                info["opclass"] = opclasses
            definition = json.dumps(info)
            steps.append(f"UPDATE {C.TABLES} SET definition = {quote_literal(definition)} "
                         f"WHERE oid = {C.oid_of_sql(name)}")
        index = Index(0, name, table.oid, tuple(names), unique, False, index_storage_name(self.catalog, name))
        return DdlResult("CREATE INDEX", steps, self.catalog.with_table(replace(table, indexes=(*table.indexes, index))))

    def _index_name(self, table: str, cols: list[str]) -> str:
        base = f"{table}_{'_'.join(c if c.isidentifier() else 'expr' for c in cols)}_idx"
        candidate = base
        i = 1
        while self.catalog.relation_exists(candidate):
            candidate = f"{base}{i}"
            i += 1
        return candidate

    # ------------------------------------------------------------------ ALTER TABLE

    # ------------------------------------------------------------------ COMMENT ON
    def comment(self, tokens: tuple[Token, ...], text: str) -> DdlResult:
        """COMMENT ON {TABLE|VIEW|SEQUENCE|INDEX} name | COLUMN rel.col IS 'text' | NULL."""
        ts = Tokens(tokens, text)
        ts.expect("comment", "on")
        kind = ts.next().text.lower()
        if kind == "type":
            return self._comment_on_type(ts)
        if kind not in ("table", "view", "sequence", "index", "column"):
            raise SqlError("0A000", f"COMMENT ON {kind.upper()} is not supported")
        parts = [ts.next_name()]
        while ts.accept("."):
            parts.append(ts.next_name())
        column = parts.pop() if kind == "column" else None
        if len(parts) not in (1, 2):
            raise SqlError("0A000", "cross-database references are not implemented")
        rel = self.catalog.qualify(parts[0] if len(parts) == 2 else None, parts[-1], "any")
        description = _comment_text(ts)
        table = self.catalog.user_table(rel)
        known = {"table": table is not None and table.kind == "r", "view": table is not None and table.kind == "v",
                 "sequence": rel in self.catalog.sequences, "index": self.catalog.index(rel) is not None,
                 "column": table is not None}
        if not known[kind]:
            if self.catalog.relation_exists(rel):
                raise SqlError("42809", f'"{rel}" is not a {kind}')
            raise SqlError("42P01", f'relation "{rel}" does not exist')
        subid = 0
        if column is not None:
            assert table is not None
            col = table.column(column)
            if col is None:
                raise SqlError("42703", f'column "{column}" of relation "{rel}" does not exist')
            subid = col.attnum
        key = f"classoid = 1259 AND objoid = {C.oid_of_sql(rel)} AND objsubid = {subid}"
        steps = [f"DELETE FROM {C.COMMENTS} WHERE {key}"]
        if description:  # PostgreSQL: an empty comment removes it too
            steps.append(f"INSERT INTO {C.COMMENTS} (classoid, objoid, objsubid, description) VALUES "
                         f"(1259, {C.oid_of_sql(rel)}, {subid}, {quote_literal(description)})")
        return DdlResult("COMMENT", steps, self.catalog)

    def _comment_on_type(self, ts: Any) -> DdlResult:
        """COMMENT ON TYPE enum IS ...: pg_description rows with classoid 1247 (pg_type)."""
        name = ts.next_name()
        if ts.accept("."):
            if name != "public":
                raise SqlError("3F000", f'schema "{name}" does not exist')
            name = ts.next_name()
        description = _comment_text(ts)
        enum = self.catalog.enum(name)
        if enum is None:
            raise SqlError("42704", f'type "{name}" does not exist')
        key = f"classoid = 1247 AND objoid = {enum.oid} AND objsubid = 0"
        steps = [f"DELETE FROM {C.COMMENTS} WHERE {key}"]
        if description:
            steps.append(f"INSERT INTO {C.COMMENTS} (classoid, objoid, objsubid, description) VALUES "
                         f"(1247, {enum.oid}, 0, {quote_literal(description)})")
        return DdlResult("COMMENT", steps, self.catalog)

    # ------------------------------------------------------------------ TRUNCATE
    def truncate(self, node: exp.Expression) -> DdlResult:
        steps = []
        for target in node.expressions:
            name = self._name(target)
            table = self._existing(name)
            if table.kind != "r":
                raise SqlError("42809", f'"{name}" is not a table')
            steps.append(f"DELETE FROM {_q(name)}")
        if node.args.get("identity") and str(node.args.get("identity")).upper().startswith("RESTART"):
            for target in node.expressions:
                name = self._name(target)
                steps.append(f"SELECT pg_seq_reset_owned({C.oid_of_sql(name)})")
        self.state.is_write = True
        return DdlResult("TRUNCATE TABLE", steps, None)

    # ------------------------------------------------------------------ sequences / views
    def create_sequence(self, node: exp.Create) -> DdlResult:
        return self._in_temp_schema(node, self._create_sequence(node))

    def _create_sequence(self, node: exp.Create) -> DdlResult:
        name = self._name(node.this)
        if self.catalog.relation_exists(name):
            if node.args.get("exists"):
                return DdlResult("CREATE SEQUENCE", notices=[f'relation "{name}" already exists, skipping'])
            raise SqlError("42P07", f'relation "{name}" already exists')
        seq = Sequence(0, name)
        as_type = node.args.get("expression")
        if isinstance(as_type, exp.DataType):
            type_oid = ty.resolve_type(as_type).oid
            if type_oid not in ty.INTS:
                raise SqlError("22023", "sequence type must be smallint, integer, or bigint")
            top = {T.INT2: 2**15 - 1, T.INT4: 2**31 - 1}.get(type_oid, 2**63 - 1)
            seq = replace(seq, type_oid=type_oid, max_value=top)
        props = node.args.get("properties")
        owner_table = owner_column = None
        if props is not None:
            for prop in props.expressions:
                if not isinstance(prop, exp.SequenceProperties):
                    continue
                inc = _seq_number(prop, "increment")
                if inc is not None:
                    seq = replace(seq, increment=inc)
                lo = _seq_number(prop, "minvalue")
                hi = _seq_number(prop, "maxvalue")
                if seq.increment < 0:
                    seq = replace(seq, min_value=-(2**63), max_value=-1, start=-1)
                if lo is not None:
                    seq = replace(seq, min_value=lo)
                if hi is not None:
                    seq = replace(seq, max_value=hi)
                start = _seq_number(prop, "start")
                seq = replace(seq, start=start if start is not None else (seq.min_value if seq.increment > 0 else seq.max_value))
                options = {o.name.upper() for o in prop.args.get("options") or [] if isinstance(o, exp.Var)}
                if prop.args.get("cycle") or "CYCLE" in options:
                    seq = replace(seq, cycle=True)
                owned = prop.args.get("owned")
                if owned is not None and isinstance(owned, exp.Column):
                    owner_table, owner_column = owned.table, owned.name
        if not seq.min_value <= seq.start <= seq.max_value:
            raise SqlError("22023", f"START value ({seq.start}) cannot be less than MINVALUE ({seq.min_value})")
        seq = replace(seq, owner_column=owner_column)
        steps = [*C.insert_sequence_sql(seq, owner_table), *C.BUMP_SCHEMA_VERSION]
        return DdlResult("CREATE SEQUENCE", steps, self.catalog.with_sequence(seq))

    def alter_sequence(self, text: str) -> DdlResult:
        """ALTER SEQUENCE [IF EXISTS] name {RESTART [WITH n] | INCREMENT BY n | MINVALUE n | MAXVALUE n |
        START WITH n | [NO] CYCLE | NO MINVALUE | NO MAXVALUE}..."""
        words = text.replace(",", " ").split()
        i = 2
        if_exists = [w.lower() for w in words[2:4]] == ["if", "exists"]
        if if_exists:
            i = 4
        if i >= len(words):
            raise SqlError("42601", "syntax error at end of input")
        name = self.catalog.qualify_text(words[i], "seq")  # its key, by the search path (schemas.py)
        seq = self.catalog.sequences.get(name)
        if seq is None:
            if if_exists:
                return DdlResult("ALTER SEQUENCE", notices=[f'relation "{name}" does not exist, skipping'])
            raise SqlError("42P01", f'relation "{name}" does not exist')
        rest = [w.lower() for w in words[i + 1:]]
        sets: dict[str, str] = {}
        restart: int | None = None

        def number(k: int) -> int:
            if k >= len(rest):
                raise SqlError("42601", "syntax error at end of input")
            try:
                return int(rest[k])
            except ValueError:
                raise SqlError("42601", f'syntax error at or near "{rest[k]}"') from None

        k = 0
        new = seq
        owner_sets: dict[str, str] = {}
        while k < len(rest):
            word = rest[k]
            if word == "owned" and k + 2 < len(rest) and rest[k + 1] == "by":
                owner_sets, new = self._sequence_owner(words[i + 1 + k + 2], new)
                k += 3
            elif word == "restart":
                if k + 1 < len(rest) and rest[k + 1] == "with":
                    restart, k = number(k + 2), k + 3
                elif k + 1 < len(rest) and rest[k + 1].lstrip("-").isdigit():
                    restart, k = number(k + 1), k + 2
                else:
                    restart, k = new.start, k + 1
            elif word == "increment":
                k += 2 if k + 1 < len(rest) and rest[k + 1] == "by" else 1
                new, k = replace(new, increment=number(k)), k + 1
            elif word == "start":
                k += 2 if k + 1 < len(rest) and rest[k + 1] == "with" else 1
                new, k = replace(new, start=number(k)), k + 1
            elif word == "minvalue":
                new, k = replace(new, min_value=number(k + 1)), k + 2
            elif word == "maxvalue":
                new, k = replace(new, max_value=number(k + 1)), k + 2
            elif word == "cycle":
                new, k = replace(new, cycle=True), k + 1
            elif word == "no" and k + 1 < len(rest) and rest[k + 1] in ("cycle", "minvalue", "maxvalue"):
                what = rest[k + 1]
                if what == "cycle":
                    new = replace(new, cycle=False)
                elif what == "minvalue":
                    new = replace(new, min_value=1 if new.increment > 0 else -(2**63))
                else:
                    top = {T.INT2: 2**15 - 1, T.INT4: 2**31 - 1}.get(new.type_oid, 2**63 - 1)
                    new = replace(new, max_value=top if new.increment > 0 else -1)
                k += 2
            else:
                raise SqlError("0A000", f"ALTER SEQUENCE ... {word.upper()} is not supported")
        if new.increment == 0:
            raise SqlError("22023", "INCREMENT must not be zero")
        if not new.min_value <= new.start <= new.max_value:
            raise SqlError("22023", f"START value ({new.start}) cannot be less than MINVALUE ({new.min_value})")
        sets = {"increment": str(new.increment), "start_value": str(new.start), "min_value": str(new.min_value),
                "max_value": str(new.max_value), "cycle": "1" if new.cycle else "0"}
        if restart is not None:
            if not new.min_value <= restart <= new.max_value:
                raise SqlError("22023", f"RESTART value ({restart}) cannot be greater than MAXVALUE ({new.max_value})")
            sets["last_value"] = str(restart)
            sets["is_called"] = "0"
        sets.update(owner_sets)
        assignments = ", ".join(f"{col} = {value}" for col, value in sets.items())
        steps = [f"UPDATE {C.SEQUENCES} SET {assignments} WHERE oid = {C.oid_of_sql(name)}",
                 *C.BUMP_SCHEMA_VERSION]
        return DdlResult("ALTER SEQUENCE", steps, self.catalog.with_sequence(new))

    def _sequence_owner(self, target: str, seq: Sequence) -> tuple[dict[str, str], Sequence]:
        """ALTER SEQUENCE ... OWNED BY {table.column | NONE}: the __strata_sequences columns to set."""
        target = target.rstrip(";")
        if target.lower() == "none":
            return {"owner_table": "NULL", "owner_column": "NULL"}, replace(seq, owner_table=None, owner_column=None)
        parts = [p[1:-1] if p.startswith('"') else p.lower() for p in target.split(".")]
        if len(parts) == 3:  # schema.table.column (translate/schemas.py)
            parts = [self.catalog.qualify(parts[0], parts[1]), parts[2]]
        elif len(parts) == 2:
            parts = [self.catalog.qualify(None, parts[0]), parts[1]]
        if len(parts) != 2:
            raise SqlError("42601", "invalid OWNED BY option")
        table = self.catalog.tables.get(parts[0])
        if table is None:
            raise SqlError("42P01", f'relation "{parts[0]}" does not exist')
        if not any(c.name == parts[1] for c in table.columns):
            raise SqlError("42703", f'column "{parts[1]}" of relation "{parts[0]}" does not exist')
        return ({"owner_table": str(table.oid), "owner_column": f"'{parts[1]}'"},
                replace(seq, owner_table=table.oid, owner_column=parts[1]))

    def create_view(self, node: exp.Create) -> DdlResult:
        return self._in_temp_schema(node, self._create_view(node))

    def _create_view(self, node: exp.Create) -> DdlResult:
        name = self._name(node.this)
        existing = self.catalog.user_table(name)
        steps: list[str] = []
        catalog = self.catalog
        if existing is not None or self.catalog.relation_exists(name):
            if node.args.get("replace") and existing is not None and existing.kind == "v":
                steps.append(f"DROP VIEW {_q(name)}")
                steps.extend(C.drop_relation_sql(name))
                catalog = catalog.without_table(name)
            else:
                raise SqlError("42P07", f'relation "{name}" already exists')
        rename = None
        if isinstance(node.this, exp.Schema) and node.this.expressions:
            rename = [e.name for e in node.this.expressions]
        sql, cols = self.qc.subquery(node.expression, Scope(), rename=rename)
        if self.state.params.types:
            raise SqlError("42P02", "there is no parameter $1")
        columns = [Column(c.name, i + 1, c.ty.oid if c.ty.oid != T.UNKNOWN else T.TEXT, c.ty.typmod)
                   for i, c in enumerate(cols)]
        definition = node.meta.get("definition") or node.expression.sql(dialect="postgres")  # schemas.py
        col_list = ", ".join(_q(c.name) for c in columns)
        steps.append(f"CREATE VIEW {_q(name)} ({col_list}) AS {sql}")
        steps.append(C.insert_relation_sql(name, "v", (), definition))
        columns_sql = C.insert_columns_sql(name, columns)
        if columns_sql:
            steps.append(columns_sql)
        table = Table(0, name, tuple(columns), kind="v", definition=definition)
        return DdlResult("CREATE VIEW", steps, catalog.with_table(table))


def _missing_notice(catalog: Catalog, noun: str, key: str) -> str:
    """DROP ... IF EXISTS of a missing object: PostgreSQL names the missing schema if that is it."""
    schema = C.split_key(key)[0]
    if not catalog.schema_exists(schema) and not schema.startswith(C.TEMP_SCHEMA_PREFIX):
        return f'schema "{schema}" does not exist, skipping'
    return f'{noun} "{key}" does not exist, skipping'


def _comment_text(ts: Any) -> str | None:
    """The `IS 'text' | NULL` tail of COMMENT ON (NULL, like '', removes the comment)."""
    ts.expect("is")
    value_tok = ts.next()
    if value_tok.token_type == TokenType.NULL:
        description = None
    elif value_tok.token_type in (TokenType.STRING, TokenType.NATIONAL_STRING, TokenType.HEREDOC_STRING):
        description = value_tok.text
    else:
        raise SqlError("42601", f'syntax error at or near "{value_tok.text}"')
    if not ts.at_end():
        raise ts.error()
    return description
