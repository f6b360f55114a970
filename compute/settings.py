"""Session settings (GUCs): defaults, validation, units, and which ones are reported.

PostgreSQL clients read several settings at connect time (ParameterStatus) and set a few
(``SET TimeZone``, ``SET statement_timeout`` …). The values are kept as PostgreSQL would show
them; the session reads the typed values it acts on through the helpers here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from compute.pgtypes.datetimes import timezone_setting
from compute.sqlstate import SqlError

SERVER_VERSION = "15.8"
SERVER_VERSION_NUM = "150008"

# name (lower case) -> default text value
DEFAULTS: dict[str, str] = {
    "application_name": "",
    "client_encoding": "UTF8",
    "server_encoding": "UTF8",
    "datestyle": "ISO, MDY",
    "intervalstyle": "postgres",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
    "timezone": "UTC",
    "server_version": SERVER_VERSION,
    "server_version_num": SERVER_VERSION_NUM,
    "is_superuser": "on",
    "session_authorization": "postgres",
    "default_transaction_isolation": "read committed",
    "transaction_isolation": "read committed",
    "default_transaction_read_only": "off",
    "transaction_read_only": "off",
    "in_hot_standby": "off",  # "on" on a replica (the server sets it per session)
    "statement_timeout": "0",
    "lock_timeout": "0",
    "idle_in_transaction_session_timeout": "0",
    "search_path": '"$user", public',
    "extra_float_digits": "1",
    "max_identifier_length": "63",
    "lc_collate": "C.UTF-8",  # as pg_database says (bytewise order, like C)
    "lc_ctype": "C.UTF-8",
    "lc_messages": "C",
    "lc_monetary": "C",
    "lc_numeric": "C",
    "lc_time": "C",
    "bytea_output": "hex",
    "client_min_messages": "notice",
    "synchronous_commit": "on",
    "work_mem": "4MB",
    "maintenance_work_mem": "64MB",
    "jit": "off",
    "row_security": "on",
    "default_text_search_config": "pg_catalog.english",
    "max_connections": "100",
    "block_size": "8192",
    "enable_seqscan": "on",
    "enable_indexscan": "on",
    "enable_bitmapscan": "on",
    "random_page_cost": "4",
    "session_replication_role": "origin",
    "check_function_bodies": "on",
    "default_tablespace": "",
    "default_table_access_method": "heap",
    "xmloption": "content",
    "escape_string_warning": "on",
    "array_nulls": "on",
    "tcp_keepalives_idle": "0",
    "synchronize_seqscans": "on",  # pg_dump sets it off; Strata's scans are not synchronized anyway
}

REPORTED = (
    "application_name",
    "client_encoding",
    "DateStyle",
    "default_transaction_read_only",
    "in_hot_standby",
    "integer_datetimes",
    "IntervalStyle",
    "is_superuser",
    "server_encoding",
    "server_version",
    "session_authorization",
    "standard_conforming_strings",
    "TimeZone",
)
_REPORTED_BY_LOWER = {n.lower(): n for n in REPORTED}
READ_ONLY = {"server_version", "server_version_num", "server_encoding", "integer_datetimes",
             "max_identifier_length", "lc_collate", "lc_ctype", "block_size", "max_connections",
             "is_superuser", "in_hot_standby"}

_TIME_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "min": 60_000.0, "h": 3_600_000.0,
               "d": 86_400_000.0}
_TIME_RE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([a-z]*)\s*$")
_ISOLATIONS = {"read uncommitted", "read committed", "repeatable read", "serializable"}


def reported_name(name: str) -> str | None:
    """The ParameterStatus spelling of a setting, if clients are told when it changes."""
    return _REPORTED_BY_LOWER.get(name.lower())


def parse_milliseconds(name: str, value: str) -> float:
    """A time setting in milliseconds (PostgreSQL's default unit for timeouts)."""
    m = _TIME_RE.match(value.lower())
    if not m or m.group(2) not in ("", *_TIME_UNITS):
        raise SqlError("22023", f'invalid value for parameter "{name}": "{value}"',
                       hint='Valid units for this parameter are "us", "ms", "s", "min", "h", and "d".')
    ms = float(m.group(1)) * _TIME_UNITS.get(m.group(2) or "ms", 1.0)
    if ms < 0:
        raise SqlError("22023", f"{ms:g} ms is outside the valid range for parameter \"{name}\"")
    return ms


# Boolean parameters whose value the server acts on (SHOW prints them as on/off).
BOOLEANS = frozenset({"default_transaction_read_only", "transaction_read_only",
                      "default_transaction_deferrable", "transaction_deferrable"})


def reset_value(name: str) -> str:
    """The value RESET (SET ... TO DEFAULT) gives ``name``: 42704 if unknown, 55P02 if fixed."""
    key = name.lower()
    value = DEFAULTS.get(key)
    if value is None:
        if "." not in key:  # a custom (extension.name) setting resets to empty
            raise SqlError("42704", f'unrecognized configuration parameter "{name}"')
        value = ""
    if key in READ_ONLY:
        raise SqlError("55P02", f'parameter "{name}" cannot be changed now')
    return value


def current_value(settings: Mapping[str, str], name: str) -> str:
    """SHOW name: the session's value, else the default (42704 if there is no such setting)."""
    key = name.lower()
    value = settings.get(key)
    if value is None:
        value = DEFAULTS.get(key)
        if value is None:
            raise SqlError("42704", f'unrecognized configuration parameter "{name}"')
    return value


def normalize(name: str, value: str, current: str | None = None) -> str:
    """Validate a SET and return the value as SHOW will print it (``current``: the value it
    replaces, which a partial DateStyle keeps the other half of)."""
    key = name.lower()
    if key in READ_ONLY:
        raise SqlError("55P02", f'parameter "{name}" cannot be changed now')
    if key not in DEFAULTS and "." not in key:
        raise SqlError("42704", f'unrecognized configuration parameter "{name}"')
    if key in ("statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"):
        ms = parse_milliseconds(name, value)
        return _format_ms(ms)
    if key == "client_encoding":
        return client_encoding(value)
    if key in ("transaction_isolation", "default_transaction_isolation"):
        if value.lower() not in _ISOLATIONS:
            raise SqlError("22023", f'invalid value for parameter "{name}": "{value}"')
        return value.lower()
    if key in BOOLEANS:
        word = value.strip().lower()
        if word in ("on", "true", "yes", "1", "t", "y") or (len(word) > 1 and "true".startswith(word)):
            return "on"
        if word in ("off", "false", "no", "0", "f", "n") or (len(word) > 1 and "false".startswith(word)):
            return "off"
        raise SqlError("22023", f'parameter "{name}" requires a Boolean value')
    if key == "datestyle":
        return datestyle(value, current)
    if key == "intervalstyle":
        word = value.strip().lower()
        if word not in INTERVAL_STYLES:
            raise SqlError("22023", f'invalid value for parameter "{name}": "{value}"',
                           hint="Available values: " + ", ".join(INTERVAL_STYLES) + ".")
        return word
    if key == "timezone":
        return _check_timezone(value)
    if key in ("standard_conforming_strings",) and value.lower() not in ("on", "true", "1"):
        raise SqlError("0A000", "standard_conforming_strings = off is not supported")
    return value


# client_encoding: PostgreSQL's names, cleaned as pg_char_to_encoding does (alphanumerics, lower
# case), for the encodings converted at the wire (compute/pgwire/encoding.py)
CLIENT_ENCODINGS = {"utf8": "UTF8", "unicode": "UTF8", "latin1": "LATIN1", "iso88591": "LATIN1",
                    "latin9": "LATIN9", "iso885915": "LATIN9", "win1252": "WIN1252",
                    "windows1252": "WIN1252", "sqlascii": "SQL_ASCII"}
# the other names PostgreSQL knows (prefixes of the cleaned name): refused, not unknown
_OTHER_ENCODINGS = re.compile(r"(abc|alt|big5|euc\w*|gb18030|gbk|iso8859\d+|johab|koi8\w*|latin\d+"
                              r"|mskanji|muleinternal|shiftjis\w*|sjis|tcvn\w*|uhc|vscii|win\d*"
                              r"|windows\d+)")


def client_encoding(value: str) -> str:
    """The canonical name of a client encoding (SHOW client_encoding), as PostgreSQL names it."""
    cleaned = "".join(ch for ch in value.lower() if ch.isalnum())
    found = CLIENT_ENCODINGS.get(cleaned)
    if found is not None:
        return found
    if _OTHER_ENCODINGS.fullmatch(cleaned):
        raise SqlError("0A000", f'client encoding "{value}" is not supported (supported: UTF8, LATIN1, '
                                "LATIN9, WIN1252, SQL_ASCII)")
    raise SqlError("22023", f'invalid value for parameter "client_encoding": "{value}"')


INTERVAL_STYLES = ("postgres", "postgres_verbose", "sql_standard", "iso_8601")
_DATE_STYLES = {"iso": "ISO", "sql": "SQL", "postgres": "Postgres", "german": "German"}
_DATE_ORDERS = {"ymd": "YMD", "dmy": "DMY", "euro": "DMY", "european": "DMY", "mdy": "MDY", "us": "MDY",
                "noneuro": "MDY", "noneuropean": "MDY"}


def datestyle(value: str, current: str | None = None) -> str:
    """check_datestyle(): ``SQL, DMY``, ``German``, ``euro``... as SHOW prints it; what the value
    leaves out keeps ``current``'s (German alone means DMY)."""
    def bad(detail: str) -> SqlError:
        return SqlError("22023", f'invalid value for parameter "DateStyle": "{value}"', detail=detail)

    tokens = [t.strip().strip('"').lower() for t in value.split(",")]
    if any(not t or " " in t for t in tokens):
        raise bad("List syntax is invalid.")
    style = order = None
    german_order = False
    for tok in tokens:
        if tok in _DATE_STYLES:
            if style is not None and style != _DATE_STYLES[tok]:
                raise bad('Conflicting "datestyle" specifications.')
            style = _DATE_STYLES[tok]
            german_order = german_order or (style == "German" and order is None)
        elif tok in _DATE_ORDERS:
            if order is not None and order != _DATE_ORDERS[tok]:
                raise bad('Conflicting "datestyle" specifications.')
            order = _DATE_ORDERS[tok]
        elif tok == "default":
            style, order = style or "ISO", order or "MDY"
        else:
            raise bad(f'Unrecognized key word: "{tok}".')
    was = (current or DEFAULTS["datestyle"]).split(",")
    if order is None:
        order = "DMY" if german_order else was[-1].strip()
    return f"{style or was[0].strip()}, {order}"


def _format_ms(ms: float) -> str:
    if ms == 0:
        return "0"
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if ms % size == 0:
            return f"{int(ms // size)}{unit}"
    return f"{ms:g}ms"


def _check_timezone(value: str) -> str:
    return timezone_setting(value)
