"""GRANT / REVOKE on relations, sequences and schema public's CREATE, GRANT role TO role, and
ALTER TABLE … OWNER TO, as steps on ``__strata_acl`` / ``__strata_members`` (compute/sql/privileges.py
enforces them). Who may run them is checked when the steps run (``__strata_may_own``: the owner,
a member of the owning role, or a superuser), never at translation (translations are cached
across sessions). Forms whose PostgreSQL meaning is not implemented are refused with 0A000 unless
they are no-ops in PostgreSQL 15 by default. See docs/compute.md, "Privileges".
"""

from __future__ import annotations

from sqlglot.tokens import Token

from compute.sql.api import Kind, SqlError, Translation
from compute.sql.catalog.catalog import Catalog
from compute.sql.catalog.objects import ACL, MEMBERS, SCHEMAS, TABLES, quote_literal, relation_key
from compute.sql.privileges import LETTERS, SCHEMA_ALL, SEQUENCE_ALL, TABLE_ALL
from compute.sql.translate.roles import PREDEFINED_ROLES, missing_check, role_name_sql
from compute.sql.translate.tokens import Tokens, ident_value, is_quoted

_TABLE_PRIVS = frozenset({"select", "insert", "update", "delete", "truncate", "references", "trigger"})
_SEQUENCE_PRIVS = frozenset({"select", "update", "usage"})
_REL_KINDS = "('r', 'v', 'm', 'p', 'f')"
# objects whose default privileges PUBLIC already holds in PostgreSQL 15 (a GRANT is a no-op)
_PUBLIC_DEFAULTS = {"function": {"execute"}, "procedure": {"execute"}, "routine": {"execute"},
                    "database": {"connect", "temporary", "temp"}, "language": {"usage"},
                    "type": {"usage"}, "domain": {"usage"}}
_OBJECT_WORDS = frozenset({"table", "sequence", "schema", "function", "procedure", "routine", "database",
                           "type", "domain", "language", "foreign", "large", "tablespace", "parameter", "all"})


def _word(tok: Token, text: str) -> str:
    return "" if tok.text.startswith("'") or is_quoted(tok, text) else tok.text.lower()


def grant_statement(first: str, tokens: tuple[Token, ...], text: str, catalog: Catalog) -> Translation:
    """GRANT … ON … TO / REVOKE … ON … FROM, and GRANT/REVOKE role TO/FROM role."""
    words = [_word(t, text) for t in tokens]
    target = "to" if first == "grant" else "from"
    depth, at, on = 0, -1, -1
    for i, (tok, word) in enumerate(zip(tokens, words, strict=True)):
        depth += {"(": 1, ")": -1}.get(tok.text, 0)
        if depth == 0 and word == target and at < 0:
            at = i
        if depth == 0 and word == "on" and on < 0 and at < 0:
            on = i
    if at < 0:
        raise SqlError("42601", "syntax error at end of input")
    revoke = first == "revoke"
    start = 1
    if revoke and words[1:4] in (["grant", "option", "for"], ["admin", "option", "for"]):
        start = 4  # no grant / admin options are ever given here: nothing to revoke
        option_only = True
    else:
        option_only = False
    grantees, checks = _grantees(tokens[at + 1 :], text, revoke)
    if on < 0:
        return _membership(tokens[start:at], text, grantees, checks, revoke, option_only)
    privs = _privileges(tokens[start:on], text)
    objects = Tokens(tokens[on + 1 : at], text)
    if option_only:
        return Translation(Kind.COMMAND, first.upper(), tuple(checks) or ("SELECT 1 WHERE 0",))
    return _object_grant(first.upper(), privs, objects, grantees, checks, revoke, catalog)


def _grantees(tokens: tuple[Token, ...], text: str, revoke: bool) -> tuple[list[str], list[str]]:
    """The grantees as SQL name expressions ('' for PUBLIC) and their existence checks."""
    ts = Tokens(tokens, text)
    names: list[str] = []
    checks: list[str] = []
    while not ts.at_end():
        ts.accept("group")
        tok = ts.token()
        if ts.peek() == "public" and tok is not None and not is_quoted(tok, text):
            ts.next()
            names.append("''")
        else:
            name_sql, name = role_name_sql(ts)
            checks.append(missing_check(name_sql, name))
            names.append(name_sql)
        if not ts.accept(","):
            break
    if not ts.at_end():
        word = ts.peek()
        if word == "with":
            raise SqlError("0A000", "WITH GRANT OPTION / WITH ADMIN OPTION is not supported: "
                                    "grant options are not stored")
        if word == "granted":
            raise SqlError("0A000", "GRANTED BY is not supported")
        if not (revoke and word in ("cascade", "restrict")):
            raise ts.error()
    return names, checks


def _privileges(tokens: tuple[Token, ...], text: str) -> list[str] | None:
    """The privilege words, None for ALL [PRIVILEGES]; column lists are refused."""
    ts = Tokens(tokens, text)
    if ts.accept("all"):
        ts.accept("privileges")
        if ts.peek() == "(":
            raise SqlError("0A000", "column privileges are not supported")
        if not ts.at_end():
            raise ts.error()
        return None
    out: list[str] = []
    while not ts.at_end():
        tok = ts.next()
        word = _word(tok, text)
        if ts.peek() == "(":
            raise SqlError("0A000", "column privileges are not supported")
        if word == "temp":
            word = "temporary"
        out.append(word)
        if not ts.accept(","):
            break
    if not ts.at_end():
        raise ts.error()
    return out


def _object_grant(tag: str, privs: list[str] | None, ts: Tokens, grantees: list[str], checks: list[str],
                  revoke: bool, catalog: Catalog) -> Translation:
    noun = ts.peek() or ""
    if noun == "all" and ts.peek(1) in ("tables", "sequences"):
        ts.next()
        kind = "S" if ts.next().text.lower() == "sequences" else "r"
        ts.expect("in", "schema")
        where = []
        while True:
            schema = _ident(ts)
            where.append(quote_literal(schema))
            if not ts.accept(","):
                break
        kinds = "('S')" if kind == "S" else _REL_KINDS
        oids = (f"SELECT oid FROM main.{TABLES} WHERE schema IN ({', '.join(where)}) AND kind IN {kinds} "
                "ORDER BY oid")
        return _relation_steps(tag, privs, kind == "S", oids, grantees, checks, revoke)
    if noun in ("table", "sequence") or noun not in _OBJECT_WORDS:
        sequence = noun == "sequence"
        if noun in ("table", "sequence"):
            ts.next()
        keys = []
        while True:
            keys.append(_relation(ts, catalog, sequence))
            if not ts.accept(","):
                break
        if not ts.at_end():
            raise ts.error()
        system = [k for k in keys if k[0] == "pg_catalog"]
        if system:  # the pg_catalog views: readable by every role, nothing to store
            if revoke or len(system) < len(keys):
                raise SqlError("0A000", f"{tag} on system catalogs is not supported: every role reads them")
            return Translation(Kind.COMMAND, tag, tuple(checks) or ("SELECT 1 WHERE 0",))
        if not sequence and privs is not None and "usage" in privs:  # ON [TABLE] of sequences only
            table = next((n for s, n in keys if relation_key(s, n) not in catalog.sequences), None)
            if table is not None:
                raise SqlError("0LP01", "invalid privilege type USAGE for table")
            sequence = True
        oids = " UNION ALL ".join(f"SELECT oid FROM main.{TABLES} WHERE schema = {quote_literal(s)} AND "
                                  f"name = {quote_literal(n)}" for s, n in keys)
        return _relation_steps(tag, privs, sequence, oids, grantees, checks, revoke)
    if noun == "schema":
        ts.next()
        return _schema_grant(tag, privs, ts, grantees, checks, revoke)
    return _default_object(tag, privs, noun, grantees, checks, revoke)


def _ident(ts: Tokens) -> str:
    tok = ts.next()
    if tok.text.startswith("'"):
        raise SqlError("42601", f'syntax error at or near "{tok.text}"', position=tok.start + 1)
    return ident_value(tok, ts.text)


def _relation(ts: Tokens, catalog: Catalog, sequence: bool) -> tuple[str, str]:
    name = _ident(ts)
    schema = "public"
    if ts.accept("."):
        schema, name = name, _ident(ts)
    key = relation_key(schema, name)
    table = catalog.user_table(key)
    if table is None and key not in catalog.sequences:
        if schema in ("public", "pg_catalog") and catalog.table(name) is not None:
            return "pg_catalog", name  # a system relation (pg_class, ...)
        raise SqlError("42P01", f'relation "{name}" does not exist')
    if sequence and key not in catalog.sequences:
        raise SqlError("42809", f'"{name}" is not a sequence')
    return schema, name


def _letters(privs: list[str] | None, sequence: bool) -> str:
    if privs is None:
        return SEQUENCE_ALL if sequence else TABLE_ALL
    allowed = _SEQUENCE_PRIVS if sequence else _TABLE_PRIVS
    for word in privs:
        if word not in allowed:
            if word in LETTERS or word in ("execute", "connect", "temporary"):
                what = "sequence" if sequence else "relation"
                raise SqlError("0LP01", f"invalid privilege type {word.upper()} for {what}")
            raise SqlError("42601", f'syntax error at or near "{word}"')
    return "".join(LETTERS[w] for w in privs)


def _relation_steps(tag: str, privs: list[str] | None, sequence: bool, oids: str, grantees: list[str],
                    checks: list[str], revoke: bool) -> Translation:
    letters = _letters(privs, sequence)
    steps = list(checks)
    steps.append(f"SELECT pg_raise('42501', 'permission denied for ' || CASE t.kind WHEN 'S' THEN 'sequence' "
                 f"WHEN 'v' THEN 'view' ELSE 'table' END || ' ' || t.name) FROM main.{TABLES} t "
                 f"WHERE t.oid IN ({oids}) AND NOT __strata_may_own(t.oid) LIMIT 1")
    steps.append(f"INSERT OR IGNORE INTO main.{ACL} (oid, owner, acl) SELECT oid, NULL, NULL FROM ({oids})")
    for grantee in grantees:
        # ON TABLE of a sequence: only the letters a sequence has (acl_edit keeps those)
        everything = f"CASE t.kind WHEN 'S' THEN '{SEQUENCE_ALL}' ELSE '{TABLE_ALL}' END"
        steps.append(
            f"UPDATE main.{ACL} SET acl = __strata_acl_edit(acl, coalesce(owner, pg_session_user()), {grantee}, "
            f"'{letters}', {int(revoke)}, (SELECT {everything} FROM main.{TABLES} t WHERE t.oid = {ACL}.oid)) "
            f"WHERE oid IN ({oids})")
    return Translation(Kind.COMMAND, tag, tuple(steps), is_write=True, write_command=tag)


def _schema_grant(tag: str, privs: list[str] | None, ts: Tokens, grantees: list[str], checks: list[str],
                  revoke: bool) -> Translation:
    """ON SCHEMA: USAGE is never enforced (every role has it, as PUBLIC has on public): GRANT USAGE
    is a no-op, a REVOKE of it refused; CREATE is stored and enforced."""
    names = []
    while True:
        names.append(_ident(ts))
        if not ts.accept(","):
            break
    words = ["usage", "create"] if privs is None else privs
    for word in words:
        if word not in ("usage", "create"):
            raise SqlError("0LP01", f"invalid privilege type {word.upper()} for schema")
    if revoke and "usage" in words:
        raise SqlError("0A000", "REVOKE USAGE ON SCHEMA is not supported: schema USAGE is not enforced")
    if "create" not in words:
        return Translation(Kind.COMMAND, tag, tuple(checks) or ("SELECT 1 WHERE 0",))
    steps = list(checks)
    for name in names:
        lit = quote_literal(name)
        if name == "public":
            oid, owner = "2200", "'pg_database_owner'"
            steps.append("SELECT pg_raise('42501', 'permission denied for schema public') "
                         "WHERE NOT __strata_may_own(2200)")
            steps.append(f"INSERT OR IGNORE INTO main.{ACL} (oid, owner, acl) VALUES (2200, 'pg_database_owner', "
                         "'[\"pg_database_owner=UC/pg_database_owner\",\"=U/pg_database_owner\"]')")
        else:
            oid = f"(SELECT oid FROM main.{SCHEMAS} WHERE name = {lit})"
            owner = f"(SELECT owner FROM main.{SCHEMAS} WHERE name = {lit})"
            steps.append(f"SELECT pg_raise('3F000', {quote_literal(f'schema {chr(34)}{name}{chr(34)} does not exist')}) "
                         f"WHERE {oid} IS NULL")
            steps.append(f"SELECT pg_raise('42501', {quote_literal(f'permission denied for schema {name}')}) "
                         f"WHERE NOT __strata_may_own({oid})")
            steps.append(f"INSERT OR IGNORE INTO main.{ACL} (oid, owner, acl) SELECT {oid}, {owner}, NULL")
        for grantee in grantees:
            steps.append(f"UPDATE main.{ACL} SET acl = __strata_acl_edit(acl, coalesce(owner, {owner}), {grantee}, "
                         f"'C', {int(revoke)}, '{SCHEMA_ALL}') WHERE oid = {oid}")
    return Translation(Kind.COMMAND, tag, tuple(steps), is_write=True, write_command=tag)


def _default_object(tag: str, privs: list[str] | None, noun: str, grantees: list[str], checks: list[str],
                    revoke: bool) -> Translation:
    """Functions, databases, languages, types: a GRANT of what PUBLIC holds by default is a
    no-op; anything that would change who may do what is refused."""
    defaults = _PUBLIC_DEFAULTS.get(noun)
    if defaults is not None and not revoke and privs is not None and set(privs) <= defaults:
        return Translation(Kind.COMMAND, tag, tuple(checks) or ("SELECT 1 WHERE 0",))
    raise SqlError("0A000", f"{tag} on {noun.upper()} objects is not supported: only table, view, "
                            "sequence and schema CREATE privileges are stored")


def _membership(tokens: tuple[Token, ...], text: str, grantees: list[str], checks: list[str], revoke: bool,
                option_only: bool) -> Translation:
    """GRANT role [, ...] TO role [, ...] (members inherit the role's privileges when they have
    INHERIT) / REVOKE role FROM role: superusers only here (PostgreSQL also lets a role with
    ADMIN OPTION or CREATEROLE)."""
    tag = ("REVOKE" if revoke else "GRANT") + " ROLE"
    ts = Tokens(tokens, text)
    roles: list[str] = []
    steps = list(checks)
    while not ts.at_end():
        name_sql, name = role_name_sql(ts)
        if name not in PREDEFINED_ROLES:
            steps.append(missing_check(name_sql, name))
        roles.append(name_sql)
        if not ts.accept(","):
            break
    if not ts.at_end():
        raise ts.error()
    if "''" in grantees:
        raise SqlError("42704", 'role "public" does not exist')
    steps.append("SELECT pg_raise('42501', 'permission denied to grant role') WHERE NOT __strata_may_own(NULL)")
    if option_only:
        return Translation(Kind.COMMAND, tag, tuple(steps), is_write=True, write_command=tag)
    for role in roles:
        for member in grantees:
            if revoke:
                steps.append(f"DELETE FROM main.{MEMBERS} WHERE role = {role} AND member = {member}")
            else:
                steps.append(f"SELECT pg_raise('0LP01', 'role \"' || {role} || '\" is a member of role \"' "
                             f"|| {member} || '\"') WHERE {role} = {member} OR EXISTS (WITH RECURSIVE "
                             f"r(n) AS (SELECT {role} UNION SELECT m.role FROM main.{MEMBERS} m JOIN r "
                             f"ON m.member = r.n) SELECT 1 FROM r WHERE n = {member})")
                steps.append(f"INSERT OR IGNORE INTO main.{MEMBERS} (role, member) VALUES ({role}, {member})")
    return Translation(Kind.COMMAND, tag, tuple(steps), is_write=True, write_command=tag)


def owner_to(tokens: tuple[Token, ...], text: str, catalog: Catalog) -> Translation:
    """ALTER TABLE [IF EXISTS] [ONLY] name OWNER TO role: the owner (or a member of the owning
    role, or a superuser) gives the relation to ``role``; its ACL's owner items follow."""
    ts = Tokens(tokens, text)
    ts.expect("alter")
    ts.next()  # TABLE / VIEW / SEQUENCE
    if_exists = ts.accept("if", "exists")
    ts.accept("only")
    name = _ident(ts)
    schema = "public"
    if ts.accept("."):
        schema, name = name, _ident(ts)
    key = relation_key(schema, name)
    if catalog.user_table(key) is None and key not in catalog.sequences:
        if if_exists:
            return Translation(Kind.NOOP, "ALTER TABLE", notices=(f'relation "{name}" does not exist, skipping',))
        raise SqlError("42P01", f'relation "{name}" does not exist')
    ts.expect("owner", "to")
    role_sql, role = role_name_sql(ts)
    if not ts.at_end():
        raise ts.error()
    oid = f"(SELECT oid FROM main.{TABLES} WHERE schema = {quote_literal(schema)} AND name = {quote_literal(name)})"
    kind = f"(SELECT CASE kind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' ELSE 'table' END FROM main.{TABLES} WHERE oid = {oid})"
    steps = (
        missing_check(role_sql, role),
        f"SELECT pg_raise('42501', 'must be owner of ' || {kind} || ' ' || {quote_literal(name)}) "
        f"WHERE NOT __strata_may_own({oid})",
        f"SELECT pg_raise('42501', 'must be member of role \"' || {role_sql} || '\"') "
        f"WHERE NOT __strata_may_become({role_sql})",
        f"INSERT OR IGNORE INTO main.{ACL} (oid, owner, acl) VALUES ({oid}, NULL, NULL)",
        f"UPDATE main.{ACL} SET acl = __strata_acl_owner(acl, coalesce(owner, pg_session_user()), {role_sql}), "
        f"owner = {role_sql} WHERE oid = {oid}",
    )
    return Translation(Kind.COMMAND, "ALTER TABLE", steps, is_write=True, write_command="ALTER TABLE")
