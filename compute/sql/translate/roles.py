"""Role DDL (CREATE/ALTER/DROP ROLE|USER|GROUP) and the role checks of GRANT/REVOKE and
ALTER TABLE … OWNER TO, translated into steps on the ``__strata_roles`` catalog table.

Roles live in each database's own catalog table (replicated with its data); the session user
(who logged in through the users file) is a role too, a superuser, whether or not it has a row.
Existence checks run at execution time (``pg_raise`` in a step), never at translation time:
translations are cached and roles are not part of the ``Catalog`` snapshot. Passwords become
SCRAM-SHA-256 verifiers here, with PostgreSQL's iteration count; the plaintext is in no step.
See docs/compute.md, "Roles".
"""

from __future__ import annotations

import re

from sqlglot.tokens import Token

from compute import pgtypes
from compute.sql.api import Kind, SqlError, Translation
from compute.sql.catalog.catalog import Catalog
from compute.sql.catalog.objects import ACL, MEMBERS, ROLES, quote_literal
from compute.sql.translate.tokens import Tokens, ident_value, is_quoted
from strata.pgwire.auth import SCRAM_ITERATIONS, ScramVerifier

_FLAGS = {"superuser": "super", "createdb": "createdb", "createrole": "createrole",
          "inherit": "inherit", "login": "canlogin", "replication": "replication",
          "bypassrls": "bypassrls"}
_MD5 = re.compile(r"md5[0-9a-f]{32}")
_SPECIAL = {"current_user": "pg_session_user()", "session_user": "pg_session_user()",
            "current_role": "pg_session_user()"}
# PostgreSQL 15's predefined roles: they exist in every cluster (GRANT pg_monitor TO x works)
PREDEFINED_ROLES = frozenset({
    "pg_database_owner", "pg_read_all_data", "pg_write_all_data", "pg_monitor", "pg_read_all_settings",
    "pg_read_all_stats", "pg_stat_scan_tables", "pg_signal_backend", "pg_checkpoint",
    "pg_read_server_files", "pg_write_server_files", "pg_execute_server_program"})
_GRANT_END = frozenset({"with", "granted", "cascade", "restrict"})
_OTHER_OBJECTS = frozenset({"all", "sequence", "schema", "function", "procedure", "routine", "database",
                            "type", "domain", "language", "foreign", "large", "tablespace", "parameter"})


def role_statement(first: str, tokens: tuple[Token, ...], text: str) -> Translation:
    """CREATE ROLE|USER|GROUP, ALTER ROLE|USER|GROUP, DROP ROLE|USER|GROUP."""
    ts = Tokens(tokens, text)
    ts.next()
    noun = ts.next().text.lower()
    if noun == "user" and ts.peek() == "mapping":
        raise SqlError("0A000", f"{first.upper()} USER MAPPING is not supported: there are no foreign servers")
    if first == "create":
        return _create(ts, login=noun == "user")
    if first == "alter":
        return _alter(ts)
    return _drop(ts)


def _name(ts: Tokens) -> str:
    tok = ts.next()
    if tok.text.startswith("'") or not (tok.text[:1].isalpha() or tok.text[:1] == "_" or is_quoted(tok, ts.text)):
        raise SqlError("42601", f'syntax error at or near "{tok.text}"', position=tok.start + 1)
    name = ident_value(tok, ts.text)
    if not name:
        raise SqlError("42601", 'zero-length delimited identifier at or near """"', position=tok.start + 1)
    return name


def role_name_sql(ts: Tokens) -> tuple[str, str]:
    """A role specification: (SQL expression of its name, name for messages)."""
    tok = ts.token()
    name = _name(ts)
    if tok is not None and not is_quoted(tok, ts.text) and name in _SPECIAL:
        return _SPECIAL[name], name
    if name == "public" and tok is not None and not is_quoted(tok, ts.text):
        raise SqlError("42704", 'role "public" does not exist')
    return quote_literal(name), name


def _exists_sql(name_sql: str) -> str:
    return (f"({name_sql} = pg_session_user() OR EXISTS (SELECT 1 FROM main.{ROLES} "
            f"WHERE name = {name_sql}))")


def missing_check(name_sql: str, name: str, sqlstate: str = "42704") -> str:
    """A step raising ``sqlstate`` (PostgreSQL's 42704; SET ROLE's is 22023) when the role
    does not exist."""
    if name in PREDEFINED_ROLES or name in _SPECIAL:  # always exist
        return "SELECT 1 WHERE 0"
    return (f"SELECT pg_raise('{sqlstate}', {quote_literal(f'role {_dq(name)} does not exist')}) "
            f"WHERE NOT {_exists_sql(name_sql)}")


def _exists_check(name_sql: str, name: str) -> str:
    return (f"SELECT pg_raise('42710', {quote_literal(f'role {_dq(name)} already exists')}) "
            f"WHERE {_exists_sql(name_sql)}")


def _dq(name: str) -> str:
    return '"' + name + '"'


def _reserved(name: str) -> None:
    if name.startswith("pg_"):
        raise SqlError("42939", f'role name "{name}" is reserved',
                       detail='Role names starting with "pg_" are reserved.')


def _options(ts: Tokens) -> tuple[dict[str, str], tuple[str, ...]]:
    """[WITH] option ...: column -> SQL value, and the notices PostgreSQL gives."""
    ts.accept("with")
    sets: dict[str, str] = {}
    notices: list[str] = []

    def put(column: str, value: str) -> None:
        if column in sets:
            raise SqlError("42601", "conflicting or redundant options")
        sets[column] = value

    while not ts.at_end():
        tok = ts.next()
        word = tok.text.lower()
        if word in _FLAGS or (word.startswith("no") and word[2:] in _FLAGS):
            flag = word if word in _FLAGS else word[2:]
            put(_FLAGS[flag], "1" if word in _FLAGS else "0")
        elif word == "connection" and ts.accept("limit"):
            put("connlimit", str(_integer(ts)))
        elif word in ("password", "encrypted", "unencrypted"):
            if word == "unencrypted":
                raise SqlError("0A000", "UNENCRYPTED PASSWORD is no longer supported",
                               hint="Remove UNENCRYPTED to store the password in encrypted form instead.")
            if word == "encrypted":
                ts.expect("password")
            value, notice = _password(ts)
            put("password", value)
            notices.extend(notice)
        elif word == "valid" and ts.accept("until"):
            # checked and fixed now ('tomorrow' is a time, 22007 for no time); a zone-less value is UTC
            put("validuntil", quote_literal(pgtypes.parse_timestamptz(_string(ts), "UTC")))
        elif word in ("in", "role", "admin", "user", "sysid"):
            raise SqlError("0A000", f"{word.upper()} in a role definition is not supported: "
                                    "role membership is not stored")
        else:
            raise SqlError("42601", f'syntax error at or near "{tok.text}"', position=tok.start + 1)
    return sets, tuple(notices)


def _integer(ts: Tokens) -> int:
    negative = ts.accept("-")
    tok = ts.next()
    if not tok.text.isdigit():
        raise SqlError("42601", f'syntax error at or near "{ts.text[tok.start : tok.end + 1]}"',
                       position=tok.start + 1)
    return -int(tok.text) if negative else int(tok.text)


def _string(ts: Tokens) -> str:
    tok = ts.next()
    literal = ts.text[tok.start : tok.end + 1]
    if not (literal.startswith("'") and literal.endswith("'") and len(literal) >= 2):
        raise SqlError("42601", f'syntax error at or near "{tok.text}"', position=tok.start + 1)
    return literal[1:-1].replace("''", "'")


def _password(ts: Tokens) -> tuple[str, tuple[str, ...]]:
    """PASSWORD 'text' | NULL as the SQL value stored: a SCRAM-SHA-256 verifier or NULL."""
    if ts.accept("null"):
        return "NULL", ()
    password = _string(ts)
    if not password:
        return "NULL", ("empty string is not a valid password, clearing password",)
    if _MD5.fullmatch(password):
        raise SqlError("0A000", "MD5 password verifiers are not supported: give the password "
                                "or a SCRAM-SHA-256 verifier")
    if password.startswith("SCRAM-SHA-256$"):
        try:
            ScramVerifier.parse(password)
            return quote_literal(password), ()  # stored as given, as PostgreSQL does
        except ValueError:
            pass  # not a valid verifier: PostgreSQL takes it as a plaintext password
    verifier = ScramVerifier.from_password(password, iterations=SCRAM_ITERATIONS)
    return quote_literal(verifier.text()), ()


def _create(ts: Tokens, login: bool) -> Translation:
    tok = ts.token()
    name = _name(ts)
    if tok is not None and not is_quoted(tok, ts.text) and name in _SPECIAL:
        raise SqlError("42939", f"{name.upper()} cannot be used as a role name here")
    if tok is not None and not is_quoted(tok, ts.text) and name in ("public", "none"):
        raise SqlError("42939", f'role name "{name}" is reserved')
    _reserved(name)
    sets, notices = _options(ts)
    sets.setdefault("canlogin", "1" if login else "0")
    columns = ", ".join(sets)
    values = ", ".join(sets.values())
    lit = quote_literal(name)
    steps = (
        _exists_check(lit, name),
        f"INSERT INTO main.{ROLES} (name, oid, {columns}) SELECT {lit}, "
        f"(SELECT max(coalesce(max(oid), 16383), 16383) + 1 FROM main.{ROLES}), {values}",
    )
    return Translation(Kind.COMMAND, "CREATE ROLE", steps, is_write=True, notices=notices,
                       write_command="CREATE ROLE")


def _materialize(name_sql: str) -> str:
    """The session user gets its row (a superuser, OID 10) before its first change."""
    return (f"INSERT OR IGNORE INTO main.{ROLES} (name, oid, super, inherit, createrole, createdb, "
            f"canlogin, replication, bypassrls) SELECT {name_sql}, 10, 1, 1, 1, 1, 1, 1, 1 "
            f"WHERE {name_sql} = pg_session_user()")


def _alter(ts: Tokens) -> Translation:
    name_sql, name = role_name_sql(ts)
    check = missing_check(name_sql, name)
    _reserved(name)
    if ts.accept("rename", "to"):
        new = _name(ts)
        _reserved(new)
        lit = quote_literal(new)
        steps = (check,
                 f"SELECT pg_raise('0A000', 'session user cannot be renamed') "
                 f"WHERE {name_sql} = pg_session_user()",
                 _exists_check(lit, new),
                 f"UPDATE main.{ROLES} SET name = {lit} WHERE name = {name_sql}",
                 # what the role owns, holds and is a member of follows it (compute/sql/privileges.py)
                 f"UPDATE main.{ACL} SET owner = {lit} WHERE owner = {name_sql}",
                 f"UPDATE main.{ACL} SET acl = __strata_acl_rename(acl, {name_sql}, {lit}) WHERE acl IS NOT NULL",
                 f"UPDATE main.{MEMBERS} SET role = {lit} WHERE role = {name_sql}",
                 f"UPDATE main.{MEMBERS} SET member = {lit} WHERE member = {name_sql}")
        return Translation(Kind.COMMAND, "ALTER ROLE", steps, is_write=True, write_command="ALTER ROLE")
    if ts.peek() in ("set", "reset") or (ts.peek() == "in" and ts.peek(1) == "database"):
        raise SqlError("0A000", "ALTER ROLE … SET/RESET is not supported: per-role settings are not stored")
    sets, notices = _options(ts)
    if not sets:
        return Translation(Kind.COMMAND, "ALTER ROLE", (check,), write_command="ALTER ROLE")
    assignments = ", ".join(f"{column} = {value}" for column, value in sets.items())
    update = f"UPDATE main.{ROLES} SET {assignments} WHERE name = {name_sql}"
    return Translation(Kind.COMMAND, "ALTER ROLE", (check, _materialize(name_sql), update), is_write=True, notices=notices,
                       write_command="ALTER ROLE")


def _drop(ts: Tokens) -> Translation:
    if_exists = ts.accept("if", "exists")
    steps: list[str] = []
    names: list[str] = []
    while True:
        tok = ts.token()
        name_sql, name = role_name_sql(ts)
        if tok is not None and not is_quoted(tok, ts.text) and name in _SPECIAL:
            raise SqlError("22023", "cannot use special role specifier in DROP ROLE")
        if name in PREDEFINED_ROLES:
            raise SqlError("2BP01", f"cannot drop role {name} because it is required by the database system")
        if not if_exists:
            steps.append(missing_check(name_sql, name))
        elif name not in PREDEFINED_ROLES and name not in _SPECIAL:
            skipping = quote_literal(f"role {_dq(name)} does not exist, skipping")
            steps.append(f"SELECT pg_notice('00000', {skipping}) WHERE NOT {_exists_sql(name_sql)}")
        steps.append(f"SELECT pg_raise('55006', 'current user cannot be dropped') "
                     f"WHERE {name_sql} = pg_session_user()")
        depends = quote_literal(f"role {_dq(name)} cannot be dropped because some objects depend on it")
        steps.append(f"SELECT pg_raise('2BP01', {depends}) WHERE EXISTS (SELECT 1 FROM main.{ACL} "
                     f"WHERE owner = {name_sql} OR __strata_acl_mentions(acl, {name_sql}))")
        names.append(name_sql)
        if not ts.accept(","):
            break
    if not ts.at_end():
        raise ts.error()
    steps.append(f"DELETE FROM main.{ROLES} WHERE name IN ({', '.join(names)})")
    steps.append(f"DELETE FROM main.{MEMBERS} WHERE role IN ({', '.join(names)}) OR member IN ({', '.join(names)})")
    return Translation(Kind.COMMAND, "DROP ROLE", tuple(steps), is_write=True, write_command="DROP ROLE")


def grant_statement(first: str, tokens: tuple[Token, ...], text: str, catalog: Catalog) -> Translation:
    """GRANT … TO / REVOKE … FROM: accepted without effect (privileges are not enforced), but
    every role named must exist (42704), as in PostgreSQL."""
    lowered = [t.text.lower() if not t.text.startswith("'") else "" for t in tokens]
    target = "to" if first == "grant" else "from"
    depth, at = 0, -1
    for i, (tok, word) in enumerate(zip(tokens, lowered, strict=True)):
        depth += {"(": 1, ")": -1}.get(tok.text, 0)
        if depth == 0 and word == target and not is_quoted(tok, text):
            at = i
    if at < 0:
        return Translation(Kind.NOOP, first.upper())
    checks: list[str] = []
    tag = first.upper()
    if "on" in lowered[:at]:
        on = lowered.index("on")
        _check_relations(Tokens(tokens[on + 1 : at], text), catalog)
    else:
        tag += " ROLE"  # GRANT role [, ...] TO role: the granted roles too
        start = 1
        if first == "revoke" and lowered[1:4] == ["admin", "option", "for"]:
            start = 4
        checks.extend(_role_list(Tokens(tokens[start:at], text), grantee=False))
    checks.extend(_role_list(Tokens(tokens[at + 1 :], text), grantee=True))
    return Translation(Kind.COMMAND, tag, tuple(checks) or ("SELECT 1 WHERE 0",))


def _check_relations(ts: Tokens, catalog: Catalog) -> None:
    """GRANT … ON [TABLE] a, b: 42P01 for a relation that does not exist (other object kinds
    are not checked)."""
    if ts.peek() in _OTHER_OBJECTS:
        return
    ts.accept("table")
    while not ts.at_end():
        name = _name(ts)
        if ts.accept("."):
            if name not in ("public", "pg_catalog"):
                return  # another schema: not checked here
            name = _name(ts)
        _relation(catalog, name)
        if not ts.accept(","):
            return


def _relation(catalog: Catalog, name: str) -> bool:
    if catalog.table(name) is None and name not in catalog.sequences:
        raise SqlError("42P01", f'relation "{name}" does not exist')
    return True


def _role_list(ts: Tokens, grantee: bool) -> list[str]:
    checks: list[str] = []
    while not ts.at_end() and ts.peek() not in _GRANT_END:
        if grantee:
            ts.accept("group")
        tok = ts.token()
        if grantee and ts.peek() == "public" and tok is not None and not is_quoted(tok, ts.text):
            ts.next()
        else:
            checks.append(missing_check(*role_name_sql(ts)))
        if not ts.accept(","):
            break
    return checks


def owner_to(tokens: tuple[Token, ...], text: str, catalog: Catalog) -> Translation:
    """ALTER TABLE [IF EXISTS] [ONLY] name OWNER TO role: a no-op (owners are not tracked) once
    the relation (42P01) and the role (42704) exist."""
    ts = Tokens(tokens, text)
    ts.expect("alter", "table")
    if_exists = ts.accept("if", "exists")
    ts.accept("only")
    name = _name(ts)
    if ts.accept("."):
        name = _name(ts) if name in ("public", "pg_catalog") else ""
    if name and catalog.table(name) is None and name not in catalog.sequences:
        if if_exists:
            return Translation(Kind.NOOP, "ALTER TABLE", notices=(f'relation "{name}" does not exist, skipping',))
        raise SqlError("42P01", f'relation "{name}" does not exist')
    lowered = [t.text.lower() for t in tokens]
    for i in range(len(lowered) - 2):
        if lowered[i] == "owner" and lowered[i + 1] == "to":
            check = missing_check(*role_name_sql(Tokens(tokens[i + 2 :], text)))
            return Translation(Kind.COMMAND, "ALTER TABLE", (check,))
    return Translation(Kind.NOOP, "ALTER TABLE")
