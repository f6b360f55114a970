"""Statement classification for routing: does a statement only read, start a read-only
transaction, change session state, or need the primary?

Transaction control, SET/RESET and the session-pinning commands are recognised by their
leading keywords; SELECT/WITH/VALUES/TABLE statements are parsed with sqlglot to find
locking clauses, writable CTEs, SELECT INTO and volatile functions. Anything that does not
parse is a write (the primary is always correct). Results are cached per statement text.
"""

from __future__ import annotations

import enum
import logging
import re
from collections import OrderedDict
from dataclasses import dataclass

import sqlglot
from sqlglot import exp

logging.getLogger("sqlglot").setLevel(logging.ERROR)

CACHE_ENTRIES = 10_000
"""Classified statement texts kept (LRU)."""
MAX_CLASSIFIED_CHARS = 100_000
"""Longer statement texts are not parsed: they go to the primary."""
MAX_FAST_CHARS = 4_096
"""Longer texts skip the one-statement fast path (``_fast_query``) and take the general one."""


class Kind(enum.Enum):
    READ = "read"                # can run on a replica
    WRITE = "write"              # primary
    BEGIN = "begin"              # BEGIN / START TRANSACTION (read_only says which)
    END = "end"                  # COMMIT / ROLLBACK / END / ABORT / PREPARE TRANSACTION...
    SET = "set"                  # session SET/RESET: remembered and replayed
    SET_TXN_RO = "set_txn_ro"    # SET TRANSACTION READ ONLY (first statement of a block)
    PIN = "pin"                  # session state that cannot be replayed: pin the session
    ROUTE = "route"              # SET strata.route = ... (answered by the proxy)
    SHOW_PROXY = "show_proxy"    # SHOW strata.pools / strata.servers (answered by the proxy)
    DISCARD = "discard"          # DISCARD ALL / RESET ALL: forget session state
    DEALLOCATE = "deallocate"    # DEALLOCATE [PREPARE] name|ALL (value: the name, "" for ALL)

    # Members compare by identity (Enum defines no __eq__), so identity's hash is consistent;
    # Enum's own __hash__ is a Python method (hash of the name), and the fast lane tests each
    # statement's kind against a set
    __hash__ = object.__hash__


PLAIN_KINDS = frozenset({Kind.READ, Kind.WRITE, Kind.BEGIN, Kind.END})
"""Statements the proxy relays without recording anything: its fast lane's, and all a client
socket lent to the primary may run (decision 0017)."""


@dataclass(slots=True)
class Statement:
    """One classified statement. Shared by the caches: never changed after it is made (not
    ``frozen``: a frozen dataclass's ``__init__`` costs twice as much, once per statement)."""

    kind: Kind
    read_only: bool = False      # BEGIN READ ONLY
    setting: str = ""            # SET/RESET: the setting's lower-case name ("" for RESET ALL)
    value: str = ""              # SET: the value text (ROUTE: primary|auto; SHOW_PROXY: pools|servers)
    text: str = ""               # the statement itself (replayed for SET)


VOLATILE_FUNCTIONS = frozenset({
    "nextval", "setval", "currval", "lastval", "random", "rand", "setseed", "set_config",
    "txid_current", "pg_current_xact_id", "txid_current_if_assigned", "pg_notify",
    "pg_promote", "pg_cancel_backend", "pg_terminate_backend", "pg_reload_conf",
    "lo_import", "lo_export", "lo_create", "lo_unlink", "gen_random_uuid", "uuid_generate_v4",
    "pg_sleep_for",
})
READ_SAFE_FUNCTIONS = frozenset({
    # functions sqlglot does not model (exp.Anonymous) that only read and answer the same on
    # a replica; any other unknown function sends the statement to the primary
    "pg_sleep", "version", "current_setting", "current_database", "current_schema", "current_schemas",
    "pg_backend_pid", "pg_typeof", "format_type", "format", "obj_description", "col_description",
    "shobj_description", "pg_table_is_visible", "pg_type_is_visible", "pg_function_is_visible",
    "pg_encoding_to_char", "pg_postmaster_start_time", "pg_size_pretty", "pg_relation_size",
    "pg_total_relation_size", "pg_database_size", "pg_table_size", "pg_indexes_size",
    "to_regclass", "to_regtype", "to_regproc", "quote_ident", "quote_literal", "quote_nullable",
    "pg_last_wal_replay_lsn", "pg_last_wal_receive_lsn", "pg_last_xact_replay_timestamp",
    "pg_wal_lsn_diff", "age", "clock_timestamp", "statement_timestamp", "transaction_timestamp",
    "timeofday", "justify_days", "justify_hours", "justify_interval", "isfinite", "date_part",
    "make_date", "make_time", "make_timestamp", "make_timestamptz", "make_interval", "to_number",
    "split_part", "translate", "btrim", "ltrim", "rtrim", "lpad", "rpad", "repeat", "reverse", "strpos",
    "starts_with", "chr", "ascii", "initcap", "encode", "decode", "octet_length", "bit_length",
    "regexp_match", "regexp_matches", "regexp_split_to_array", "regexp_split_to_table",
    "string_to_array", "array_to_string", "array_length", "array_position", "array_positions",
    "array_remove", "array_replace", "array_append", "array_prepend", "array_cat", "array_dims",
    "array_lower", "array_upper", "array_ndims", "cardinality", "generate_subscripts", "width_bucket",
    "div", "mod", "trunc", "cbrt", "degrees", "radians", "gcd", "lcm", "factorial", "scale",
    "bool_and", "bool_or", "every", "bit_and", "bit_or", "num_nonnulls", "num_nulls",
    "row_number", "rank", "dense_rank", "percent_rank", "cume_dist", "ntile", "nth_value",
    "to_json", "to_jsonb", "row_to_json", "array_to_json", "json_build_object", "jsonb_build_object",
    "json_build_array", "jsonb_build_array", "json_agg", "jsonb_agg", "json_object_agg",
    "jsonb_object_agg", "json_array_elements", "jsonb_array_elements", "json_array_elements_text",
    "jsonb_array_elements_text", "json_each", "jsonb_each", "json_each_text", "jsonb_each_text",
    "json_object_keys", "jsonb_object_keys", "json_typeof", "jsonb_typeof", "jsonb_set", "jsonb_insert",
    "jsonb_pretty", "json_array_length", "jsonb_array_length", "jsonb_strip_nulls", "jsonb_path_query",
    "jsonb_path_exists", "json_extract_path", "jsonb_extract_path", "json_extract_path_text",
    "jsonb_extract_path_text", "has_table_privilege", "has_schema_privilege", "has_database_privilege",
    "has_column_privilege", "has_sequence_privilege", "has_function_privilege", "pg_has_role",
    "pg_get_expr", "pg_get_indexdef", "pg_get_constraintdef", "pg_get_viewdef", "pg_get_userbyid",
    "pg_get_serial_sequence", "pg_get_functiondef", "pg_get_function_arguments",
    "pg_get_function_result", "pg_get_triggerdef", "pg_get_keywords", "pg_column_size",
    "gen_random_bytes",
    "strata_node_status",  # on purpose: it describes the node that answered (tests probe routing)
})
"""Anything that answers differently on a standby (pg_is_in_recovery, pg_current_wal_lsn, …)
is deliberately absent: through the proxy a session sees the primary's answer."""
SESSION_LOCK_FUNCTIONS = re.compile(r"\bpg_(try_)?advisory_(lock|lock_shared|unlock|unlock_shared|unlock_all)\b", re.I)

_BEGIN = re.compile(r"^(begin|start\s+transaction)\b(.*)$", re.I | re.S)
_END = re.compile(r"^(commit|rollback|end|abort|prepare\s+transaction|commit\s+prepared|rollback\s+prepared)\b", re.I)
_SAVEPOINT = re.compile(r"^(savepoint|release|rollback\s+to)\b", re.I)
_SET = re.compile(r"^set\s+(session\s+|local\s+)?(.*)$", re.I | re.S)
_SET_NAME = re.compile(r'^("?[\w.]+"?)\s*(=|\bto\b)\s*(.*)$', re.I | re.S)
_RESET = re.compile(r"^reset\s+(.*)$", re.I | re.S)
_SHOW = re.compile(r"^show\s+([\w.]+)\s*$", re.I)
_DISCARD = re.compile(r"^discard\s+all\s*$", re.I)
_DEALLOCATE = re.compile(r"^deallocate\s+(prepare\s+)?(\S+)\s*$", re.I)
_PIN = re.compile(r"^(listen|unlisten|prepare|declare|lock|discard|load)\b|"
                  r"^create\s+(global\s+|local\s+)?(temp|temporary)\b", re.I)
_READ_START = re.compile(r"^(select|with|values|table|\()", re.I)
_EXPLAIN = re.compile(r"^explain\b(.*)$", re.I | re.S)
_LEADING_COMMENT = re.compile(r"^(\s+|--[^\n]*\n?|/\*.*?\*/)+", re.S)


def strip_leading(sql: str) -> str:
    return _LEADING_COMMENT.sub("", sql).strip().rstrip(";").strip()


_SPLIT_SPECIAL = re.compile(r"['\";$]|--|/\*")
_DOLLAR_TAG = re.compile(r"\$[A-Za-z_]*\$")


def split_statements(sql: str) -> list[str]:
    """Split a simple-query string at top-level semicolons (quotes, dollar quotes, comments).
    Jumps from one special character to the next (a regex search in C), not char by char."""
    out: list[str] = []
    start = i = 0
    n = len(sql)
    search = _SPLIT_SPECIAL.search
    while i < n:
        m = search(sql, i)
        if m is None:
            break
        i = m.start()
        c = sql[i]
        if c == "'" or c == '"':
            j = i + 1
            while True:
                j = sql.find(c, j)
                if j < 0:
                    j = n
                    break
                if j + 1 < n and sql[j + 1] == c:
                    j += 2
                    continue
                break
            i = j + 1
        elif c == "-":
            j = sql.find("\n", i)
            i = n if j < 0 else j + 1
        elif c == "/":
            j = sql.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif c == "$":
            tag = _DOLLAR_TAG.match(sql, i)
            if tag:
                j = sql.find(tag.group(0), tag.end())
                i = n if j < 0 else j + len(tag.group(0))
            else:
                i += 1
        else:  # ';'
            piece = sql[start:i]
            if strip_leading(piece):
                out.append(piece)
            start = i = i + 1
    piece = sql[start:]
    if strip_leading(piece):
        out.append(piece)
    return out


class Classifier:
    """Classifies statement texts; a bounded LRU cache in front of sqlglot."""

    def __init__(self, max_entries: int = CACHE_ENTRIES) -> None:
        self.max_entries = max_entries
        self._cache: OrderedDict[str, tuple[Statement, ...]] = OrderedDict()

    def classify(self, sql: str) -> tuple[Statement, ...]:
        cached = self._cache.get(sql)
        if cached is not None:
            self._cache.move_to_end(sql)
            return cached
        if len(sql) <= MAX_FAST_CHARS:
            fast = _fast_query(sql)
            if fast is not None:
                return fast  # not kept by text: inlined literals make most such texts new
        result = tuple(classify_one(s) for s in split_statements(sql)) if len(sql) <= MAX_CLASSIFIED_CHARS \
            else (Statement(Kind.WRITE, text=sql),)
        self._cache[sql] = result
        if len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)
        return result

    def plain(self, sql: str) -> bool:
        """Whether ``sql`` holds one or more statements, all plain (``PLAIN_KINDS``): what a
        client socket lent to the primary may run, as a Query or an unnamed Parse."""
        statements = self.classify(sql)
        return bool(statements) and all(s.kind in PLAIN_KINDS for s in statements)


_FAST_START = re.compile(r"\s*(?:(select|with|values|table)|insert|update|delete)\b", re.I)
"""A read's leading keyword (group 1) or a write's (no group): one match for both."""


def _fast_query(sql: str) -> tuple[Statement] | None:
    """A lone SELECT/WITH/VALUES/TABLE (or INSERT/UPDATE/DELETE) without comments, dollar
    quotes, backslashes or inner semicolons: exactly one statement that ``classify_one``
    would send straight to ``_is_read`` (a write for INSERT/UPDATE/DELETE: no
    leading-keyword case applies; session advisory locks excluded), so that is done without
    splitting the text or trying each keyword pattern. Anything else: None (the general
    path)."""
    text = sql.strip()
    if text.endswith(";"):
        text = text[:-1].rstrip()
    # substring tests before the regexes: most texts have none of these
    if ";" in text or "$" in text or "\\" in text or "--" in text or "/*" in text:
        return None  # substring tests: cheaper than one regex over the text
    if "advisory" in text.casefold() and SESSION_LOCK_FUNCTIONS.search(text) is not None:
        return None
    start = _FAST_START.match(text)
    if start is None:
        return None
    if start.group(1) is not None:
        return (Statement(Kind.READ if _shape_is_read(text) else Kind.WRITE, text=text),)
    return (Statement(Kind.WRITE, text=text),)  # what classify_one ends with for these


def classify_one(raw: str) -> Statement:
    text = strip_leading(raw)
    lower = text.lower()
    m = _BEGIN.match(text)
    if m:
        modes = re.sub(r"\s+", " ", m.group(2).lower())
        return Statement(Kind.BEGIN, read_only="read only" in modes, text=text)
    if _END.match(text) or _SAVEPOINT.match(text):
        return Statement(Kind.END if _END.match(text) and not _SAVEPOINT.match(text) else Kind.WRITE,
                         text=text)
    if _DISCARD.match(text) or re.match(r"^reset\s+all\s*$", lower):
        return Statement(Kind.DISCARD, text=text)
    m = _SET.match(text)
    if m:
        return _classify_set(text, (m.group(1) or "").strip().lower(), m.group(2).strip())
    m = _RESET.match(text)
    if m:
        name = m.group(1).strip().strip('"').lower()
        if name.startswith("strata."):
            return Statement(Kind.ROUTE, setting=name, value="auto", text=text)
        return Statement(Kind.SET, setting=name, value="", text=text)
    m = _SHOW.match(text)
    if m:
        name = m.group(1).lower()
        if name in ("strata.pools", "strata.servers"):
            return Statement(Kind.SHOW_PROXY, value=name.split(".", 1)[1], text=text)
        # transaction_read_only, in_hot_standby, ... answer "on" on a replica: a client asking
        # (libpq's target_session_attrs) wants the endpoint's answer, the primary's
        return Statement(Kind.WRITE, text=text)
    m = _DEALLOCATE.match(text)
    if m:
        name = m.group(2).strip('"')
        return Statement(Kind.DEALLOCATE, value="" if name.lower() == "all" else name, text=text)
    if _PIN.match(text):
        return Statement(Kind.PIN, text=text)
    if SESSION_LOCK_FUNCTIONS.search(text) and "xact" not in lower:
        return Statement(Kind.PIN, text=text)
    m = _EXPLAIN.match(text)
    if m:
        rest = m.group(1).lower()
        if "analyze" in rest or "analyse" in rest:
            return Statement(Kind.WRITE, text=text)
        return Statement(Kind.READ if _is_read(strip_leading(re.sub(r"^\s*(\([^)]*\)|verbose|costs)\s*", "", m.group(1), flags=re.I))) else Kind.WRITE, text=text)
    return Statement(Kind.READ if _is_read(text) else Kind.WRITE, text=text)


def _classify_set(text: str, scope: str, rest: str) -> Statement:
    low = re.sub(r"\s+", " ", rest.lower())
    if low.startswith("transaction") or low.startswith("session characteristics"):
        if low.startswith("transaction") and "read only" in low:
            return Statement(Kind.SET_TXN_RO, text=text)
        return Statement(Kind.WRITE, text=text)  # isolation level etc: runs where the block runs
    if scope == "local":
        return Statement(Kind.WRITE, text=text)  # only inside a block, which is already routed
    m = _SET_NAME.match(rest)
    if m:
        name = m.group(1).strip('"').lower()
        value = m.group(3).strip().strip("'").lower()
    else:  # SET TIME ZONE ..., SET NAMES ..., SET ROLE ... : replay by text
        words = low.split()
        name = "timezone" if low.startswith("time zone") else (words[0] if words else "")
        value = low
    if name == "strata.route":
        return Statement(Kind.ROUTE, setting=name, value=value, text=text)
    return Statement(Kind.SET, setting=name, value=value, text=text)


# a string literal, or a number not inside a name; written to start with the character set
# ['0-9] (the regex engine then skips to candidates instead of trying both alternatives and
# a lookbehind at every position): 3x faster, the same matches as
# '(?:[^']|'')*'|(?<![\w$.])\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w.])
_LITERALS = re.compile(r"['0-9](?:(?<=')(?:[^']|'')*'|(?<=\d)(?<![\w$.]\d)\d*(?:\.\d+)?(?:e[+-]?\d+)?(?![\w.]))",
                       re.I)
_shapes: OrderedDict[str, bool] = OrderedDict()
_DOLLAR_NOT_PARAM = re.compile(r"\$(?!\d)")
_SHAPE_TOKENS = re.compile(r"--[^\n]*|/\*.*?\*/|\"(?:[^\"]|\"\")*\"|" + _LITERALS.pattern, re.I | re.S)


def _shape_token(m: re.Match[str]) -> str:
    tok = m.group(0)
    return tok if tok[0] in "-/\"" else "0"


def _shape(text: str) -> str | None:
    """The text with its string and number literals blanked, or None when blanking could
    tokenize it wrongly (dollar quotes, backslash escapes, nested comments): then two texts
    with one shape could differ outside their literals, and the text is parsed instead.
    Comments and quoted names are tokens of their own, so a quote inside them is not taken
    for the start of a literal."""
    if "\\" in text or ("$" in text and _DOLLAR_NOT_PARAM.search(text) is not None):
        return None
    if '"' not in text and "--" not in text and "/*" not in text:
        return _LITERALS.sub("0", text)
    if text.count("/*") > 1:
        return None
    return _SHAPE_TOKENS.sub(_shape_token, text)


def _is_read(text: str) -> bool:
    """Whether a query only reads; cached by *shape* (literals blanked), so a client that
    sends a new text per statement (literals inlined) does not pay for a parse each time."""
    if not _READ_START.match(text):
        return False
    return _shape_is_read(text)


def _shape_is_read(text: str) -> bool:
    """``_is_read`` of a text known to start as a query."""
    shape = _shape(text)
    if shape is None:
        return _parse_is_read(text)
    cached = _shapes.get(shape)
    if cached is not None:
        _shapes.move_to_end(shape)
        return cached
    result = _parse_is_read(text)
    _shapes[shape] = result
    if len(_shapes) > CACHE_ENTRIES:
        _shapes.popitem(last=False)
    return result


def _parse_is_read(text: str) -> bool:
    try:
        trees = sqlglot.parse(text, read="postgres")
    except Exception:  # noqa: BLE001 - sqlglot raises several error types: unknown is a write
        return False
    if len(trees) != 1 or trees[0] is None:
        return False
    tree = trees[0]
    if not isinstance(tree, exp.Query | exp.Values):
        return False
    if tree.find(exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Lock, exp.Into) is not None:
        return False
    if tree.args.get("locks"):
        return False
    for node in tree.find_all(exp.Select):
        if node.args.get("locks") or node.args.get("into"):
            return False
    for func in tree.find_all(exp.Func):
        if isinstance(func, exp.Anonymous):
            if func.name.lower() not in READ_SAFE_FUNCTIONS:
                return False  # unknown to us: it may write, or answer differently on a standby
            continue
        if func.sql_name().lower() in VOLATILE_FUNCTIONS or isinstance(func, exp.Rand):
            return False
    return True
