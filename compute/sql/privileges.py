"""Table privileges and ownership, enforced for sessions that are not superusers.

A superuser session (a users-file login, or a ``__strata_roles`` row with ``super``) never comes
here: ``Session.superuser`` is the one boolean that decides whether any check runs.

For any other session every SQLite step is checked before it runs (``Checker.step``):

- *What a step touches* is asked of SQLite once per (database, schema version, step text): the
  step is compiled as EXPLAIN with an authorizer (``accesses``) that records each
  (need, relation, view) — ``r`` read, ``a`` insert, ``w`` update, ``d`` delete, ``t`` trigger,
  ``own`` for DROP/ALTER/CREATE INDEX, ``create`` for a new relation in a schema — and the view
  through which a relation is read. Foreign-key checks and cascades are compiled with foreign
  keys off for this (PostgreSQL runs them as the table's owner, not as the user).
- *Whether the role may* is read from the catalog tables in the step's own transaction
  (``__strata_acl``: owner and ACL per relation OID; ``__strata_members``: GRANT role TO role),
  so a GRANT or REVOKE is seen by the next execution of any statement, prepared or not.
- Relations read inside a view are checked against the view's owner (PostgreSQL's rule); the
  view itself against the user. ``__strata_*``/``sqlite_*`` tables and the TEMP database (the
  session's temporary tables, the pg_catalog views) are not checked; ``pg_authid``/``pg_shadow``
  are refused, as PostgreSQL does for non-superusers.

ACLs are stored as the catalog stores aclitem[] values, a JSON array of PostgreSQL's items
(``["alice=arwdDxt/alice","=r/alice"]``); NULL means the default:
the owner has every privilege, nobody else any. See docs/compute.md, "Privileges".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import apsw

from compute.sql.api import SqlError
from compute.sql.catalog.objects import ACL, COLUMNS, MEMBERS, ROLES, SCHEMAS, SEQUENCES, TABLES

TABLE_ALL = "arwdDxt"
SEQUENCE_ALL = "rwU"
SCHEMA_ALL = "UC"
LETTERS = {"select": "r", "insert": "a", "update": "w", "delete": "d", "truncate": "D",
           "references": "x", "trigger": "t", "usage": "U", "create": "C"}
PUBLIC_SCHEMA_OID = 2200
_CACHE_LIMIT = 4096
_KIND_WORD = {"v": "view", "m": "materialized view", "S": "sequence"}
_SUPERUSER_ONLY = {"pg_authid": "table", "pg_shadow": "view"}

Access = tuple[str, str, str | None]  # (need, relation key, view it was read through)


def acl_items(acl: str | None) -> dict[str, str]:
    """{grantee ('' = PUBLIC): privilege letters} of a stored ACL (a JSON array of aclitems,
    as the catalog stores aclitem[] values; grantors dropped)."""
    if not acl:
        return {}
    out: dict[str, str] = {}
    for item in json.loads(acl):
        head = str(item).rpartition("/")[0]
        grantee, _, letters = head.rpartition("=")
        grantee = grantee[1:-1].replace('""', '"') if grantee.startswith('"') else grantee
        out[grantee] = out.get(grantee, "") + letters
    return out


def _ident(name: str) -> str:
    plain = name.replace("_", "a").isalnum() and name == name.lower() and not name[:1].isdigit()
    return name if plain else '"' + name.replace('"', '""') + '"'


def acl_text(items: dict[str, str], owner: str) -> str:
    """The stored ACL of {grantee: letters}, every item granted by ``owner``."""
    return json.dumps([f"{_ident(g) if g else ''}={letters}/{_ident(owner)}"
                       for g, letters in items.items() if letters])


def acl_edit(acl: Any, owner: Any, grantee: Any, letters: Any, revoke: Any, everything: Any) -> Any:
    """The SQL function ``__strata_acl_edit``: ``acl`` after GRANT (or REVOKE) of ``letters`` to
    ``grantee`` ('' = PUBLIC). A NULL ACL is the default first made explicit (the owner holds
    ``everything``), as PostgreSQL's aclitems are."""
    owner = str(owner)
    items = acl_items(acl) if acl is not None else {owner: str(everything)}
    have = items.get(str(grantee), "")
    if revoke:
        have = "".join(c for c in have if c not in str(letters))
    else:
        have += "".join(c for c in str(letters) if c not in have)
    items[str(grantee)] = have
    ordered = {k: "".join(c for c in str(everything) if c in v) for k, v in items.items()}
    return acl_text(ordered, owner)


# ------------------------------------------------------------------ what a step touches

_READ, _INSERT, _UPDATE, _DELETE = apsw.SQLITE_READ, apsw.SQLITE_INSERT, apsw.SQLITE_UPDATE, apsw.SQLITE_DELETE
_OWN_ARG1 = {apsw.SQLITE_DROP_TABLE, apsw.SQLITE_DROP_VIEW}
_OWN_ARG2 = {apsw.SQLITE_CREATE_INDEX, apsw.SQLITE_DROP_INDEX, apsw.SQLITE_DROP_TRIGGER}
_CREATE = {apsw.SQLITE_CREATE_TABLE, apsw.SQLITE_CREATE_VIEW}


def _internal(name: str | None, db: str | None) -> bool:
    return not name or db == "temp" or name.startswith(("__strata_", "sqlite_"))


def accesses(conn: Any, sql: str) -> tuple[Access, ...]:
    """What ``sql`` reads, writes, creates or drops, in the order SQLite resolves it."""
    found: dict[Access, None] = {}

    def auth(op: int, a1: str | None, a2: str | None, db: str | None, via: str | None) -> int:
        if op in (_READ, _INSERT, _UPDATE, _DELETE):
            if a1 in _SUPERUSER_ONLY and db == "temp":
                found[("super", a1, None)] = None
            elif not _internal(a1, db):
                need = "r" if op == _READ else "a" if op == _INSERT else "w" if op == _UPDATE else "d"
                found[(need, str(a1), via)] = None
        elif op in _OWN_ARG1 and not _internal(a1, db):
            found[("own", str(a1), None)] = None
        elif op in _OWN_ARG2 and not _internal(a2, db):
            found[("own", str(a2), None)] = None
            if op == apsw.SQLITE_CREATE_INDEX:  # PostgreSQL: CREATE on the table's schema too
                found[("create", str(a2), None)] = None
        elif op == apsw.SQLITE_ALTER_TABLE and not _internal(a2, a1):
            found[("own", str(a2), None)] = None
        elif op == apsw.SQLITE_CREATE_TRIGGER and not _internal(a2, db):
            found[("t", str(a2), None)] = None
        elif op in _CREATE and db != "temp" and a1 and not a1.startswith("__strata_"):
            found[("create", a1, None)] = None
        return apsw.SQLITE_OK

    previous = conn.authorizer
    fkeys = conn.config(apsw.SQLITE_DBCONFIG_ENABLE_FKEY, -1)
    try:
        if fkeys:
            conn.config(apsw.SQLITE_DBCONFIG_ENABLE_FKEY, 0)
        conn.authorizer = auth
        cursor = conn.cursor()
        try:
            cursor.execute(sql, can_cache=False, explain=1)
        except apsw.Error:
            pass  # the step itself fails the same way when it runs
        finally:
            cursor.close()
    finally:
        conn.authorizer = previous
        if fkeys:
            conn.config(apsw.SQLITE_DBCONFIG_ENABLE_FKEY, 1)
    return tuple(found)


# ------------------------------------------------------------------ who may

_RELATIONS_SQL = (
    f"SELECT j.value, t.oid, t.kind, a.owner, a.acl, t.schema FROM json_each(?) j "
    f"JOIN main.{TABLES} t ON t.schema = CASE WHEN instr(j.value, '.') THEN "
    "substr(j.value, 1, instr(j.value, '.') - 1) ELSE 'public' END "
    "AND t.name = CASE WHEN instr(j.value, '.') THEN substr(j.value, instr(j.value, '.') + 1) ELSE j.value END "
    f"LEFT JOIN main.{ACL} a ON a.oid = t.oid")
_ROLES_SQL = (
    f"WITH RECURSIVE r(name) AS (SELECT ? UNION SELECT m.role FROM main.{MEMBERS} m JOIN r ON m.member = r.name "
    f"JOIN main.{ROLES} x ON x.name = r.name AND x.inherit) SELECT name FROM r")
_SUPER_SQL = f"SELECT super FROM main.{ROLES} WHERE name = ?"
_SCHEMA_SQL = (f"SELECT s.owner, a.acl, s.oid FROM main.{SCHEMAS} s LEFT JOIN main.{ACL} a ON a.oid = s.oid "
               "WHERE s.name = ?")
_PUBLIC_SQL = f"SELECT owner, acl FROM main.{ACL} WHERE oid = {PUBLIC_SCHEMA_OID}"


def roles_of(conn: Any, role: str) -> frozenset[str]:
    """The roles whose privileges ``role`` has: itself, the groups it inherits, PUBLIC ('')."""
    try:
        return frozenset(r[0] for r in conn.execute(_ROLES_SQL, (role,))) | {""}
    except apsw.SQLError:  # a database bootstrapped before privileges existed
        return frozenset((role, ""))


def is_superuser_role(conn: Any, role: str | None) -> bool:
    """Whether an owner is a superuser: the bootstrap superuser (NULL), a role with ``super``, or
    a name without a role row (a users-file login)."""
    if role is None:
        return True
    rows = conn.execute(_SUPER_SQL, (role,)).fetchall()
    return not rows or bool(rows[0][0])


def relation_word(kind: str) -> str:
    return _KIND_WORD.get(kind, "table")


def may(conn: Any, roles: frozenset[str], owner: str | None, acl: str | None, letter: str) -> bool:
    """Whether one of ``roles`` holds privilege ``letter`` on an object (owner, ACL)."""
    if acl is None:
        return owner is not None and owner in roles
    items = acl_items(acl)
    return any(letter in items.get(r, "") for r in roles)


class Checker:
    """The privilege checks of one non-superuser session's statements (``step`` per SQLite step)."""

    def __init__(self, user: str, cache: dict[tuple[int, str], tuple[Access, ...]]) -> None:
        self.user = user
        self.cache = cache

    def step(self, conn: Any, sql: str, truncate: bool = False) -> None:
        """Raise 42501 unless the session's role may run ``sql`` on ``conn`` now."""
        version = conn.execute("PRAGMA schema_version").fetchall()[0][0]
        key = (version, sql)
        found = self.cache.get(key)
        if found is None:
            found = accesses(conn, sql)
            if len(self.cache) >= _CACHE_LIMIT:
                self.cache.clear()
            self.cache[key] = found
        if found:
            self.check(conn, found, truncate)

    def check(self, conn: Any, found: Iterable[Access], truncate: bool) -> None:
        found = tuple(found)
        names = {a[1] for a in found if a[0] not in ("super", "create")}
        names |= {a[2] for a in found if a[2]}
        rels = {r[0]: r[1:] for r in conn.execute(_RELATIONS_SQL, (json.dumps(sorted(names)),))} if names else {}
        read_views = {a[1] for a in found if a[0] == "r" and a[1] in rels and rels[a[1]][1] == "v"}
        role_sets: dict[str, frozenset[str] | None] = {}

        def roles_for(role: str | None) -> frozenset[str] | None:  # None: a superuser
            if role not in role_sets:
                role_sets[role or ""] = None if is_superuser_role(conn, role) else roles_of(conn, str(role))
            return role_sets[role or ""]

        mine = roles_of(conn, self.user)
        role_sets[self.user] = mine
        for need, name, via in found:
            if need == "super":
                raise SqlError("42501", f"permission denied for {_SUPERUSER_ONLY[name]} {name}")
            if need == "create":
                self._create(conn, name, mine)
                continue
            rel = rels.get(name)
            if rel is None:
                continue  # not a relation of the catalog (Strata's own work tables)
            _oid, kind, owner, acl, _schema = rel
            roles = mine
            if via and via in read_views and via != name:
                roles_or_none = roles_for(rels[via][2])
                if roles_or_none is None:
                    continue
                roles = roles_or_none
            bare = name.rpartition(".")[2]
            if need == "own":
                if owner is None or owner not in roles:
                    raise SqlError("42501", f"must be owner of {relation_word(kind)} {bare}")
                continue
            letter = "D" if truncate and need == "d" else need
            if not may(conn, roles, owner, acl, letter):
                raise SqlError("42501", f"permission denied for {relation_word(kind)} {bare}")

    def creating(self, conn: Any, schema: str) -> None:
        """CREATE SEQUENCE and the like: CREATE on ``schema`` (42501 without it)."""
        self._create(conn, "x" if schema == "public" else f"{schema}.x", roles_of(conn, self.user))

    def _create(self, conn: Any, key: str, roles: frozenset[str]) -> None:
        """CREATE on the schema a new relation goes to (PostgreSQL 15: public's owner only)."""
        schema = key.split(".", 1)[0] if "." in key else "public"
        if schema.startswith("pg_temp"):
            return
        if schema == "public":  # owned by pg_database_owner: the database's owner, if it has one
            rows = conn.execute(_PUBLIC_SQL).fetchall()
            owner, acl = rows[0] if rows else (None, None)
            if acl is None and owner in roles:
                return
            if acl is not None and any("C" in acl_items(acl).get(r, "") for r in roles):
                return
        else:
            found = conn.execute(_SCHEMA_SQL, (schema,)).fetchall()
            if found and (found[0][0] in roles or any("C" in acl_items(found[0][1]).get(r, "") for r in roles)):
                return
        raise SqlError("42501", f"permission denied for schema {schema}")


def sequence_check(conn: Any, user: str, oid: int, name: str, letters: str) -> None:
    """nextval/currval/setval of a non-superuser: one of ``letters`` on the sequence, else 42501
    (a sequence behind an identity column needs none, as in PostgreSQL)."""
    try:
        rows = conn.execute(
            f"SELECT a.owner, a.acl FROM main.{TABLES} t LEFT JOIN main.{ACL} a ON a.oid = t.oid "
            f"WHERE t.oid = ? AND NOT EXISTS (SELECT 1 FROM main.{SEQUENCES} s JOIN main.{COLUMNS} c "
            "ON c.table_oid = s.owner_table AND c.name = s.owner_column WHERE s.oid = t.oid "
            "AND c.identity IS NOT NULL)", (oid,)).fetchall()
    except apsw.SQLError:
        return
    if not rows:
        return
    owner, acl = rows[0]
    roles = roles_of(conn, user)
    if not any(may(conn, roles, owner, acl, c) for c in letters):
        raise SqlError("42501", f"permission denied for sequence {name.rpartition('.')[2]}")


def table_privilege(conn: Any, user: str, superuser: bool, relation: str, privileges: str) -> bool:
    """has_table_privilege(user, relation, 'SELECT, INSERT ...'): any of the privileges named."""
    wanted = []
    for word in privileges.lower().replace(" with grant option", "").split(","):
        word = word.strip()
        if word not in LETTERS or word in ("usage", "create"):
            raise SqlError("22023", f'unrecognized privilege type: "{word}"')
        wanted.append(LETTERS[word])
    rows = conn.execute(_RELATIONS_SQL, (json.dumps([relation]),)).fetchall()
    if not rows:
        raise SqlError("42P01", f'relation "{relation}" does not exist')
    if superuser or is_superuser_role(conn, user):
        return True
    _key, _oid, _kind, owner, acl, _schema = rows[0]
    roles = roles_of(conn, user)
    return any(may(conn, roles, owner, acl, c) for c in wanted)


BOOTSTRAP_SUPERUSER = "postgres"
"""How a session that is not a superuser sees the bootstrap superuser (OID 10, the owner of
relations made before owners were stored): a superuser session sees itself there, as before."""


PLAIN_ROLES: dict[tuple[str, str], Checker] = {}
"""(database, user) -> the Checker of a role that is not a superuser there, set at its login
(compute/session_privileges.py): what SQL functions and the PL/pgSQL engine ask through
``checker_of`` (a pooled connection's SessionContext serves sessions of several users; naming
the checker there would cost every superuser statement a store)."""


def checker_of(ctx: Any) -> Checker | None:
    """The Checker of the session ``ctx`` runs for, None for a superuser."""
    return PLAIN_ROLES.get((ctx.database, ctx.user)) if PLAIN_ROLES else None


def superuser_name(ctx: Any) -> str:
    return str(ctx.user) if checker_of(ctx) is None else BOOTSTRAP_SUPERUSER


def acl_rename(acl: Any, old: Any, new: Any) -> Any:
    """The SQL function ``__strata_acl_rename``: ALTER ROLE … RENAME TO in an ACL (grantees and
    grantors)."""
    if acl is None:
        return None
    out = []
    for item in json.loads(acl):
        head, _, grantor = str(item).rpartition("/")
        grantee, _, letters = head.rpartition("=")
        name = grantee[1:-1].replace('""', '"') if grantee.startswith('"') else grantee
        who = _ident(str(new)) if name == str(old) else grantee
        grantor_name = grantor[1:-1].replace('""', '"') if grantor.startswith('"') else grantor
        out.append(f"{who}={letters}/{_ident(str(new)) if grantor_name == str(old) else grantor}")
    return json.dumps(out)


def acl_mentions(acl: Any, role: Any) -> int:
    """The SQL function ``__strata_acl_mentions``: whether ``role`` holds anything in ``acl``."""
    return int(acl is not None and str(role) in acl_items(acl))


def acl_owner(acl: Any, old: Any, new: Any) -> Any:
    """The SQL function ``__strata_acl_owner``: ``acl`` with the old owner's items (as grantee
    and grantor) given to the new owner, as ALTER … OWNER TO does in PostgreSQL."""
    if acl is None:
        return None
    items = acl_items(acl)
    if str(old) in items:
        letters = items.pop(str(old))
        items[str(new)] = items.get(str(new), "") + "".join(c for c in letters if c not in items.get(str(new), ""))
    return acl_text(items, str(new))


def register_udfs(conn: Any, ctx: Any) -> None:
    """The SQL functions GRANT/REVOKE/OWNER TO steps and has_table_privilege call; ``ctx`` is
    the connection's SessionContext (its ``database`` and ``user``: ``checker_of``)."""

    def may_own(oid: Any) -> int:
        if checker_of(ctx) is None:
            return 1
        if oid is None:
            return 0
        rows = conn.execute(f"SELECT owner FROM main.{ACL} WHERE oid = ?", (oid,)).fetchall()
        if not rows:
            rows = conn.execute(f"SELECT owner FROM main.{SCHEMAS} WHERE oid = ?", (oid,)).fetchall()
        owner = rows[0][0] if rows else None
        return int(owner is not None and owner in roles_of(conn, ctx.user))

    def may_become(role: Any) -> int:
        return int(checker_of(ctx) is None or str(role) in roles_of(conn, ctx.user))

    def has_table_privilege(*args: Any) -> Any:
        if any(a is None for a in args):
            return None
        if len(args) == 2:
            user, superuser = ctx.user, checker_of(ctx) is None
            relation, privilege = args
        elif len(args) == 3:
            user, relation, privilege = args
            if isinstance(user, int):
                rows = conn.execute(f"SELECT name FROM main.{ROLES} WHERE oid = ?", (user,)).fetchall()
                user = rows[0][0] if rows else ctx.user
            superuser = checker_of(ctx) is None and str(user) == ctx.user
        else:
            raise SqlError("42883", "function has_table_privilege does not exist")
        if isinstance(relation, int):
            rows = conn.execute(f"SELECT CASE schema WHEN 'public' THEN name ELSE schema || '.' || name END "
                                f"FROM main.{TABLES} WHERE oid = ?", (relation,)).fetchall()
            if not rows:
                return None  # PostgreSQL: NULL for an OID that names no relation
            relation = rows[0][0]
        name = str(relation)
        if name.startswith("public."):
            name = name[7:]
        return int(table_privilege(conn, str(user), superuser, name, str(privilege)))

    conn.create_scalar_function("__strata_superuser_name", lambda: superuser_name(ctx), 0)
    conn.create_scalar_function("__strata_acl_edit", acl_edit, 6, deterministic=True)
    conn.create_scalar_function("__strata_acl_owner", acl_owner, 3, deterministic=True)
    conn.create_scalar_function("__strata_acl_rename", acl_rename, 3, deterministic=True)
    conn.create_scalar_function("__strata_acl_mentions", acl_mentions, 2, deterministic=True)
    conn.create_scalar_function("__strata_may_own", may_own, 1)
    conn.create_scalar_function("__strata_may_become", may_become, 1)
    def has_column_privilege(*args: Any) -> Any:
        """No column privileges are stored: a column's privilege is its table's."""
        if len(args) not in (3, 4):
            raise SqlError("42883", "function has_column_privilege does not exist")
        return has_table_privilege(*args[:-2], args[-1])

    conn.create_scalar_function("__strata_has_table_privilege", has_table_privilege, -1)
    conn.create_scalar_function("__strata_has_column_privilege", has_column_privilege, -1)
