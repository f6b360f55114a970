"""Statement text rewrites before parsing, for syntax sqlglot does not parse: each works on the
token stream (keywords read from the source text with ``tokens.word``), so the same words inside a
string literal or a quoted identifier are never touched. A cut is (start, end, replacement) in
the statement's text, applied with the catalog-qualifier cuts (``split.strip_catalog_qualifiers``).
"""

from __future__ import annotations

from sqlglot.tokens import Token, TokenType

from compute.sql.translate.dialect import StrataPostgres
from compute.sql.translate.split import Statement
from compute.sql.translate.tokens import word

Cut = tuple[int, int, str]


def _words(stmt: Statement, upto: int) -> list[str | None]:
    return [word(t, stmt.text) for t in stmt.tokens[:upto]]


def creates_table_without_columns(stmt: Statement) -> bool:
    """CREATE [UNLOGGED] TABLE [IF NOT EXISTS] name[.name] ( ): PostgreSQL allows it, SQLite not."""
    tokens, text = stmt.tokens, stmt.text
    i = _after_create_table(stmt)
    if i is None:
        return False
    i = _skip_name(tokens, text, i)
    return (i + 1 < len(tokens) and tokens[i].token_type == TokenType.L_PAREN
            and tokens[i + 1].token_type == TokenType.R_PAREN)


def unlogged_cut(stmt: Statement) -> Cut | None:
    """CREATE UNLOGGED TABLE -> CREATE TABLE (an unlogged table is a table whose writes are logged
    anyway)."""
    words = _words(stmt, 3)
    if words[:3] != ["create", "unlogged", "table"]:
        return None
    return (stmt.tokens[1].start, stmt.tokens[2].start, "")


def overriding_cut(stmt: Statement) -> tuple[Cut, str] | None:
    """INSERT INTO name [(columns)] OVERRIDING {SYSTEM|USER} VALUE ...: the clause is cut out (sqlglot
    does not parse it) and returned ("system"/"user") for the INSERT compiler."""
    tokens, text = stmt.tokens, stmt.text
    if _words(stmt, 2) != ["insert", "into"]:
        return None
    i = _skip_name(tokens, text, 2, max_dots=2)
    if i == 2:
        return None
    if i < len(tokens) and tokens[i].token_type == TokenType.L_PAREN:
        while i < len(tokens) and tokens[i].token_type != TokenType.R_PAREN:
            i += 1
            if i < len(tokens) and tokens[i].token_type == TokenType.L_PAREN:
                return None  # a column list has no nested parentheses
        i += 1
    if i + 2 >= len(tokens):
        return None
    clause = [word(t, text) for t in tokens[i : i + 3]]
    if clause[0] != "overriding" or clause[1] not in ("system", "user") or clause[2] != "value":
        return None
    assert clause[1] is not None
    return (tokens[i].start, tokens[i + 2].end + 1, ""), clause[1]


def name_unnamed_checks(text: str, placeholder: str) -> str:
    """ALTER TABLE ... ADD CHECK (...) -> ADD CONSTRAINT <placeholder> CHECK (sqlglot parses ADD
    CHECK only with a name)."""
    tokens = StrataPostgres().tokenize(text)
    cuts = [tok.start for prev, tok in zip(tokens, tokens[1:], strict=False)
            if word(prev, text) == "add" and word(tok, text) == "check"]
    for at in reversed(cuts):
        text = f"{text[:at]}CONSTRAINT {placeholder} {text[at:]}"
    return text


def _after_create_table(stmt: Statement) -> int | None:
    """The index of the table name in CREATE [UNLOGGED] TABLE [IF NOT EXISTS] name."""
    words = _words(stmt, 7)
    i = 1
    if words[i:i + 1] == ["unlogged"]:
        i += 1
    if words[:1] != ["create"] or words[i:i + 1] != ["table"]:
        return None
    i += 1
    if words[i:i + 3] == ["if", "not", "exists"]:
        i += 3
    return i


def _skip_name(tokens: tuple[Token, ...], text: str, i: int, max_dots: int = 1) -> int:
    """The index after a possibly qualified name (name, schema.name, ...) starting at ``i``."""
    if i >= len(tokens) or not _is_name(tokens[i], text):
        return i
    i += 1
    for _ in range(max_dots):
        if not (i + 1 < len(tokens) and tokens[i].token_type == TokenType.DOT and _is_name(tokens[i + 1], text)):
            break
        i += 2
    return i


def _is_name(tok: Token, text: str) -> bool:
    return word(tok, text) is not None or text[tok.start : tok.start + 1] == '"'


def client_idiom_cuts(stmt: Statement) -> list[Cut]:
    """Catalog-query idioms of psql and drivers the query compiler has no general support for.
    Strata has no partitioned tables, so a relation's partition ancestors are itself:
    ``pg_partition_ancestors(x) WITH ORDINALITY AS a(relid, depth)`` ->
    ``(SELECT (x)::regclass AS relid, 1::int8 AS depth) AS a``.
    """
    tokens, text = stmt.tokens, stmt.text
    if "ordinality" not in text.lower():  # the common case: nothing to look for
        return []
    cuts: list[Cut] = []
    for i, tok in enumerate(tokens):
        if word(tok, text) != "pg_partition_ancestors":
            continue
        found = _ancestors_with_ordinality(tokens, text, i)
        if found is not None:
            cuts.extend(found)
    return cuts


def _ancestors_with_ordinality(tokens: tuple[Token, ...], text: str, i: int) -> list[Cut] | None:
    """The two cuts around the argument of ``pg_partition_ancestors(...)`` at token ``i`` (the
    argument keeps its own cuts), or None when the idiom is not there."""
    if i + 1 >= len(tokens) or tokens[i + 1].token_type != TokenType.L_PAREN:
        return None
    close = i + 2
    while close < len(tokens) and tokens[close].token_type not in (TokenType.R_PAREN, TokenType.L_PAREN):
        close += 1
    tail = tokens[close : close + 10]
    if close >= len(tokens) or tokens[close].token_type != TokenType.R_PAREN or len(tail) < 10:
        return None
    words = [word(t, text) for t in tail[1:4]]
    punctuation = [tail[5].token_type, tail[7].token_type, tail[9].token_type]
    names = [tail[4], tail[6], tail[8]]
    if words != ["with", "ordinality", "as"] or punctuation != [TokenType.L_PAREN, TokenType.COMMA, TokenType.R_PAREN] \
            or any(word(t, text) is None for t in names):
        return None
    alias, relid, depth = (text[t.start : t.end + 1] for t in names)
    return [(tokens[i].start, tokens[i + 1].end + 1, "(SELECT ("),
            (tail[0].start, tail[9].end + 1, f")::regclass AS {relid}, 1::int8 AS {depth}) AS {alias}")]
