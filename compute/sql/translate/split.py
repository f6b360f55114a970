"""Splitting a simple-query string into statements, and light token-level rewrites.

We tokenize with sqlglot's PostgreSQL tokenizer (it knows dollar quoting, E'' strings and
comments), split on top-level semicolons, and keep each statement's offset in the original
text so syntax errors can report PostgreSQL's 1-based character position.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from compute.sql.api import SqlError
from compute.sql.translate.dialect import StrataPostgres


@dataclass(frozen=True, slots=True)
class Statement:
    text: str  # statement text, without the trailing semicolon
    offset: int  # character offset of text[0] in the whole query string
    tokens: tuple[Token, ...]  # tokens with offsets relative to ``text``


_TOKENIZER = StrataPostgres().tokenizer_class()


def tokenize(sql: str) -> list[Token]:
    try:
        return _TOKENIZER.tokenize(sql)
    except TokenError as exc:
        unterminated = find_unterminated(sql)
        if unterminated is not None:
            raise unterminated from None
        raise SqlError("42601", f"syntax error: {str(exc).splitlines()[0]}") from None


_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")


def find_unterminated(sql: str) -> SqlError | None:
    """PostgreSQL's error for a quoted string, identifier, dollar quote or comment left open."""
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if sql.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif sql.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            if depth:
                return SqlError("42601", "unterminated /* comment at or near " + _near(sql, i),
                                position=i + 1)
            i = j
        elif ch in "'\"":
            escapes = ch == "'" and i > 0 and sql[i - 1] in "eE" and (i < 2 or not sql[i - 2].isalnum())
            j = i + 1
            while j < n:
                if escapes and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == ch:
                    if sql.startswith(ch * 2, j):
                        j += 2
                        continue
                    break
                j += 1
            if j >= n:
                what = "quoted string" if ch == "'" else "quoted identifier"
                start = i - 1 if escapes else i
                return SqlError("42601", f"unterminated {what} at or near {_near(sql, start)}",
                                position=start + 1)
            i = j + 1
        elif ch == "$" and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            m = _DOLLAR_TAG.match(sql, i)
            if m is None:
                i += 1
                continue
            end = sql.find(m.group(0), m.end())
            if end < 0:
                return SqlError("42601", "unterminated dollar-quoted string at or near "
                                         + _near(sql, i), position=i + 1)
            i = end + len(m.group(0))
        else:
            i += 1
    return None


def _near(sql: str, start: int) -> str:
    return '"' + sql[start:] + '"'


def split_statements(sql: str) -> list[Statement]:
    tokens = tokenize(sql)
    out: list[Statement] = []
    current: list[Token] = []

    def flush() -> None:
        if not current:
            return
        start = current[0].start
        end = current[-1].end + 1
        # include a trailing quote/paren the tokenizer reports inside end
        text = sql[start:end]
        rel = tuple(
            Token(t.token_type, t.text, t.line, t.col, t.start - start, t.end - start, t.comments)
            for t in current
        )
        out.append(Statement(text, start, rel))
        current.clear()

    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            flush()
            continue
        current.append(token)
    flush()
    return out


def strip_catalog_qualifiers(stmt: Statement, extra: Sequence[tuple[int, int, str]] = ()) -> str:
    """Remove ``pg_catalog.`` qualifiers, ``OPERATOR(pg_catalog.op)`` and ``COLLATE pg_catalog.x``.

    pg_catalog is always first on PostgreSQL's search path, so an unqualified name means the
    same thing; our system relations and functions are unqualified in SQLite. ``extra`` are more
    (start, end, replacement) cuts of the statement's text, made in the same pass.
    """
    tokens = stmt.tokens
    text = stmt.text
    cuts: list[tuple[int, int, str]] = []
    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        low = tok.text.lower()
        nxt = tokens[i + 1] if i + 1 < n else None
        if low == "operator" and nxt is not None and nxt.token_type == TokenType.L_PAREN:
            # OPERATOR(pg_catalog.~) -> ~
            j = i + 2
            while j < n and tokens[j].token_type != TokenType.R_PAREN:
                j += 1
            if j < n:
                inner = [t for t in tokens[i + 2 : j] if t.token_type != TokenType.DOT and t.text.lower() != "pg_catalog"]
                op = "".join(t.text for t in inner)
                cuts.append((tok.start, tokens[j].end + 1, f" {op} "))
                i = j + 1
                continue
        if low == "collate" and nxt is not None:
            j = i + 1
            if nxt.text.lower() == "pg_catalog" and j + 2 < n and tokens[j + 1].token_type == TokenType.DOT:
                j += 2
            target = tokens[j].text
            if target.lower() in ("default", "c", "posix"):
                cuts.append((tok.start, tokens[j].end + 1 + (1 if tokens[j].token_type == TokenType.IDENTIFIER else 0), " "))
                i = j + 1
                continue
        if (
            low in ("pg_catalog", "information_schema")
            and nxt is not None
            and nxt.token_type == TokenType.DOT
            and text[tok.start : tok.start + 1] != "'"
        ):
            quoted = tok.token_type == TokenType.IDENTIFIER or text[tok.start : tok.start + 1] == '"'
            start = tok.start
            end = nxt.end + 1
            if quoted and text[start] != '"':
                start -= 1
            if low == "pg_catalog":
                cuts.append((start, end, ""))
            else:
                # information_schema.tables -> information_schema_tables
                cuts.append((start, end, "information_schema_"))
            i += 2
            continue
        i += 1
    if extra:
        cuts = sorted([*cuts, *extra])
    if not cuts:
        return text
    pieces = []
    pos = 0
    for start, end, replacement in cuts:
        pieces.append(text[pos:start])
        pieces.append(replacement)
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)
