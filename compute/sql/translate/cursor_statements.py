"""DECLARE / FETCH / MOVE / CLOSE, parsed from tokens (sqlglot reads them as opaque commands).

DECLARE carries its query's own translation; the session runs it (compute/cursors.py). FETCH and
MOVE name a cursor whose columns are known only to the session, so their translations have none.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot.tokens import Token, TokenType

from compute.sql.api import ALL_ROWS, CursorSpec, FetchSpec, Kind, SqlError, Translation
from compute.sql.translate.split import tokenize
from compute.sql.translate.tokens import Tokens

# translate one query text (the caller's statement translator, so this module stays a leaf)
QueryTranslator = Callable[[str, int], Translation]


def retokenize(tokens: tuple[Token, ...], text: str) -> tuple[Token, ...]:
    """The statement's tokens, the words after the first one tokenized for real (the tokenizer
    reads DECLARE / FETCH / MOVE / CLOSE / EXPLAIN as a command and the rest as one string)."""
    shift = tokens[0].end + 1
    rest = tokenize(text[shift:])
    return (tokens[0], *(Token(t.token_type, t.text, t.line, t.col, t.start + shift, t.end + shift,
                                t.comments) for t in rest))


def declare_cursor(tokens: tuple[Token, ...], text: str, translate_query: QueryTranslator) -> Translation:
    """DECLARE name [BINARY] [ASENSITIVE|INSENSITIVE] [[NO] SCROLL] CURSOR [{WITH|WITHOUT} HOLD] FOR query."""
    ts = Tokens(retokenize(tokens, text), text)
    ts.expect("declare")
    name = ts.next_name()
    scroll: bool | None = None
    binary = False
    while True:
        if ts.accept("binary"):
            binary = True
            continue
        if ts.accept("asensitive") or ts.accept("insensitive"):
            continue
        if ts.accept("no", "scroll"):
            scroll = False
            continue
        if ts.accept("scroll"):
            scroll = True
            continue
        break
    ts.expect("cursor")
    hold = False
    if ts.accept("with", "hold"):
        hold = True
    elif ts.accept("without", "hold"):
        pass
    ts.expect("for")
    start_tok = ts.token()
    if start_tok is None:
        raise SqlError("42601", "syntax error at end of input", position=len(text) + 1)
    if start_tok.text.lower() not in ("select", "with", "values", "table", "("):
        ts.error()
    query = translate_query(text[start_tok.start:], start_tok.start)
    if query.kind is not Kind.QUERY:
        raise SqlError("0A000", "DECLARE CURSOR must be a SELECT or VALUES query here")
    if query.is_write:
        raise SqlError("0A000", "DECLARE CURSOR over a query that writes is not supported")
    return Translation(Kind.DECLARE_CURSOR, "DECLARE CURSOR", param_oids=query.param_oids,
                       cursor=CursorSpec(name, query, text, scroll, hold, binary))


def _count(ts: Tokens) -> int | None:
    """A signed integer count, or None when the next token is not one."""
    negative = False
    if ts.peek() in ("-", "+") and ts.token(1) is not None and \
            ts.token(1).token_type == TokenType.NUMBER:  # type: ignore[union-attr]
        negative = ts.next().text == "-"
    tok = ts.token()
    if tok is None or tok.token_type != TokenType.NUMBER:
        return None
    try:
        value = int(tok.text)
    except ValueError:
        ts.error()
    ts.next()
    return -value if negative else value


def fetch(tokens: tuple[Token, ...], text: str) -> Translation:
    """FETCH / MOVE [direction] [FROM | IN] name, directions as PostgreSQL's grammar has them."""
    ts = Tokens(retokenize(tokens, text), text)
    move = ts.next().text.lower() == "move"
    direction, count = "forward", 1
    if ts.accept("next"):
        pass
    elif ts.accept("prior"):
        direction = "backward"
    elif ts.accept("first"):
        direction = "absolute"
    elif ts.accept("last"):
        direction, count = "absolute", -1
    elif ts.accept("absolute") or ts.accept("relative"):
        direction = str(ts.tokens[ts.pos - 1].text.lower())
        found = _count(ts)
        if found is None:
            ts.error()
        count = int(found) if found is not None else 0
    elif ts.accept("all"):
        count = ALL_ROWS
    elif ts.accept("forward") or ts.accept("backward"):
        direction = str(ts.tokens[ts.pos - 1].text.lower())
        if ts.accept("all"):
            count = ALL_ROWS
        else:
            found = _count(ts)
            count = 1 if found is None else found
    else:
        found = _count(ts)
        count = 1 if found is None else found
    if not (ts.accept("from") or ts.accept("in")) and ts.at_end():
        ts.error()
    name = ts.next_name()
    if not ts.at_end():
        ts.error()
    tag = "MOVE" if move else "FETCH"
    return Translation(Kind.FETCH, tag, fetch=FetchSpec(name, direction, count, move))


def close_cursor(tokens: tuple[Token, ...], text: str) -> Translation:
    """CLOSE name | ALL."""
    ts = Tokens(retokenize(tokens, text), text)
    ts.expect("close")
    if ts.accept("all"):
        if not ts.at_end():
            ts.error()
        return Translation(Kind.CLOSE_CURSOR, "CLOSE CURSOR ALL", name="")
    name = ts.next_name()
    if not ts.at_end():
        ts.error()
    return Translation(Kind.CLOSE_CURSOR, "CLOSE CURSOR", name=name)
