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
    quote_ident,
    quote_literal,
)
from compute.sql.translate.parse import parse
from compute.sql.translate.query import QueryCompiler, generate
from compute.sql.translate.scope import Scope, Source, SourceColumn, State
from compute.sql.translate.tokens import Tokens
from compute.sql.types import Ty


@dataclass
class DdlResult:
    tag: str
    steps: list[str] = field(default_factory=list)
    catalog: Catalog | None = None
    notices: list[str] = field(default_factory=list)
    count_last_step: bool = False  # CREATE TABLE AS: the tag counts the last step's rows


def _q(name: str) -> str:
    return quote_ident(name)


def _nn_trigger_sql(table: str, column: str) -> list[str]:
    """NOT NULL on a column SQLite declared nullable (added later): enforce with triggers."""
    message = f'23502:null value in column "{column}" of relation "{table}" violates not-null constraint'
    base = f"__strata_nn_{table}_{column}"
    return [
        f"CREATE TRIGGER {_q(base + '_i')} BEFORE INSERT ON {_q(table)} WHEN NEW.{_q(column)} IS NULL "
        f"BEGIN SELECT RAISE(ABORT, {quote_literal(message)}); END",
        f"CREATE TRIGGER {_q(base + '_u')} BEFORE UPDATE OF {_q(column)} ON {_q(table)} "
        f"WHEN NEW.{_q(column)} IS NULL BEGIN SELECT RAISE(ABORT, {quote_literal(message)}); END",
    ]


def _drop_declared_not_null_sql(table: str, column: str) -> list[str]:
    """DROP NOT NULL of a NOT NULL that CREATE TABLE put into SQLite's own DDL.

    Dropping NOT NULL changes no stored record, so (as SQLite's documentation on other schema
    changes describes) the table's DDL text is edited in place; the schema version bump that
    follows every ALTER (BUMP_SCHEMA_VERSION) makes other connections re-read it, and RESET
    re-reads it on this one. A rollback discards the edit with the rest of the transaction.
    """
    return [
        "PRAGMA writable_schema = ON",
        f"UPDATE sqlite_schema SET sql = pg_drop_not_null(sql, {quote_literal(column)}) "
        f"WHERE type = 'table' AND name = {quote_literal(table)}",
        "PRAGMA writable_schema = RESET",
    ]


def _null_check_sql(table: str, column: str) -> str:
    message = f'column "{column}" of relation "{table}" contains null values'
    return (
        f"UPDATE {_q(table)} SET {_q(column)} = pg_raise('23502', {quote_literal(message)}) "
        f"WHERE {_q(column)} IS NULL"
    )


def _seq_number(prop: exp.Expression, key: str) -> int | None:
    value = prop.args.get(key)
    if value is None:
        return None
    return int(value.sql().replace(" ", ""))


_FK_ACTIONS = {"NO ACTION": "a", "RESTRICT": "r", "CASCADE": "c", "SET NULL": "n", "SET DEFAULT": "d"}
_FK_ACTION_SQL = {code: sql for sql, code in _FK_ACTIONS.items()}


def fk_options(ref: exp.Expression) -> dict[str, object]:
    """ON DELETE/UPDATE actions, MATCH and DEFERRABLE of a REFERENCES clause, as pg_constraint codes."""
    info: dict[str, object] = {"upd": "a", "del": "a", "match": "s", "deferrable": False, "deferred": False}
    for option in ref.args.get("options") or []:
        words = " ".join(str(option).upper().split())
        if words.startswith("ON DELETE "):
            info["del"] = _FK_ACTIONS.get(words[10:], "a")
        elif words.startswith("ON UPDATE "):
            info["upd"] = _FK_ACTIONS.get(words[10:], "a")
        elif words == "MATCH FULL":
            info["match"] = "f"
        elif words == "DEFERRABLE":
            info["deferrable"] = True
        elif words == "INITIALLY DEFERRED":
            info["deferred"] = True
    return info


def _value_text_sql(ref: str, type_oid: int) -> str:
    """A stored value as PostgreSQL prints it (for error details), NULL as ``null``."""
    if type_oid == T.BOOL:
        text = f"CASE {ref} WHEN 1 THEN 't' WHEN 0 THEN 'f' END"
    elif type_oid == T.TIMESTAMPTZ:
        text = f"pg_tstz_out({ref})"
    elif type_oid == T.BYTEA:
        text = f"'\\x' || lower(hex({ref}))"
    else:
        text = f"CAST({ref} AS TEXT)"
    return f"coalesce({text}, 'null')"


def _tuple_text_sql(prefix: str, cols: list[Column]) -> str:
    return " || ', ' || ".join(_value_text_sql(f"{prefix}{_q(c.name)}", c.type_oid) for c in cols)


def _declared_primary_key(pending: list[tuple[str, exp.Expression, str | None]]) -> list[str]:
    """The PRIMARY KEY columns among CREATE TABLE's column and table constraints."""
    for _kind, item, col_name in pending:
        body = item.expressions[0] if isinstance(item, exp.Constraint) else item
        if isinstance(body, exp.ColumnConstraint):
            body = body.args["kind"]
        if isinstance(body, exp.PrimaryKeyColumnConstraint) and col_name:
            return [col_name]
        if isinstance(body, exp.PrimaryKey):
            return [e.name for e in body.expressions]
    return []


def _check_columns(definition: str) -> set[str]:
    """Columns a CHECK body (PostgreSQL text) refers to."""
    return {c.name for c in parse(f"SELECT {definition}").find_all(exp.Column)}


def fk_trigger_prefix(table: str, name: str) -> str:
    return f"__strata_fk_{table}_{name}"


def check_trigger_prefix(table: int | str, name: str) -> str:
    """Triggers of a CHECK added by ALTER TABLE: keyed by the table oid (stable under RENAME), or by
    its name when the table was created earlier in the same query string (oid not known yet)."""
    return f"__strata_ck_{table}_{name}"


FK_TRIGGER_SUFFIXES = ("_ci", "_cu", "_pd", "_pu")
UNNAMED_CHECK = "__strata_unnamed_check"  # translator: ALTER TABLE ... ADD CHECK (sqlglot needs a name)
CHECK_TRIGGER_SUFFIXES = ("_i", "_u")


def drop_triggers_sql(prefix: str, suffixes: tuple[str, ...]) -> list[str]:
    return [f"DROP TRIGGER IF EXISTS {_q(prefix + s)}" for s in suffixes]


def _fk_child_violation(row: str, child: str, name: str, ccols: list[Column], parent: str,
                        pcols: list[Column], info: dict[str, object]) -> tuple[str, str, str]:
    """(condition, message, detail) SQL for a child row (``row``: ``NEW.`` or ``c.``) without a parent."""
    cnames = ", ".join(c.name for c in ccols)
    match = " AND ".join(f"p.{_q(pc.name)} = {row}{_q(cc.name)}" for cc, pc in zip(ccols, pcols, strict=True))
    not_null = " AND ".join(f"{row}{_q(c.name)} IS NOT NULL" for c in ccols)
    message = quote_literal(f'insert or update on table "{child}" violates foreign key constraint "{name}"')
    detail = (f"'Key ({cnames})=(' || {_tuple_text_sql(row, ccols)} || " +
              quote_literal(') is not present in table "' + parent + '".'))
    when = f"{not_null} AND NOT EXISTS (SELECT 1 FROM {_q(parent)} AS p WHERE {match})"
    if info.get("match") == "f" and len(ccols) > 1:
        any_null = " OR ".join(f"{row}{_q(c.name)} IS NULL" for c in ccols)
        mixed = quote_literal("MATCH FULL does not allow mixing of null and nonnull key values.")
        detail = f"CASE WHEN {any_null} THEN {mixed} ELSE {detail} END"
        all_null = " AND ".join(f"{row}{_q(c.name)} IS NULL" for c in ccols)
        when = f"({when}) OR (({any_null}) AND NOT ({all_null}))"
    return when, message, detail


def fk_trigger_sql(prefix: str, name: str, child: str, ccols: list[Column], parent: str,
                   pcols: list[Column], info: dict[str, object]) -> list[str]:
    """Foreign key enforcement with triggers (PostgreSQL's messages, SQLSTATE 23503).

    Child side: an inserted/updated row whose key is all non-null must match a parent row (MATCH
    FULL: a partly null key is an error too). Parent side: ON DELETE/ON UPDATE actions.

    A DEFERRABLE constraint asks the session (pg_fk_deferred) whether it is deferred right now;
    if so the violating row is queued (pg_fk_defer) and re-checked at COMMIT or SET CONSTRAINTS
    ... IMMEDIATE (compute/deferred.py) instead of failing the statement.
    """
    steps: list[str] = []
    deferrable = bool(info.get("deferrable"))
    initially = 1 if info.get("deferred") else 0
    deferred_now = f"pg_fk_deferred({quote_literal(prefix)}, {initially})"
    when, message, detail = _fk_child_violation("NEW.", child, name, ccols, parent, pcols, info)
    raise_sql = f"pg_raise('23503', {message}, {detail})"
    body = f"SELECT {raise_sql}"
    insert_when = update_when = when
    if deferrable:
        # while deferred, every new or re-keyed row is queued (PostgreSQL queues the check event
        # whatever the row holds then), so COMMIT reports the first queued row that fails
        body = (f"SELECT CASE WHEN {deferred_now} THEN pg_fk_defer({quote_literal(prefix)}, 'c', NEW.rowid, NULL) "
                f"ELSE {raise_sql} END")
        rekeyed = " OR ".join(f"OLD.{_q(c.name)} IS NOT NEW.{_q(c.name)}" for c in ccols)
        insert_when = f"{deferred_now} OR ({when})"
        update_when = f"({deferred_now} AND ({rekeyed})) OR ({when})"
    col_list = ", ".join(_q(c.name) for c in ccols)
    steps.append(f"CREATE TRIGGER {_q(prefix + '_ci')} AFTER INSERT ON {_q(child)} WHEN {insert_when} "
                 f"BEGIN {body}; END")
    steps.append(f"CREATE TRIGGER {_q(prefix + '_cu')} AFTER UPDATE OF {col_list} ON {_q(child)} "
                 f"WHEN {update_when} BEGIN {body}; END")
    # parent side
    pnames = ", ".join(c.name for c in pcols)
    refs = " AND ".join(f"{_q(cc.name)} = OLD.{_q(pc.name)}" for cc, pc in zip(ccols, pcols, strict=True))
    pmessage = quote_literal(f'update or delete on table "{parent}" violates foreign key constraint "{name}" '
                             f'on table "{child}"')
    pdetail = (f"'Key ({pnames})=(' || {_tuple_text_sql('OLD.', pcols)} || " +
               quote_literal(') is still referenced from table "' + child + '".'))
    referenced = f"EXISTS (SELECT 1 FROM {_q(child)} WHERE {refs})"
    changed = " OR ".join(f"OLD.{_q(c.name)} IS NOT NEW.{_q(c.name)}" for c in pcols)
    pcol_list = ", ".join(_q(c.name) for c in pcols)
    for event, key, suffix, when_extra in (("DELETE", "del", "_pd", ""), (f"UPDATE OF {pcol_list}", "upd", "_pu",
                                                                         f"({changed})")):
        action = str(info.get(key, "a"))
        if action in ("a", "r"):
            cond = f"{when_extra} AND {referenced}" if when_extra else referenced
            trigger_body = f"SELECT pg_raise('23503', {pmessage}, {pdetail})"
            if action == "a" and deferrable:  # RESTRICT is checked at once even when deferrable
                crefs = " AND ".join(f"c.{_q(cc.name)} = OLD.{_q(pc.name)}" for cc, pc in zip(ccols, pcols, strict=True))
                trigger_body = (f"SELECT CASE WHEN {deferred_now} THEN pg_fk_defer({quote_literal(prefix)}, 'p', "
                                f"c.rowid, {pdetail}) ELSE pg_raise('23503', {pmessage}, {pdetail}) END "
                                f"FROM {_q(child)} AS c WHERE {crefs}")
        else:
            cond = when_extra
            if action == "c" and key == "del":
                trigger_body = f"DELETE FROM {_q(child)} WHERE {refs}"
            else:
                if action == "c":
                    values = [f"NEW.{_q(pc.name)}" for pc in pcols]
                elif action == "n":
                    values = ["NULL"] * len(ccols)
                else:
                    values = [f"({c.default_sql})" if c.default_sql else "NULL" for c in ccols]
                sets = ", ".join(f"{_q(cc.name)} = {v}" for cc, v in zip(ccols, values, strict=True))
                trigger_body = f"UPDATE {_q(child)} SET {sets} WHERE {refs}"
        when_sql = f" WHEN {cond}" if cond else ""
        steps.append(f"CREATE TRIGGER {_q(prefix + suffix)} AFTER {event} ON {_q(parent)}{when_sql} "
                     f"BEGIN {trigger_body}; END")
    return steps


def fk_recheck_sql(name: str, child: str, ccols: list[Column], parent: str, pcols: list[Column],
                   info: dict[str, object]) -> str:
    """The queued child rows (rowids as a JSON array in ?1) that still violate the foreign key:
    (rowid, child-side error detail) per row. Run by the session at COMMIT / SET CONSTRAINTS."""
    when, _message, detail = _fk_child_violation("c.", child, name, ccols, parent, pcols, info)
    return (f"SELECT c.rowid, {detail} FROM {_q(child)} AS c "
            f"WHERE c.rowid IN (SELECT value FROM json_each(?1)) AND ({when})")


_BTREE_OPCLASSES = frozenset(
    f"{name}_ops" for name in (
        "array", "bit", "bool", "bpchar", "bpchar_pattern", "bytea", "char", "date", "enum", "float4",
        "float8", "inet", "int2", "int4", "int8", "interval", "jsonb", "macaddr", "money", "name", "numeric",
        "oid", "oidvector", "record", "text", "text_pattern", "time", "timestamp", "timestamptz", "timetz",
        "tid", "uuid", "varbit", "varchar", "varchar_pattern", "xid8", "pg_lsn"))


def _opclass_name(node: exp.Expression, key_type: Ty) -> str:
    """A btree operator class named in CREATE INDEX (e.g. Django's ``varchar_pattern_ops``).

    SQLite indexes compare with the column's collation whatever the class, so the class is only
    recorded for pg_get_indexdef; a name PostgreSQL does not know is 42704 as there.
    """
    name = node.name.lower()
    if name not in _BTREE_OPCLASSES:
        raise SqlError("42704", f'operator class "{node.name}" does not exist for access method "btree"')
    if name.endswith("_pattern_ops") and key_type.oid not in ty.STRINGS:
        raise SqlError("42804", f'operator class "{name}" does not accept data type '
                                f"{T.format_type(key_type.oid, -1)}")
    return name


def _storage_decl(t: Ty) -> str:
    info = T.TYPES.get(t.oid)
    decl = info.sqlite_type if info else "TEXT"
    if t.oid == T.NUMERIC:
        decl += " COLLATE pgnumeric"
    elif t.oid == T.INTERVAL:
        decl += " COLLATE pginterval"  # orders by value (more_functions.interval_key)
    return decl


class DdlCompiler:
    def __init__(self, state: State) -> None:
        self.state = state
        self.catalog = state.catalog
        self.qc = QueryCompiler(state)

    # ------------------------------------------------------------------ helpers
    def _name(self, table: exp.Expression) -> str:
        if isinstance(table, exp.Schema):
            table = table.this
        if not isinstance(table, exp.Table):
            raise SqlError("42601", "expected a relation name")
        if table.db and table.db != "public":
            raise SqlError("3F000", f'schema "{table.db}" does not exist')
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

    # ------------------------------------------------------------------ CREATE TABLE
    def create_table(self, node: exp.Create) -> DdlResult:
        props = node.args.get("properties")
        options: list[str] = []
        if props is not None:
            for prop in props.expressions:
                if isinstance(prop, exp.TemporaryProperty):
                    raise SqlError("0A000", "temporary tables are not supported")
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
        columns: list[Column] = []
        col_decls: list[str] = []
        table_constraints: list[str] = []
        unique_indexes: list[str] = []
        checks: list[tuple[str, exp.Expression]] = []
        indexes: list[Index] = []
        constraints: list[Constraint] = []
        sequences: list[Sequence] = []
        pk_cols: list[str] = []
        pending: list[tuple[str, exp.Expression, str | None]] = []  # (kind, node, name)
        fk_refs: dict[str, str] = {}  # foreign key name -> referenced table
        fk_pending: list[tuple[str, list[str], str, list[str], dict[str, object]]] = []
        for item in schema.expressions:
            if isinstance(item, exp.ColumnDef):
                columns.append(self._column(item, name, len(columns) + 1, sequences, pending))
            else:
                pending.append(("table", item, None))
        names = [c.name for c in columns]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise SqlError("42701", f'column "{dup}" specified more than once')
        by_name = {c.name: c for c in columns}
        used_names: set[str] = set()

        def unique_name(base: str) -> str:
            candidate = base
            i = 1
            while candidate in used_names or self.catalog.relation_exists(candidate):
                candidate = f"{base}{i}"
                i += 1
            used_names.add(candidate)
            return candidate

        for _kind, item, col_name in pending:
            constraint_name = None
            body = item
            if isinstance(item, exp.Constraint):
                constraint_name = item.name
                body = item.expressions[0]
            if isinstance(body, exp.ColumnConstraint):
                constraint_name = constraint_name or body.name or None
                body = body.args["kind"]
            if isinstance(body, (exp.PrimaryKey, exp.PrimaryKeyColumnConstraint)):
                cols = [col_name] if col_name else [e.name for e in body.expressions]
                if pk_cols:
                    raise SqlError("42P16", f'multiple primary keys for table "{name}" are not allowed')
                self._check_cols(cols, by_name, name)
                pk_cols = cols
                cname = constraint_name or unique_name(f"{name}_pkey")
                used_names.add(cname)
                table_constraints.append(f"CONSTRAINT {_q(cname)} PRIMARY KEY ({', '.join(_q(c) for c in cols)})")
                indexes.append(Index(0, cname, 0, tuple(cols), True, True, None))
                constraints.append(Constraint(cname, 0, "p", tuple(cols)))
            elif isinstance(body, exp.UniqueColumnConstraint):
                cols = [col_name] if col_name else [e.name for e in body.this.expressions]
                self._check_cols(cols, by_name, name)
                cname = constraint_name or unique_name(f"{name}_{'_'.join(cols)}_key")
                used_names.add(cname)
                # a named SQLite index rather than an inline UNIQUE, so DROP CONSTRAINT can remove it
                unique_indexes.append(f"CREATE UNIQUE INDEX {_q(cname)} ON {_q(name)} ({', '.join(_q(c) for c in cols)})")
                indexes.append(Index(0, cname, 0, tuple(cols), True, False, cname))
                constraints.append(Constraint(cname, 0, "u", tuple(cols)))
            elif isinstance(body, exp.CheckColumnConstraint):
                # PostgreSQL names it after the one column the expression uses, if it uses just one
                used = sorted({c.name for c in body.this.find_all(exp.Column)})
                named_col = used[0] if len(used) == 1 else None
                cname = constraint_name or unique_name(f"{name}_{named_col}_check" if named_col else f"{name}_check")
                pg_text = body.this.sql(dialect="postgres")  # before compiling, which rewrites the tree
                self._check_sql(body.this.copy(), columns)  # errors in the expression (42703, 42804...)
                # enforced by triggers like an ALTER TABLE ADD CHECK (index_oid 0), so it can be dropped
                checks.append((cname, body.this.copy()))
                constraints.append(Constraint(cname, 0, "c", (col_name,) if col_name else (), index_oid=0,
                                              definition=pg_text))
            elif isinstance(body, (exp.ForeignKey, exp.Reference)):
                if isinstance(body, exp.Reference):
                    cols = [col_name] if col_name else []
                    ref = body
                else:
                    cols = [e.name for e in body.expressions]
                    ref = body.args["reference"]
                ref_schema = ref.this
                ref_table_name = self._name(ref_schema)
                ref_table = self.catalog.user_table(ref_table_name) if ref_table_name != name else None
                if ref_table is None and ref_table_name != name:
                    raise SqlError("42P01", f'relation "{ref_table_name}" does not exist')
                ref_cols = [e.name for e in ref_schema.expressions] if isinstance(ref_schema, exp.Schema) else []
                if not ref_cols and ref_table_name == name:  # self-reference: this table's primary key
                    ref_cols = _declared_primary_key(pending)
                if not ref_cols:
                    pk = ref_table.primary_key if ref_table is not None else None
                    if pk is None:
                        raise SqlError("42830", f'there is no primary key for referenced table "{ref_table_name}"')
                    ref_cols = list(pk.columns)
                cname = constraint_name or unique_name(f"{name}_{'_'.join(cols)}_fkey")
                info = fk_options(ref)
                info["trigger"] = fk_trigger_prefix(name, cname)  # enforced by triggers (see fk_trigger_sql)
                fk_pending.append((cname, cols, ref_table_name, ref_cols, info))
                fk_refs[cname] = ref_table_name
                constraints.append(Constraint(cname, 0, "f", tuple(cols), None, json.dumps(info), None,
                                              tuple(ref_cols)))
            else:
                raise SqlError("0A000", f"constraint {type(body).__name__} is not supported")
        if pk_cols:
            columns = [replace(c, not_null=True) if c.name in pk_cols else c for c in columns]
        for col in columns:
            decl = f"{_q(col.name)} {_storage_decl(Ty(col.type_oid, col.typmod))}"
            if col.not_null:
                decl += " NOT NULL"
            col_decls.append(decl)
        ddl = f"CREATE TABLE {_q(name)} ({', '.join(col_decls + table_constraints)}) STRICT"
        steps = [ddl, C.insert_relation_sql(name, "r", options)]
        columns_sql = C.insert_columns_sql(name, columns)
        if columns_sql:
            steps.append(columns_sql)
        steps.extend(unique_indexes)
        for index in indexes:
            steps.extend(C.insert_index_sql(index.name, name, index.columns, index.unique, index.primary,
                                            index.sqlite_name))
        for con in constraints:
            steps.append(C.insert_constraint_sql(
                con, name, index_name=con.name if con.type in ("p", "u") else None, ref_table=fk_refs.get(con.name)))
            if con.type == "c":
                steps.append(f"UPDATE {C.CONSTRAINTS} SET index_oid = 0 "
                             f"WHERE table_oid = {C.oid_of_sql(name)} AND name = {quote_literal(con.name)}")
        for seq in sequences:
            steps.extend(C.insert_sequence_sql(seq, name))
        final = {c.name: c for c in columns}
        for cname, cols, ref_table_name, ref_cols, info in fk_pending:
            parent = self.catalog.user_table(ref_table_name)
            parent_cols = final if ref_table_name == name else {c.name: c for c in parent.columns} if parent else {}
            parent_keys = indexes if ref_table_name == name else list(parent.indexes) if parent else []
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
        table = Table(0, name, tuple(columns), options=tuple(options),
                      indexes=tuple(indexes), constraints=tuple(constraints))
        for cname, expr in checks:
            steps.extend(self._check_triggers(table, cname, expr))
        new_catalog = self.catalog.with_table(table)
        for seq in sequences:
            new_catalog = new_catalog.with_sequence(seq)
        return DdlResult("CREATE TABLE", steps, new_catalog)

    def _check_cols(self, cols: list[str], by_name: dict[str, Column], table: str) -> None:
        for col in cols:
            if col not in by_name:
                raise SqlError("42703", f'column "{col}" named in key does not exist')

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
                default_expr=f"nextval('{seq_name}'::regclass)",
                default_sql=f"nextval({quote_literal(seq_name)})",
                identity=identity,
            )
        elif default_node is not None:
            pg_text, sql = self._default(default_node, col, table)
            col = replace(col, default_expr=pg_text, default_sql=sql)
        return col

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
                    notices.append(f'{noun} "{name}" does not exist, skipping')
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
                    detail=f"constraint {con.name} on table {other.name} depends on table {name}",
                    hint="Use DROP ... CASCADE to drop the dependent objects too.",
                )
            for other, con in incoming:
                notices.append(f"drop cascades to constraint {con.name} on table {other.name}")
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
            f"CREATE {'UNIQUE ' if unique else ''}INDEX {_q(name)} ON {_q(table_name)} ({', '.join(parts)}){where_sql}",
            *C.insert_index_sql(name, table_name, names, unique, False, name),
        ]
        if any(desc) or any(nulls_first) or where_text or any(expr_types) or any(opclasses):
            # pg_index.indoption / indclass / indpred and pg_get_indexdef read this
            info: dict[str, object] = {"desc": desc, "nulls": nulls_first, "where": where_text, "types": expr_types}
            if any(opclasses):
                info["opclass"] = opclasses
            definition = json.dumps(info)
            steps.append(f"UPDATE {C.TABLES} SET definition = {quote_literal(definition)} "
                         f"WHERE oid = {C.oid_of_sql(name)}")
        index = Index(0, name, table.oid, tuple(names), unique, False, name)
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
                                     f"WHERE table_oid = {C.oid_of_sql(table.name)} AND name = {quote_literal(con.name)}")
                    new_cons.append(replace(con, columns=cols))
                columns = tuple(replace(c, name=new) if c.name == old else c for c in table.columns)
                catalog = catalog.with_table(replace(table, columns=columns, indexes=tuple(new_indexes),
                                                     constraints=tuple(new_cons)))
            elif isinstance(action, exp.AlterRename):
                new = self._name(action.this)
                if catalog.relation_exists(new):
                    raise SqlError("42P07", f'relation "{new}" already exists')
                steps.append(f"ALTER TABLE {_q(table.name)} RENAME TO {_q(new)}")
                steps.append(f"UPDATE {C.TABLES} SET name = {quote_literal(new)} WHERE oid = {C.oid_of_sql(table.name)}")
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
            name = target.name
            con = next((c for c in table.constraints if c.name == name), None)
            if con is None:
                if action.args.get("exists"):
                    notices.append(f'constraint "{name}" of relation "{table.name}" does not exist, skipping')
                    continue
                raise SqlError("42704", f'constraint "{name}" of relation "{table.name}" does not exist')
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
                         f"AND name = {quote_literal(name)}")
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
        message = quote_literal(f'new row for relation "{table.name}" violates check constraint "{name}"')
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
                     f"AND name = {quote_literal(con.name)}")
        table = catalog.user_table(table.name) or table
        new_table = replace(table, constraints=tuple(c for c in table.constraints if c.name != con.name))
        return catalog.with_table(new_table), steps

    def _add_constraint(self, catalog: Catalog, table: Table, con: exp.Expression,
                        validate: bool = True) -> tuple[Catalog, list[str]]:
        cname = None
        body = con
        if isinstance(con, exp.Constraint):
            cname = con.name
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
                     f"WHERE table_oid = {C.oid_of_sql(table.name)} AND name = {quote_literal(name)}")
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
        steps.append(f"CREATE UNIQUE INDEX {_q(name)} ON {_q(table.name)} ({', '.join(_q(c) for c in cols)})")
        steps.extend(C.insert_index_sql(name, table.name, cols, True, primary, name))
        con = Constraint(name, table.oid, "p" if primary else "u", tuple(cols))
        steps.append(C.insert_constraint_sql(con, table.name, index_name=name))
        index = Index(0, name, table.oid, tuple(cols), True, primary, name)
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
                                 f"AND name = {quote_literal(con.name)}")
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
                    steps.append(f"UPDATE {_q(table.name)} SET {_q(name)} = pg_cast({_q(name)}, {col.type_oid}, "
                                 f"{new_ty.oid}, {new_ty.typmod}) WHERE {_q(name)} IS NOT NULL")
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
        if parts[0] == "public" and len(parts) > (2 if kind == "column" else 1):
            parts = parts[1:]
        column = parts.pop() if kind == "column" else None
        if len(parts) != 1:
            raise SqlError("3F000", f'schema "{parts[0]}" does not exist')
        rel = parts[0]
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
        name = words[i][1:-1] if words[i].startswith('"') else words[i].lower()
        name = name.removeprefix("public.")
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
        while k < len(rest):
            word = rest[k]
            if word == "restart":
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
        assignments = ", ".join(f"{col} = {value}" for col, value in sets.items())
        steps = [f"UPDATE {C.SEQUENCES} SET {assignments} WHERE oid = {C.oid_of_sql(name)}",
                 *C.BUMP_SCHEMA_VERSION]
        return DdlResult("ALTER SEQUENCE", steps, self.catalog.with_sequence(new))

    def create_view(self, node: exp.Create) -> DdlResult:
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
        definition = node.expression.sql(dialect="postgres")
        col_list = ", ".join(_q(c.name) for c in columns)
        steps.append(f"CREATE VIEW {_q(name)} ({col_list}) AS {sql}")
        steps.append(C.insert_relation_sql(name, "v", (), definition))
        columns_sql = C.insert_columns_sql(name, columns)
        if columns_sql:
            steps.append(columns_sql)
        table = Table(0, name, tuple(columns), kind="v", definition=definition)
        return DdlResult("CREATE VIEW", steps, catalog.with_table(table))


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
