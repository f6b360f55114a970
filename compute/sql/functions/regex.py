"""Pattern matching: LIKE, SIMILAR TO, POSIX regular expressions, regexp_* functions."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.functions.common import args_as, scalar_registrar, typed_udf
from compute.sql.functions.session import SessionContext
from compute.sql.functions.text import text_of
from compute.sql.translate.scope import Handler, Scope, fn
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler


def _h_regexp_match(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) not in (2, 3):
        raise SqlError("42883", "function regexp_match does not exist")
    return fn("pg_regexp_match", *args_as(c, args, types, [ty.TEXT] * 3)), Ty(T.TEXT_ARRAY)


def _h_regexp_replace(c: ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                      scope: Scope) -> tuple[exp.Expression, Ty]:
    if len(args) not in (3, 4):
        raise SqlError("0A000", "regexp_replace with a start position is not supported")
    if len(args) == 4 and types[3].oid in ty.INTS:
        raise SqlError("0A000", "regexp_replace with a start position is not supported")
    return fn("pg_regexp_replace", *args_as(c, args, types, [ty.TEXT] * 4)), ty.TEXT


def _regexp_split(value: Any, pattern: Any, flags: Any = "") -> str | None:
    if value is None or pattern is None or flags is None:
        return None
    text = text_of(value)
    rx = _regex_cached(str(pattern), str(flags or ""))
    out: list[str] = []
    start = 0
    for m in rx.finditer(text):
        if m.end() == m.start():
            if m.start() == 0 or m.start() >= len(text):
                continue
        if m.start() == start and m.end() == m.start():
            continue
        out.append(text[start:m.start()])
        start = m.end()
    out.append(text[start:])
    return json.dumps(out)


_POSIX_CLASSES = {
    "[:alpha:]": "a-zA-Z", "[:digit:]": "0-9", "[:alnum:]": "a-zA-Z0-9", "[:upper:]": "A-Z",
    "[:lower:]": "a-z", "[:space:]": r"\s", "[:punct:]": r"!-/:-@\[-`{-~", "[:xdigit:]": "0-9A-Fa-f",
    "[:word:]": r"\w",
}


def _regex(pattern: str, flags: str) -> re.Pattern[str]:
    py = pattern
    for cls, repl in _POSIX_CLASSES.items():
        py = py.replace(cls, repl)
    py = py.replace(r"\m", r"\b").replace(r"\M", r"\b").replace(r"\y", r"\b")
    fl = 0
    for ch in flags:
        if ch == "i":
            fl |= re.I
        elif ch == "c":
            fl &= ~re.I
        elif ch in "nm":
            fl |= re.M
        elif ch == "s":
            fl |= re.S
        elif ch == "x":
            fl |= re.X
        elif ch != "g":
            raise SqlError("22023", f"invalid regular expression option: \"{ch}\"")
    try:
        return re.compile(py, fl)
    except re.error as exc:
        raise SqlError("2201B", f"invalid regular expression: {exc}") from None


def _regexp_match(value: Any, pattern: Any, flags: Any = "") -> str | None:
    if value is None or pattern is None:
        return None
    if "g" in (flags or ""):
        raise SqlError("22023", "regexp_match() does not support the \"global\" option",
                       hint="Use the regexp_matches function instead.")
    m = _regex_cached(str(pattern), str(flags or "")).search(text_of(value))
    if m is None:
        return None
    groups = list(m.groups()) if m.re.groups else [m.group(0)]
    return json.dumps(groups)


def _regexp_matches_json(value: Any, pattern: Any, flags: Any = "") -> str:
    """regexp_matches rows as a JSON array of text[] values: every match with 'g', else the first;
    a match is its capture groups (unmatched ones NULL), or the whole match without groups."""
    if value is None or pattern is None or flags is None:
        return "[]"
    regex = _regex_cached(str(pattern), str(flags))
    text = text_of(value)
    found = regex.finditer(text) if "g" in str(flags) else filter(None, [regex.search(text)])
    rows = [list(m.groups()) if m.re.groups else [m.group(0)] for m in found]
    return json.dumps(rows, ensure_ascii=False)


def _regexp_replace(value: Any, pattern: Any, repl: Any, flags: Any = "") -> str | None:
    if value is None or pattern is None or repl is None or flags is None:
        return None
    f = str(flags or "")
    py_repl = re.sub(r"\\(\d)", r"\\g<\1>", str(repl).replace("\\\\", "\x00")).replace("\\&", "\\g<0>")
    py_repl = py_repl.replace("\x00", "\\\\")
    return _regex_cached(str(pattern), f).sub(py_repl, text_of(value), count=0 if "g" in f else 1)


_REGEX_CACHE: dict[tuple[str, str], re.Pattern[str]] = {}


def _regex_cached(pattern: str, flags: str) -> re.Pattern[str]:
    key = (pattern, flags)
    compiled = _REGEX_CACHE.get(key)
    if compiled is None:
        if len(_REGEX_CACHE) > 1000:
            _REGEX_CACHE.clear()
        compiled = _REGEX_CACHE[key] = _regex(pattern, flags)
    return compiled


def similar_to_regex(pattern: str, escape: str | None = "\\") -> re.Pattern[str]:
    """SIMILAR TO's pattern as a Python regex, as PostgreSQL's similar_to_escape: anchored at both
    ends, % is .*, _ is ., | * + ? { } ( ) [ ] keep their regex meaning, the rest is literal."""
    out = ["(?:"]
    i, in_bracket = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if escape and ch == escape:
            if i + 1 >= len(pattern):
                raise SqlError("22025", "invalid escape string",
                               hint="Escape string must be empty or one character.")
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if in_bracket:
            out.append("\\\\" if ch == "\\" else ch)
            in_bracket = ch != "]"
        elif ch == "[":
            in_bracket = True
            out.append(ch)
        elif ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        elif ch in "|*+?{}()":
            out.append(ch)
        else:
            out.append(re.escape(ch))
        i += 1
    out.append(")")
    try:
        return re.compile("".join(out), re.S)
    except re.error as exc:
        raise SqlError("2201B", f"invalid regular expression: {exc}") from None


def _similar_to(value: Any, pattern: Any, escape: Any = "\\") -> int | None:
    if value is None or pattern is None:
        return None
    if escape is not None and len(str(escape)) > 1:
        raise SqlError("22025", "invalid escape string", hint="Escape string must be empty or one character.")
    return 1 if similar_to_regex(str(pattern), str(escape) if escape else None).fullmatch(text_of(value)) else 0


def _regex_match(value: Any, pattern: Any, insensitive: Any = 0) -> int | None:
    if value is None or pattern is None:
        return None
    return 1 if _regex_cached(str(pattern), "i" if insensitive else "").search(text_of(value)) else 0


def _like_to_regex(pattern: str, escape: Any) -> str:
    out = []
    i = 0
    esc = escape if escape else None
    while i < len(pattern):
        ch = pattern[i]
        if esc is not None and ch == esc and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)


HANDLERS: dict[str, Handler] = {
    "regexp_match": _h_regexp_match,
    "regexp_replace": _h_regexp_replace,
    "regexp_split_to_array": typed_udf("pg_regexp_split", Ty(T.TEXT_ARRAY), [ty.TEXT] * 3, (2, 3)),
}


def register_udfs(conn: Any, ctx: SessionContext) -> None:
    """The SQLite functions of this family, on one connection."""
    scalar = scalar_registrar(conn)
    det = {"deterministic": True}

    like_cache: dict[tuple[str, str | None, bool], re.Pattern[str]] = {}

    def like(value: Any, pattern: Any, escape: Any = "\\", insensitive: int = 0) -> Any:
        if value is None or pattern is None:
            return None
        key = (str(pattern), escape, bool(insensitive))
        compiled = like_cache.get(key)
        if compiled is None:
            if len(like_cache) > 1000:
                like_cache.clear()
            compiled = re.compile(_like_to_regex(str(pattern), escape), re.S | (re.I if insensitive else 0))
            like_cache[key] = compiled
        return 1 if compiled.fullmatch(text_of(value)) else 0

    scalar("pg_like", like, -1, True)
    conn.create_scalar_function("pg_regexp_split", _regexp_split, -1, **det)
    conn.create_scalar_function("pg_regexp_match", _regexp_match, -1, **det)
    conn.create_scalar_function("pg_regexp_matches_json", _regexp_matches_json, -1, **det)
    conn.create_scalar_function("pg_similar_to", _similar_to, -1, **det)
    conn.create_scalar_function("pg_regex", _regex_match, -1, **det)
    conn.create_scalar_function("pg_regexp_replace", _regexp_replace, -1, **det)
