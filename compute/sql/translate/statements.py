"""Utility statements that never touch SQLite data: transaction control, SET/SHOW/RESET, no-ops.

These are parsed from tokens directly (sqlglot parses most of them only as opaque commands).
The session executes them: it owns transaction state and the settings dictionary.
"""

from __future__ import annotations

import json
import re

from sqlglot.tokens import Token, TokenType

from compute import pgtypes
from compute.sql.api import ColumnDesc, ConstraintsMode, Kind, SqlError, Translation
from compute.sql.catalog.catalog import Catalog
from compute.sql.catalog.objects import quote_literal
from compute.sql.functions.session import canonical_setting_name
from compute.sql.translate.roles import missing_check
from compute.sql.translate.split import tokenize
from compute.sql.translate.tokens import Tokens, ident_value, is_quoted, word

_ISOLATION = {
    ("read", "committed"): "read committed",
    ("read", "uncommitted"): "read uncommitted",
    ("repeatable", "read"): "repeatable read",
    ("serializable",): "serializable",
}


_SAVEPOINT_NAME = re.compile(
    r'\s*(?:(?P<kw>savepoint)\s+)?(?:"(?P<quoted>(?:[^"]|"")+)"|(?P<bare>[A-Za-z_][A-Za-z0-9_$]*))'
    r"\s*;?\s*$",
    re.IGNORECASE,
)


def _savepoint_name(text: str, start: int, *, keyword: bool) -> str:
    """The name in ``SAVEPOINT name`` / ``RELEASE [SAVEPOINT] name``, read from the text.

    sqlglot tokenizes these as a command followed by one opaque string, so the name is
    parsed here: a quoted identifier keeps its case, a bare one is lower-cased.
    """
    rest = text[start:]
    m = _SAVEPOINT_NAME.match(rest)
    if m is not None and m.group("kw") and not keyword:
        m = None  # SAVEPOINT SAVEPOINT x is not a statement
    if m is None:
        stripped = rest.strip().rstrip(";").strip()
        if not stripped:
            raise SqlError("42601", "syntax error at end of input")
        word = stripped.split()[0]
        raise SqlError("42601", f'syntax error at or near "{word}"',
                       position=start + rest.index(word) + 1)
    if m.group("quoted") is not None:
        return m.group("quoted").replace('""', '"')
    return m.group("bare").lower()


def _modes(ts: Tokens) -> tuple[str | None, bool | None]:
    isolation: str | None = None
    read_only: bool | None = None
    while not ts.at_end():
        if ts.accept(","):
            continue
        if ts.accept("isolation", "level"):
            for words, level in _ISOLATION.items():
                if ts.accept(*words):
                    isolation = level
                    break
            else:
                ts.error()
        elif ts.accept("read", "only"):
            read_only = True
        elif ts.accept("read", "write"):
            read_only = False
        elif ts.accept("not", "deferrable") or ts.accept("deferrable"):
            pass
        else:
            ts.error()
    return isolation, read_only


def _value_text(ts: Tokens) -> str:
    """A SET value list as PostgreSQL flattens it (``a, 'b c'`` -> ``a, b c``)."""
    parts: list[str] = []
    current = ""
    while not ts.at_end():
        tok = ts.next()
        if tok.token_type == TokenType.COMMA:
            parts.append(current)
            current = ""
            continue
        if tok.token_type == TokenType.STRING:
            current += tok.text
        elif is_quoted(tok, ts.text):
            current += tok.text if tok.text != "$user" else '"$user"'
        elif tok.token_type in (TokenType.DASH,):
            current += "-"
        else:
            current += tok.text
    parts.append(current)
    return ", ".join(parts)


def translate_utility(first: str, tokens: tuple[Token, ...], text: str) -> Translation | None:
    """Translate a utility statement, or return None if ``first`` does not start one."""
    ts = Tokens(tokens, text)
    if first in ("begin", "start"):
        if first == "start":
            ts.expect("start", "transaction")
            tag = "START TRANSACTION"
        else:
            ts.expect("begin")
            ts.accept("work") or ts.accept("transaction")
            tag = "BEGIN"
        isolation, read_only = _modes(ts)
        return Translation(Kind.BEGIN, tag, isolation=isolation, read_only=read_only)
    if first in ("commit", "end"):
        ts.next()
        ts.accept("work") or ts.accept("transaction")
        chain = ts.accept("and", "chain")
        ts.accept("and", "no", "chain")
        if not ts.at_end():
            ts.error()
        return Translation(Kind.COMMIT, "COMMIT", chain=chain)
    if first in ("rollback", "abort"):
        ts.next()
        ts.accept("work") or ts.accept("transaction")
        if ts.accept("to"):
            ts.accept("savepoint")
            name = ts.next_name()
            return Translation(Kind.ROLLBACK_TO, "ROLLBACK", name=name)
        chain = ts.accept("and", "chain")
        ts.accept("and", "no", "chain")
        if not ts.at_end():
            ts.error()
        return Translation(Kind.ROLLBACK, "ROLLBACK", chain=chain)
    if first == "savepoint":
        return Translation(Kind.SAVEPOINT, "SAVEPOINT",
                           name=_savepoint_name(text, tokens[0].end + 1, keyword=False))
    if first == "release":
        return Translation(Kind.RELEASE, "RELEASE",
                           name=_savepoint_name(text, tokens[0].end + 1, keyword=True))
    if first == "set":
        return _set(ts)
    if first == "reset":
        ts.next()
        if ts.accept("all"):
            return Translation(Kind.SET, "RESET", name="all", value=None)
        if ts.accept("time", "zone"):
            return Translation(Kind.SET, "RESET", name="TimeZone", value=None)
        rest = " ".join(" ".join(t.text.lower() for t in tokens[1:]).split())
        if rest in ("role", "session authorization"):  # back to the login role: where it is
            return Translation(Kind.NOOP, "RESET")
        return Translation(Kind.SET, "RESET", name=canonical_setting_name(_dotted_name(ts)), value=None)
    if first == "show":
        return _show(text[tokens[0].end + 1 :].strip())
    if first in ("vacuum", "analyze", "analyse", "checkpoint", "cluster", "reindex", "load"):
        tag = {"analyse": "ANALYZE"}.get(first, first.upper())
        return Translation(Kind.NOOP, tag)
    if first == "discard":
        ts.next()
        what = (ts.peek() or "all").upper()
        return Translation(Kind.DISCARD, f"DISCARD {what}", name=what.lower())
    if first in ("listen", "unlisten", "notify"):
        return _listen_notify(ts, first)
    if first == "prepare":
        return prepare_statement(text, tokens[0].end + 1)
    if first == "execute":
        return execute_statement(text, tokens[0].end + 1)
    if first == "deallocate":
        words = text[tokens[0].end + 1 :].split()
        if words and words[0].lower() == "prepare":
            words = words[1:]
        if not words:
            raise SqlError("42601", "syntax error at end of input")
        if words[0].lower() == "all":
            return Translation(Kind.DEALLOCATE, "DEALLOCATE ALL", name="")
        name = words[0][1:-1] if words[0].startswith('"') else words[0].lower()
        return Translation(Kind.DEALLOCATE, "DEALLOCATE", name=name)
    if first == "lock":
        return Translation(Kind.LOCK, "LOCK TABLE", is_write=True, lock_mode=_lock_mode(text, tokens[0].end + 1))
    return None


def _listen_notify(ts: Tokens, first: str) -> Translation:
    """LISTEN channel | UNLISTEN { channel | * } | NOTIFY channel [, 'payload']."""
    ts.next()
    if first == "unlisten" and ts.accept("*"):
        channel = "*"
    else:
        channel = ts.next_name()
        if not channel:
            raise SqlError("42601", 'zero-length delimited identifier at or near """"')
    payload: str | None = None
    if first == "notify" and ts.accept(","):
        tok = ts.next()
        literal = ts.text[tok.start : tok.end + 1]
        if not (literal.startswith("'") and literal.endswith("'") and len(literal) >= 2):
            raise SqlError("42601", f'syntax error at or near "{tok.text}"', position=tok.start + 1)
        payload = literal[1:-1].replace("''", "'")
    if not ts.at_end():
        ts.error()
    kind = {"listen": Kind.LISTEN, "unlisten": Kind.UNLISTEN, "notify": Kind.NOTIFY}[first]
    return Translation(kind, first.upper(), name=channel, value=payload)


def set_constraints(tokens: tuple[Token, ...], text: str, catalog: Catalog) -> Translation:
    """SET CONSTRAINTS { ALL | name [, ...] } { DEFERRED | IMMEDIATE }.

    Names resolve here, against the catalog: the session gets the trigger prefixes of the
    deferrable foreign keys named (``None`` for ALL). Naming a constraint that is not deferrable
    is an error only for DEFERRED, as in PostgreSQL.
    """
    ts = Tokens(tokens, text)
    ts.expect("set", "constraints")
    names: list[str] | None = None
    if not ts.accept("all"):
        names = []
        while True:
            name = ts.next_name()
            if ts.accept("."):
                if name != "public":
                    raise SqlError("3F000", f'schema "{name}" does not exist')
                name = ts.next_name()
            names.append(name)
            if not ts.accept(","):
                break
    if ts.accept("deferred"):
        deferred = True
    elif ts.accept("immediate"):
        deferred = False
    else:
        raise ts.error()
    if not ts.at_end():
        raise ts.error()
    prefixes: tuple[str, ...] | None = None
    error: tuple[str, str] | None = None  # raised by the session (after its no-transaction warning)
    if names is not None:
        found: list[str] = []
        for name in names:
            matches = [con for table in catalog.tables.values() for con in table.constraints if con.name == name]
            if not matches:
                error = error or ("42704", f'constraint "{name}" does not exist')
            for con in matches:
                info = json.loads(con.definition) if con.type == "f" and con.definition else {}
                if not info.get("deferrable"):
                    if deferred:
                        error = error or ("42809", f'constraint "{name}" is not deferrable')
                    continue
                found.append(str(info.get("trigger")))
        prefixes = tuple(found)
    return Translation(Kind.SET_CONSTRAINTS, "SET CONSTRAINTS", name="constraints",
                       constraints=ConstraintsMode(prefixes, deferred, error))


def _show(rest: str) -> Translation:
    """SHOW's argument arrives as raw text (sqlglot tokenizes SHOW as a command)."""
    words = rest.split()
    low = [w.lower() for w in words]
    if low == ["all"]:
        cols = tuple(ColumnDesc(n, pgtypes.TEXT) for n in ("name", "setting", "description"))
        return Translation(Kind.SHOW, "SHOW", name="all", columns=cols)
    if low == ["time", "zone"]:
        name = "TimeZone"
    elif low == ["transaction", "isolation", "level"]:
        name = "transaction_isolation"
    elif len(words) == 1:
        word = words[0]
        name = word[1:-1] if word.startswith('"') and word.endswith('"') else canonical_setting_name(word)
    elif not words:
        raise SqlError("42601", "syntax error at end of input")
    else:
        raise SqlError("42601", f'syntax error at or near "{words[1]}"')
    column = "TimeZone" if name == "TimeZone" else name.lower()
    return Translation(Kind.SHOW, "SHOW", name=name, columns=(ColumnDesc(column, pgtypes.TEXT),))


def _dotted_name(ts: Tokens) -> str:
    parts = [ts.next_name()]
    while ts.accept("."):
        parts.append(ts.next_name())
    if not ts.at_end():
        ts.error()
    return ".".join(parts)


def _set(ts: Tokens) -> Translation:
    ts.expect("set")
    is_local = False
    if ts.accept("local"):
        is_local = True
    else:
        ts.accept("session")
    if ts.accept("transaction"):
        isolation, read_only = _modes(ts)
        return Translation(Kind.SET, "SET", name="transaction", is_local=True, isolation=isolation,
                           read_only=read_only)
    if ts.accept("characteristics", "as", "transaction"):
        isolation, read_only = _modes(ts)
        return Translation(Kind.SET, "SET", name="session_characteristics", isolation=isolation,
                           read_only=read_only)
    if ts.accept("time", "zone"):
        if ts.accept("local") or ts.accept("default"):
            return Translation(Kind.SET, "SET", name="TimeZone", value=None, is_local=is_local)
        value = pgtypes.interval_zone(_value_text(ts)) if ts.accept("interval") else _value_text(ts)
        pgtypes.get_zone(value)
        return Translation(Kind.SET, "SET", name="TimeZone", value=value, is_local=is_local)
    if ts.accept("names"):
        return Translation(Kind.SET, "SET", name="client_encoding", value=_value_text(ts), is_local=is_local)
    if ts.accept("schema"):
        return Translation(Kind.SET, "SET", name="search_path", value=_value_text(ts), is_local=is_local)
    if ts.accept("role"):
        return _set_role(ts, "SET ROLE", "none")
    if ts.accept("session", "authorization") or ts.accept("authorization"):
        return _set_role(ts, "SET SESSION AUTHORIZATION", "default")
    parts = [ts.next_name()]
    while ts.accept("."):
        parts.append(ts.next_name())
    name = canonical_setting_name(".".join(parts))
    if not (ts.accept("to") or ts.accept("=")):
        ts.error()
    if ts.peek() == "default" and ts.token(1) is None:
        return Translation(Kind.SET, "SET", name=name, value=None, is_local=is_local)
    value = _value_text(ts)
    if name == "TimeZone":
        pgtypes.get_zone(value)
    return Translation(Kind.SET, "SET", name=name, value=value, is_local=is_local)


def _set_role(ts: Tokens, what: str, identity: str) -> Translation:
    """SET ROLE / SET SESSION AUTHORIZATION: to NONE / DEFAULT or to the session user itself,
    a no-op (privileges are the login role's already); to another role, 0A000 (after 22023 for a
    role that does not exist, as PostgreSQL): taking another role's privileges is not
    supported, and accepting it while keeping the login role's would be silently wrong."""
    tok = ts.next()
    source = ts.text[tok.start : tok.end + 1]
    if source.startswith("'") and source.endswith("'") and len(source) >= 2:
        name = source[1:-1].replace("''", "'")
    elif source[:1].isalpha() or source[:1] == "_" or is_quoted(tok, ts.text):
        name = ident_value(tok, ts.text)
        bare = not is_quoted(tok, ts.text)
        if bare and name == identity:
            if not ts.at_end():
                ts.error()
            return Translation(Kind.NOOP, "SET")
        if bare and name in ("current_user", "session_user", "current_role", "user"):
            raise SqlError("42601", f'syntax error at or near "{tok.text}"', position=tok.start + 1)
        if bare and name == "public":
            raise SqlError("22023", 'role "public" does not exist')
    else:
        raise SqlError("42601", f'syntax error at or near "{tok.text}"', position=tok.start + 1)
    if not ts.at_end():
        ts.error()
    literal = quote_literal(name)
    refused = quote_literal(f'{what} "{name}" is not supported: a session keeps its login role '
                              "and that role's privileges")
    return Translation(Kind.COMMAND, "SET", (
        missing_check(literal, name, "22023"),
        f"SELECT pg_raise('0A000', {refused}) WHERE {literal} <> pg_session_user()",
    ))


def _lock_mode(text: str, start: int) -> str:
    """The mode of LOCK [TABLE] name [, ...] [IN mode MODE] [NOWAIT] (default ACCESS EXCLUSIVE), from
    the words after LOCK (sqlglot reads them as one opaque string, so they are tokenized here)."""
    rest = text[start:]
    words = [word(t, rest) for t in tokenize(rest)]
    for i, w in enumerate(words):
        if w != "in" or "mode" not in words[i + 1 :]:
            continue
        end = words.index("mode", i + 1)
        mode = words[i + 1 : end]
        if mode and None not in mode:
            return " ".join(w.upper() for w in mode if w is not None)
    return "ACCESS EXCLUSIVE"


_NAME = re.compile(r'\s*(?:"((?:[^"]|"")+)"|([A-Za-z_][A-Za-z0-9_$]*))', re.IGNORECASE)
_PREPARABLE = frozenset({"select", "insert", "update", "delete", "values", "with", "table", "merge"})


def _paren_items(text: str, pos: int) -> tuple[list[str], int]:
    """The comma-separated items of a parenthesized list starting at ``text[pos] == "("``
    (commas inside quotes or nested parentheses/brackets do not split) and the end position."""
    items: list[str] = []
    depth, start, i = 0, pos + 1, pos
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            close = i + 1
            while close < len(text) and not (text[close] == ch and text[close + 1 : close + 2] != ch):
                close += 2 if text[close] == ch else 1
            i = close
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth == 0:
                last = text[start:i].strip()
                if last or items:
                    items.append(last)
                if any(not item for item in items):
                    raise SqlError("42601", 'syntax error at or near ","')
                return items, i + 1
        elif ch == "," and depth == 1:
            items.append(text[start:i].strip())
            start = i + 1
        i += 1
    raise SqlError("42601", "syntax error at end of input")


def _statement_name(text: str, pos: int) -> tuple[str, int]:
    m = _NAME.match(text, pos)
    if m is None:
        raise SqlError("42601", "syntax error at end of input" if not text[pos:].strip()
                       else f'syntax error at or near "{text[pos:].split()[0]}"')
    name = m.group(1).replace('""', '"') if m.group(1) is not None else m.group(2).lower()
    return name, m.end()


def _param_type(text: str) -> int:
    """A PREPARE parameter type (built-in types; a type modifier is accepted and ignored, as
    PostgreSQL does for parameters)."""
    name = text.strip()
    dims = 0
    while name.endswith("]"):
        name, dims = name[: name.rindex("[")].rstrip(), dims + 1
    if name.lower().startswith("pg_catalog."):
        name = name[len("pg_catalog."):]
    key = name[1:-1] if name.startswith('"') else " ".join(re.sub(r"\(.*\)", "", name).lower().split())
    oid = pgtypes.TYPE_NAMES.get(key)
    if oid is not None and dims:
        oid = pgtypes.ARRAY_OF.get(oid)
    if oid is None:
        raise SqlError("42704", f'type "{text.strip()}" does not exist')
    return oid


def prepare_statement(text: str, start: int) -> Translation:
    """PREPARE name [(type, ...)] AS statement: ``name``, and in ``value`` the statement's text
    and declared parameter type OIDs as JSON ``{"text", "types"}`` (the session stores them)."""
    name, pos = _statement_name(text, start)
    types: list[int] = []
    rest = text[pos:].lstrip()
    if rest.startswith("("):
        items, end = _paren_items(rest, 0)
        types = [_param_type(item) for item in items]
        rest = rest[end:].lstrip()
    if not rest[:2].lower() == "as" or rest[2:3].isalnum():
        raise SqlError("42601", f'syntax error at or near "{rest.split()[0]}"' if rest.strip()
                       else "syntax error at end of input")
    body = rest[2:].strip().rstrip(";").strip()
    first = body.split(None, 1)[0].lower().lstrip("(") if body else ""
    if first not in _PREPARABLE:
        raise SqlError("42601", f'syntax error at or near "{body.split()[0]}"' if body
                       else "syntax error at end of input")
    offset = text.index(body, len(text) - len(rest))  # where the statement starts (error positions)
    return Translation(Kind.PREPARE, "PREPARE", name=name,
                       value=json.dumps({"text": body, "types": types, "offset": offset}))


def execute_statement(text: str, start: int) -> Translation:
    """EXECUTE name [(argument, ...)]: ``name``, the arguments' SQL texts as a JSON list in
    ``value`` (the session replaces this by the prepared statement with them bound)."""
    name, pos = _statement_name(text, start)
    args: list[str] = []
    rest = text[pos:].lstrip()
    if rest.startswith("("):
        args, end = _paren_items(rest, 0)
        rest = rest[end:]
    if rest.strip().rstrip(";").strip():
        raise SqlError("42601", f'syntax error at or near "{rest.split()[0]}"')
    return Translation(Kind.EXECUTE, "EXECUTE", name=name, value=json.dumps(args))
