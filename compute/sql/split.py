"""Splitting a simple-query string into statements, and light token-level rewrites.

We tokenize with sqlglot's PostgreSQL tokenizer (it knows dollar quoting, E'' strings and
comments), split on top-level semicolons, and keep each statement's offset in the original
text so syntax errors can report PostgreSQL's 1-based character position.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot.errors import TokenError
from sqlglot.tokens import Token, TokenType

from compute.sql.api import SqlError
from compute.sql.dialect import StrataPostgres


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
        message = str(exc)
        if "Missing" in message or "unterminated" in message.lower():
            raise SqlError("42601", "unterminated quoted string at or near end of input") from None
        raise SqlError("42601", f"syntax error: {message.splitlines()[0]}") from None


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


def strip_catalog_qualifiers(stmt: Statement) -> str:
    """Remove ``pg_catalog.`` qualifiers, ``OPERATOR(pg_catalog.op)`` and ``COLLATE pg_catalog.x``.

    pg_catalog is always first on PostgreSQL's search path, so an unqualified name means the
    same thing; our system relations and functions are unqualified in SQLite.
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
            quoted = tok.token_type == TokenType.IDENTIFIER
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
