"""The SQL that DDL emits besides the SQLite DDL itself: the triggers that enforce foreign keys,
CHECK constraints and NOT NULL of added columns, their names, the storage declaration of a
column; and ``DdlResult``, what every DDL translation returns. Plain functions of names and
columns, shared by CREATE (ddl.py) and ALTER TABLE (ddl_alter.py) and used by the COMMIT-time
recheck of deferred foreign keys (``fk_recheck_sql``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.catalog.catalog import (
    Catalog,
    Column,
    bare_name,
    quote_ident,
    quote_literal,
)
from compute.sql.translate.parse import parse
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
    message = quote_literal(f'insert or update on table "{bare_name(child)}" violates foreign key constraint '
                            f'"{bare_name(name)}"')
    detail = (f"'Key ({cnames})=(' || {_tuple_text_sql(row, ccols)} || " +
              quote_literal(') is not present in table "' + bare_name(parent) + '".'))
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
    pmessage = quote_literal(f'update or delete on table "{bare_name(parent)}" violates foreign key constraint '
                             f'"{bare_name(name)}" on table "{bare_name(child)}"')
    pdetail = (f"'Key ({pnames})=(' || {_tuple_text_sql('OLD.', pcols)} || " +
               quote_literal(') is still referenced from table "' + bare_name(child) + '".'))
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
