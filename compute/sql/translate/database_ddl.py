"""CREATE DATABASE name [WITH] [option [=] value ...] and ALTER DATABASE, read from the token
stream.

Every option of PostgreSQL 15's grammar is read, with its errors where PostgreSQL has one
(tests/compute/test_create_database.py runs each form on PostgreSQL too). What a Strata
database is, and so what is accepted as is: UTF8, the C.UTF-8 locale of template1 (or C /
POSIX from template0: text orders bytewise either way), the libc provider, tablespace
pg_default, connections allowed, no limit, not a template. A value that would make the
database behave otherwise (another encoding or collation, ICU, a connection limit, a template
database, a fixed OID) is refused with 0A000, never taken and ignored. TEMPLATE naming a
database and OWNER are checked when the statement runs (compute/session.py): the names live
in the registry and in the roles table, not in the catalog snapshot.
"""

from __future__ import annotations

import re

from sqlglot.tokens import Token

from compute.sql.api import Kind, SqlError, Translation
from compute.sql.translate.tokens import Tokens, ident_value, is_quoted

TEMPLATE_LOCALE = "C.UTF-8"
"""The locale template1 (and so every database by default) reports, as the test oracle's initdb."""
_SAME_AS_TEMPLATE = {"c.utf-8", "c.utf8"}
_BYTEWISE = {"c", "posix"} | _SAME_AS_TEMPLATE
_UTF8_NAMES = {"utf8", "unicode"}
# PostgreSQL 15's server encodings (names as pg_char_to_encoding cleans them: lower case,
# letters and digits only); client-only ones (sjis, big5, gbk, uhc, gb18030, johab) too, so
# that a name PostgreSQL knows is never reported as unknown.
_ENCODINGS = {
    "sqlascii", "eucjp", "euccn", "euckr", "euctw", "eucjis2004", "utf8", "unicode",
    "muleinternal", "koi8r", "koi8u", "koi8", "win1250", "win1251", "win1252", "win1253",
    "win1254", "win1255", "win1256", "win1257", "win1258", "win866", "win874", "win",
    "alt", "sjis", "shiftjis2004", "big5", "gbk", "uhc", "gb18030", "johab", "tcvn", "tcvn5712",
    "vscii", "abc", "mskanji", "shiftjis", "windows932", "windows936", "windows949",
    "windows950", *(f"latin{i}" for i in range(1, 11)), *(f"iso8859{i}" for i in range(1, 17)),
}
_OPTIONS = ("owner", "template", "encoding", "strategy", "locale", "lc_collate", "lc_ctype",
            "icu_locale", "locale_provider", "collation_version", "tablespace",
            "allow_connections", "connection", "is_template", "oid")
_TRUE = {"true", "on", "1", "yes", "t", "y"}
_FALSE = {"false", "off", "0", "no", "f", "n"}


def create_database_statement(tokens: tuple[Token, ...], text: str) -> Translation:
    ts = Tokens(tokens, text)
    ts.expect("create", "database")
    name = _name(ts)
    values = _options(ts, _OPTIONS)
    template = values.get("template", "default")
    template = "template1" if template == "default" else template
    owner = values.get("owner", "default")
    _check_options(values, template)
    return Translation(Kind.CREATE_DATABASE, "CREATE DATABASE", name=name,
                       owner=None if owner == "default" else owner,
                       template=None if template in ("template0", "template1") else template)


def _options(ts: Tokens, known: tuple[str, ...]) -> dict[str, str]:
    """``[WITH] option [=] value ...`` to the end: each of ``known`` (CONNECTION LIMIT as
    ``connection_limit``) at most once, by lower-case name, its value as ``_value`` reads it."""
    ts.accept("with")
    values: dict[str, str] = {}
    while not ts.at_end():
        tok = ts.next()
        option = tok.text.lower()
        if option not in known or is_quoted(tok, ts.text):
            raise SqlError("42601", f'option "{ident_value(tok, ts.text)}" not recognized',
                           position=tok.start + 1)
        if option == "connection":
            ts.expect("limit")
            option = "connection_limit"
        if option in values:
            raise SqlError("42601", "conflicting or redundant options", position=tok.start + 1)
        ts.accept("=")
        values[option] = _value(ts, option)
    return values


def _name(ts: Tokens) -> str:
    tok = ts.next()
    source = ts.text[tok.start : tok.end + 1]
    if not (source[:1].isalpha() or source[:1] == "_" or is_quoted(tok, ts.text)):
        raise SqlError("42601", f'syntax error at or near "{source}"', position=tok.start + 1)
    return ident_value(tok, ts.text)


def _value(ts: Tokens, option: str) -> str:
    """An option's value as text: an identifier (folded), a string, a number, DEFAULT."""
    negative = option == "connection_limit" and ts.accept("-")
    tok = ts.next()
    source = ts.text[tok.start : tok.end + 1]
    if source.startswith("'"):
        return source[1:-1].replace("''", "'")
    if source[:1].isdigit():
        return ("-" if negative else "") + source
    if negative or not (source[:1].isalpha() or source[:1] == "_" or source[:1] == '"'):
        raise SqlError("42601", f'syntax error at or near "{tok.text}"', position=tok.start + 1)
    if option == "owner" and not is_quoted(tok, ts.text) and tok.text.lower() in (
            "current_user", "session_user", "current_role"):
        raise SqlError("42601", f'syntax error at or near "{tok.text}"', position=tok.start + 1)
    return ident_value(tok, ts.text)


_AS_TEMPLATE1 = f"every Strata database is UTF8 with bytewise text order ({TEMPLATE_LOCALE}), like template1"


def _refuse(statement: str, what: str, why: str = _AS_TEMPLATE1) -> SqlError:
    return SqlError("0A000", f"{statement} … {what} is not supported: {why}")


def _check_options(values: dict[str, str], template: str, statement: str = "CREATE DATABASE") -> None:
    """PostgreSQL's errors for the values it refuses, 0A000 for those Strata cannot honour."""
    from_template0 = template == "template0"
    encoding = values.get("encoding", "default")
    if encoding != "default":
        clean = re.sub(r"[^0-9a-z]", "", encoding.lower())
        if encoding != "6" and clean not in _ENCODINGS:
            raise SqlError("42704", f"{encoding} is not a valid encoding name")
        if encoding != "6" and clean not in _UTF8_NAMES:
            if clean == "sqlascii" and not from_template0:
                raise SqlError("22023", f"new encoding ({encoding.upper()}) is incompatible with the "
                                        "encoding of the template database (UTF8)",
                               hint="Use the same encoding as in the template database, or use "
                                    "template0 as template.")
            if clean != "sqlascii" and values.get("lc_ctype", values.get("locale", "")).lower() \
                    not in ("c", "posix"):
                raise SqlError("22023", f'encoding "{encoding.upper()}" does not match locale '
                                        f'"{TEMPLATE_LOCALE}"',
                               detail='The chosen LC_CTYPE setting requires encoding "UTF8".')
            raise _refuse(statement, f"ENCODING {encoding}")
    for option, label in (("locale", "collation"), ("lc_collate", "collation"), ("lc_ctype", "LC_CTYPE")):
        locale = values.get(option)
        if locale is None or locale == "default":
            continue
        if locale.lower() not in _BYTEWISE:
            raise _refuse(statement, f"{option.upper()} '{locale}'")
        if locale.lower() not in _SAME_AS_TEMPLATE and not from_template0:
            raise SqlError("22023", f"new {label} ({locale}) is incompatible with the {label} of "
                                    f"the template database ({TEMPLATE_LOCALE})",
                           hint=f"Use the same {label} as in the template database, or use "
                                "template0 as template.")
    provider = values.get("locale_provider", "libc").lower()
    if provider == "icu":
        raise _refuse(statement, "LOCALE_PROVIDER icu")
    if provider not in ("libc", "default"):
        raise SqlError("42P17", f"unrecognized locale provider: {values['locale_provider']}")
    if "icu_locale" in values:
        raise _refuse(statement, "ICU_LOCALE")
    for option in ("collation_version", "oid"):
        if option in values:
            raise _refuse(statement, option.upper(), "the database's collation version and OID are Strata's own")
    strategy = values.get("strategy", "wal_log").lower()
    if strategy not in ("wal_log", "file_copy", "default"):
        raise SqlError("22023", f'invalid create database strategy "{values["strategy"]}"',
                       hint='Valid strategies are "wal_log" and "file_copy".')
    tablespace = values.get("tablespace", "default")
    if tablespace == "pg_global":
        raise SqlError("22023", "pg_global cannot be used as default tablespace")
    if tablespace not in ("default", "pg_default"):
        raise SqlError("42704", f'tablespace "{tablespace}" does not exist')
    limit = values.get("connection_limit", "-1")
    if limit != "default":
        if not limit.lstrip("-").isdigit():
            raise SqlError("22P02", f'invalid input syntax for type integer: "{limit}"')
        if int(limit) < -1:
            raise SqlError("22023", f"invalid connection limit: {limit}")
        if int(limit) != -1:
            raise _refuse(statement, f"CONNECTION LIMIT {limit}", "limits per database are not enforced")
    if not _boolean(values, "allow_connections", True):
        raise _refuse(statement, "ALLOW_CONNECTIONS false", "every database takes connections")
    if _boolean(values, "is_template", False):
        raise _refuse(statement, "IS_TEMPLATE true", "databases are not copied, so none is a template")


def _boolean(values: dict[str, str], option: str, default: bool) -> bool:
    value = values.get(option)
    if value is None or value == "default":
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise SqlError("22023", f"{option} requires a Boolean value")


def alter_database_statement(tokens: tuple[Token, ...], text: str) -> Translation:
    """ALTER DATABASE name OWNER TO role (the role joins the database, as CREATE DATABASE …
    OWNER), the options whose values Strata has (CONNECTION LIMIT -1, ALLOW_CONNECTIONS true,
    IS_TEMPLATE false, REFRESH COLLATION VERSION), and 0A000 for the rest."""
    ts = Tokens(tokens, text)
    ts.expect("alter", "database")
    name = _name(ts)
    if ts.accept("owner", "to"):
        tok = ts.token()
        if tok is not None and ts.text[tok.start] == "'":  # a role name here, never a string
            raise SqlError("42601", f'syntax error at or near "{ts.text[tok.start : tok.end + 1]}"',
                           position=tok.start + 1)
        owner = _value(ts, "owner")
        if owner == "default":  # not a role name in this position
            raise SqlError("42601", 'syntax error at or near "DEFAULT"')
        _end(ts)
        return Translation(Kind.ALTER_DATABASE, "ALTER DATABASE", name=name, owner=owner)
    if ts.accept("refresh", "collation", "version"):
        _end(ts)
        return Translation(Kind.ALTER_DATABASE, "ALTER DATABASE", name=name,
                           notices=("version has not changed",))
    if (verb := ts.peek()) in ("set", "reset"):
        raise SqlError("0A000", f"ALTER DATABASE … {str(verb).upper()} is not supported: settings "
                                "per database are not stored (set them per session, or in the "
                                "connection string's options)")
    if ts.accept("rename", "to"):
        raise SqlError("0A000", "ALTER DATABASE … RENAME is not supported")
    values = _options(ts, ("connection", "allow_connections", "is_template"))
    _check_options(values, "template1", "ALTER DATABASE")
    return Translation(Kind.ALTER_DATABASE, "ALTER DATABASE", name=name)


def _end(ts: Tokens) -> None:
    if not ts.at_end():
        ts.error()
