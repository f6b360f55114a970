"""The catalog functions' SQLite runtime (pg_get_indexdef, obj_description, pg_size_pretty,
to_regclass, ...) and ``install``, which creates the pg_catalog views (``system.py``) and
registers those UDFs on a new connection. Their translation is in
``compute/sql/functions/catalog_info.py``.
"""

from __future__ import annotations

import json
import re
from typing import Any

import apsw

from compute import pgtypes as T
from compute.sql.catalog import catalog as C
from compute.sql.catalog.catalog import (
    COLUMNS,
    COMMENTS,
    CONSTRAINTS,
    INDEXES,
    TABLES,
    TYPES,
)
from compute.sql.catalog.objects import ROLES
from compute.sql.catalog.ruleutils import (
    deparse_condition,
    deparse_default,
    deparse_index_expr,
    deparse_view,
    ident,
    view_relations,
)
from compute.sql.catalog.system import SYSTEM_RELATIONS, view_statements
from compute.sql.privileges import superuser_name


def _size_pretty(size: Any) -> str | None:
    if size is None:
        return None
    value = int(size)
    units = ["bytes", "kB", "MB", "GB", "TB", "PB"]
    limit = 10 * 1024
    if abs(value) < limit:
        return f"{value} bytes"
    # PostgreSQL halves, rounds, and switches unit when the value reaches 10240 of the unit.
    value = value // 512  # half-kB
    for unit in units[1:]:
        if abs(value) < limit * 2 - 1 or unit == units[-1]:
            return f"{(value + (1 if value > 0 else 0)) // 2} {unit}"
        value = value // 1024
    return f"{value} PB"


class _CatalogFunctions:
    """UDF implementations that read the ``__strata_*`` tables through the connection."""

    def __init__(self, conn: Any, ctx: Any) -> None:
        self.conn = conn
        self.ctx = ctx

    def _one(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        rows = self.conn.execute(sql, args).fetchall()
        return tuple(rows[0]) if rows else None

    def columns(self, relid: Any) -> dict[str, tuple[int, int]]:
        return {name: (oid, typmod) for name, oid, typmod in self.conn.execute(
            f"SELECT name, type_oid, typmod FROM {COLUMNS} WHERE table_oid = ?", (relid,))}

    @staticmethod
    def _pretty(value: Any) -> bool:
        return bool(value) and str(value).lower() not in ("f", "false", "0")

    # -- expressions
    def get_expr(self, node: Any, relid: Any = None, pretty: Any = False) -> Any:
        if node is None:
            return None
        text = str(node)
        nice = self._pretty(pretty)
        if text.startswith("D"):
            type_part, typmod_part, body = text[1:].split(":", 2)
            if int(type_part) >= C.FIRST_USER_OID:  # an enum (array) default: 'label'::type
                name = self._user_type_name(int(type_part))
                cast = _CAST_TO.fullmatch(body)  # 'label'::public.mood as a restored dump wrote it
                if cast is not None and name and (cast.group(2) or cast.group(4) or "").strip('"') == \
                        name.rsplit(".", 1)[-1].strip('"'):
                    body = cast.group(1) or cast.group(3) or body
                quoted = body.startswith("'") and body.endswith("'") and "::" not in body
                return f"{body}::{name}" if name and quoted else body
            out = deparse_default(body, int(type_part), int(typmod_part), nice, self.ctx.timezone)
            return _NEXTVAL.sub(self._regclass_literal, out)
        if text.startswith("C"):
            rel, body = text[1:].split(":", 1)
            return deparse_condition(body, self.columns(int(rel)), nice, self.ctx.timezone)
        if text.startswith("X"):
            keys = self._index_keys(int(text[1:]), nice)
            return ", ".join(k for k, _options, is_expr in keys if is_expr) if keys else None
        return text

    def _index_keys(self, oid: int, pretty: bool) -> list[tuple[str, str, bool]]:
        row = self._one(f"SELECT i.table_oid, i.columns, x.definition FROM {INDEXES} i "
                        f"LEFT JOIN {TABLES} x ON x.oid = i.oid WHERE i.oid = ?", (oid,))
        if row is None:
            return []
        cols = self.columns(row[0])
        defn = json.loads(row[2]) if row[2] else {}
        desc = defn.get("desc") or []
        nulls = defn.get("nulls") or []
        opclass = defn.get("opclass") or []
        out = []
        for i, key in enumerate(json.loads(row[1])):
            if key in cols:
                text, is_expr = ident(key), False
            else:
                text, is_expr = deparse_index_expr(key, cols, pretty), True
            is_desc = i < len(desc) and bool(desc[i])
            nulls_first = bool(nulls[i]) if i < len(nulls) else is_desc
            # as pg_get_indexdef: the operator class if one was named, then only what differs
            # from the default order of ASC / DESC
            options = (f" {opclass[i]}" if i < len(opclass) and opclass[i] else "") + (" DESC" if is_desc else "") + (
                " NULLS LAST" if is_desc and not nulls_first else " NULLS FIRST" if nulls_first and not is_desc else "")
            out.append((text, options, is_expr))
        return out

    def get_indexdef(self, oid: Any, colno: Any = 0, pretty: Any = False) -> Any:
        if oid is None:
            return None
        row = self._one(
            f"SELECT x.name, t.name, t.schema, i.is_unique, i.table_oid, x.definition, i.columns "
            f"FROM {INDEXES} i JOIN {TABLES} x ON x.oid = i.oid JOIN {TABLES} t ON t.oid = i.table_oid "
            f"WHERE i.oid = ?", (oid,))
        if row is None:
            return None
        name, table, schema, unique, table_oid, definition, _cols = row
        nice = self._pretty(pretty)
        col = int(colno or 0)
        keys = self._index_keys(int(oid), nice)
        if col > 0:
            if col > len(keys):
                return ""
            return keys[col - 1][0]
        defn = json.loads(definition) if definition else {}
        rel = ident(table) if nice else f"{ident(schema)}.{ident(table)}"
        out = (f"CREATE {'UNIQUE ' if unique else ''}INDEX {ident(name)} ON {rel} USING btree "
               f"({', '.join(k + options for k, options, _ in keys)})")
        where = defn.get("where")
        if where:
            out += " WHERE " + deparse_condition(where, self.columns(table_oid), nice, self.ctx.timezone)
        return out

    def get_constraintdef(self, oid: Any, pretty: Any = False) -> Any:
        if oid is None:
            return None
        row = self._one(f"SELECT type, columns, definition, ref_table, ref_columns, table_oid FROM {CONSTRAINTS} "
                        f"WHERE rowid + 100000 = ?", (oid,))
        if row is None:
            return None
        ctype, cols, definition, ref_table, ref_cols, table_oid = row
        names = ", ".join(ident(c) for c in json.loads(cols))
        nice = self._pretty(pretty)
        if ctype == "p":
            return f"PRIMARY KEY ({names})"
        if ctype == "u":
            return f"UNIQUE ({names})"
        if ctype == "c":
            return f"CHECK ({deparse_condition(definition or '', self.columns(table_oid), nice, self.ctx.timezone)})"
        if ctype == "f":
            ref = self._one(f"SELECT name, schema FROM {TABLES} WHERE oid = ?", (ref_table,))
            ref_name = ident(ref[0]) if ref else "?"
            if ref and not self.visible(ref_table, ref[1], ref[0]):
                ref_name = f"{ident(ref[1])}.{ref_name}"
            info = json.loads(definition) if definition and definition.startswith("{") else {}
            out = f"FOREIGN KEY ({names}) REFERENCES {ref_name}({', '.join(ident(c) for c in json.loads(ref_cols or '[]'))})"
            if info.get("match") == "f":
                out += " MATCH FULL"
            actions = {"r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
            if info.get("upd", "a") in actions:
                out += f" ON UPDATE {actions[info['upd']]}"
            if info.get("del", "a") in actions:
                out += f" ON DELETE {actions[info['del']]}"
            if info.get("deferrable"):
                out += " DEFERRABLE"
                if info.get("deferred"):
                    out += " INITIALLY DEFERRED"
            return out
        return definition

    def get_viewdef(self, view: Any, pretty: Any = False) -> Any:
        if view is None:
            return None
        if isinstance(view, int) or str(view).isdigit():
            row = self._one(f"SELECT definition FROM {TABLES} WHERE oid = ? AND kind = 'v'", (int(view),))
        else:
            name = str(view)
            name = name[1:-1] if name.startswith('"') else name.lower()
            row = self._one(f"SELECT definition FROM {TABLES} WHERE name = ? AND kind = 'v'",
                            (name.removeprefix("public."),))
        if row is None or row[0] is None:
            return None
        return deparse_view(row[0], self._visible)

    def _visible(self, schema: str, name: str) -> bool:
        """Whether the search path finds the relation schema.name by its bare name."""
        path = C.runtime_path(self.conn, self.ctx.settings.get("search_path", C.DEFAULT_SEARCH_PATH),
                              self.ctx.user, self.ctx.backend_pid)
        if schema not in path:
            return False
        for candidate in path:
            if self._one(f"SELECT 1 FROM {TABLES} WHERE schema = ? AND name = ?", (candidate, name)):
                return candidate == schema
        return False

    def _regclass_literal(self, m: re.Match[str]) -> str:
        """nextval('name'::regclass) as regclassout prints it: qualified unless visible."""
        parts = C.split_qualified(m.group(1).replace("''", "'"))
        schema, name = (parts[-2] if len(parts) > 1 else "public"), parts[-1]
        shown = C.quote_ident(name) if name != name.lower() or not name.isidentifier() else name
        if not self._visible(schema, name):
            shown = f"{schema}.{shown}"
        return f"nextval({C.quote_literal(shown)}::regclass)"

    # -- comments
    def obj_description(self, oid: Any, catalog: Any = None) -> Any:
        if oid is None:
            return None
        classoid = SYSTEM_RELATIONS[str(catalog)].oid if catalog is not None and str(catalog) in SYSTEM_RELATIONS else None
        sql = "SELECT description FROM pg_description WHERE objoid = ? AND objsubid = 0"
        args: tuple[Any, ...] = (oid,)
        if classoid is not None:
            sql += " AND classoid = ?"
            args = (oid, classoid)
        row = self._one(sql, args)
        return row[0] if row else None

    def col_description(self, oid: Any, attnum: Any) -> Any:
        if oid is None or attnum is None:
            return None
        row = self._one(f"SELECT description FROM {COMMENTS} WHERE classoid = 1259 AND objoid = ? AND objsubid = ?",
                        (oid, attnum))
        return row[0] if row else None

    # -- databases, users, sizes
    def databases_json(self) -> str:
        try:
            rows = self.conn.execute("SELECT oid, datname FROM strata_databases ORDER BY datname").fetchall()
        except apsw.SQLError:
            rows = [(5, self.ctx.database)]
        return json.dumps([[int(oid), str(name)] for oid, name in rows])

    def userbyid(self, oid: Any) -> Any:
        if oid is None:
            return None
        if int(oid) == 6171:
            return "pg_database_owner"
        row = self._one(f"SELECT name FROM main.{ROLES} WHERE oid = ?", (int(oid),)) if int(oid) != 10 else None
        return row[0] if row else superuser_name(self.ctx)

    def relation_size(self, oid: Any, *_fork: Any) -> Any:
        if oid is None:
            return None
        row = self._one(f"SELECT name, kind FROM {TABLES} WHERE oid = ?", (oid,))
        if row is None or row[1] not in ("r", "i"):
            return 0
        name = row[0]
        if row[1] == "i":
            found = self._one(f"SELECT sqlite_name FROM {INDEXES} WHERE oid = ?", (oid,))
            name = found[0] if found and found[0] else None
            if name is None:
                return 0
        return self._pages(name)

    def _pages(self, name: str) -> int:
        try:
            row = self._one("SELECT count(*) FROM dbstat WHERE name = ?", (name,))
        except apsw.SQLError:  # SQLite built without the dbstat table
            return 0
        page_size = int(self.conn.execute("PRAGMA page_size").fetchall()[0][0])
        return int(row[0]) * page_size if row else 0

    def indexes_size(self, oid: Any) -> Any:
        if oid is None:
            return None
        return sum(self.relation_size(i) for (i,) in self.conn.execute(
            f"SELECT oid FROM {INDEXES} WHERE table_oid = ?", (oid,)).fetchall())

    def total_size(self, oid: Any) -> Any:
        if oid is None:
            return None
        return int(self.relation_size(oid)) + int(self.indexes_size(oid))

    def database_size(self, _db: Any) -> Any:
        count = int(self.conn.execute("PRAGMA page_count").fetchall()[0][0])
        size = int(self.conn.execute("PRAGMA page_size").fetchall()[0][0])
        return count * size

    def visible(self, oid: int, schema: str, name: str) -> bool:
        """Whether an unqualified name finds this relation (pg_table_is_visible)."""
        found = C.runtime_relation(self.conn, C.quote_ident(name),
                                   self.ctx.settings.get("search_path", C.DEFAULT_SEARCH_PATH), self.ctx.user,
                                   self.ctx.backend_pid)
        return found is not None and found[0] == oid

    def _user_type_name(self, oid: int) -> str | None:
        """The name of an enum type (or ``name[]`` of its array type) by OID."""
        row = self._one(f"SELECT name, oid = ?, schema FROM main.{TYPES} WHERE oid = ? OR array_oid = ?",
                        (oid, oid, oid))
        if row is None:
            return None
        name = C.type_ident(str(row[0]))
        if row[2] not in C.runtime_path(
                self.conn, self.ctx.settings.get("search_path", C.DEFAULT_SEARCH_PATH), self.ctx.user,
                self.ctx.backend_pid):  # not visible: qualified, as format_type prints it
            name = f"{C.type_ident(str(row[2]))}.{name}"
        return name + ("" if row[1] else "[]")

    def format_type(self, oid: Any, typmod: Any) -> Any:
        if oid is None:
            return None
        if int(oid) >= C.FIRST_USER_OID:
            name = self._user_type_name(int(oid))
            if name is not None:
                return name
            return "???"
        if typmod is None and int(oid) == T.BPCHAR:  # no typmod given: "character", as PostgreSQL
            return "character"
        return T.format_type(int(oid), -1 if typmod is None else int(typmod))

    def regtype_out(self, oid: Any) -> Any:
        if oid is None:
            return None
        if not isinstance(oid, int) and not str(oid).isdigit():
            return str(oid)  # pg_typeof() yields the name already
        if int(oid) in T.TYPES or int(oid) == T.UNKNOWN:
            return T.regtype_name(int(oid))
        return self._user_type_name(int(oid)) or str(oid)

    def to_regtype(self, name: Any) -> Any:
        found = _to_regtype(name)
        if found is not None or name is None:
            return found
        key = str(name).strip().removeprefix("public.")
        key = key[1:-1] if key.startswith('"') and key.endswith('"') else key.lower()
        array = key.endswith("[]")
        row = self._one(f"SELECT oid, array_oid FROM main.{TYPES} WHERE name = ?", (key.removesuffix("[]"),))
        if row is None:
            return None
        return row[1] if array else row[0]

    def to_regclass(self, name: Any) -> Any:
        if name is None:
            return None
        text = str(name).strip()
        key = text[1:-1].replace('""', '"') if text.startswith('"') else text.lower()
        for prefix in ("public.", "pg_catalog."):
            key = key.removeprefix(prefix)
        row = self._one(f"SELECT oid FROM {TABLES} WHERE name = ?", (key,))
        if row is not None:
            return row[0]
        system = SYSTEM_RELATIONS.get(key)
        return system.oid if system is not None and system.oid else None

    def is_publishable(self, oid: Any) -> Any:
        if oid is None:
            return None
        row = self._one(f"SELECT kind FROM {TABLES} WHERE oid = ?", (oid,))
        return 1 if row and row[0] == "r" else 0


def install(conn: Any, ctx: Any) -> None:
    """Create the system views and register the catalog UDFs on a new connection."""
    for statement in view_statements():
        conn.execute(statement)
    f = _CatalogFunctions(conn, ctx)
    scalar = conn.create_scalar_function
    scalar("pg_get_expr", f.get_expr, -1)
    scalar("pg_get_indexdef", f.get_indexdef, -1)
    scalar("pg_get_constraintdef", f.get_constraintdef, -1)
    scalar("pg_get_viewdef", f.get_viewdef, -1)
    scalar("pg_get_ruledef", lambda *args: None, -1)
    scalar("pg_obj_description", f.obj_description, -1)
    scalar("pg_col_description", f.col_description, 2)
    scalar("pg_shobj_description", f.obj_description, -1)
    scalar("pg_databases_json", f.databases_json, 0)
    scalar("pg_get_userbyid", f.userbyid, 1)
    scalar("pg_size_pretty", _size_pretty, 1)
    scalar("pg_relation_size", f.relation_size, -1)
    scalar("pg_table_size", f.relation_size, 1)
    scalar("pg_indexes_size", f.indexes_size, 1)
    scalar("pg_total_relation_size", f.total_size, 1)
    scalar("pg_database_size", f.database_size, 1)
    scalar("pg_partition_ancestors", lambda oid: oid, 1)
    scalar("pg_relation_is_publishable", f.is_publishable, 1)
    scalar("pg_tablespace_location", lambda oid: "", 1)
    scalar("pg_to_regtype", f.to_regtype, 1)
    scalar("pg_format_type", f.format_type, 2, deterministic=False)
    scalar("pg_regtype_out", f.regtype_out, 1)
    scalar("pg_to_regclass", f.to_regclass, 1)
    scalar("pg_to_regnamespace", _to_regnamespace, 1)
    scalar("pg_view_relations_json", lambda text: json.dumps(view_relations(text)) if text else "[]", 1,
           deterministic=True)


_CAST_TO = re.compile(r"CAST\(('(?:[^']|'')*') AS (?:\"?\w+\"?\.)?(\"?\w+\"?)\)|('(?:[^']|'')*')::(?:\"?\w+\"?\.)?(\"?\w+\"?)",
                      re.IGNORECASE)
_NEXTVAL = re.compile(r"nextval\('((?:[^']|'')*)'::regclass\)")
_TYPMOD = re.compile(r"\s*\(\s*\d+\s*(?:,\s*\d+\s*)?\)")


def _to_regtype(name: Any) -> int | None:
    """A built-in type named as SQL writes it: quoted (case-sensitive) or not, schema-qualified,
    with a type modifier or array brackets (``"text"``, ``varchar(3)[]``)."""
    if name is None:
        return None
    text = str(name).strip()
    dims = 0
    while text.endswith("]"):
        head = text[:-1].rstrip()
        if not head.endswith("["):
            return None
        text, dims = head[:-1].rstrip(), dims + 1
    for prefix in ('pg_catalog.', '"pg_catalog".'):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    if len(text) > 1 and text.startswith('"') and text.endswith('"'):
        key = text[1:-1].replace('""', '"')
    else:
        key = " ".join(_TYPMOD.sub("", text).lower().split())
    oid = T.TYPE_NAMES.get(key)
    if oid is None or dims == 0:
        return oid
    return T.ARRAY_OF.get(oid)


def _to_regnamespace(name: Any) -> int | None:
    return {"pg_catalog": 11, "public": 2200, "information_schema": 13000, "pg_toast": 99}.get(str(name))
