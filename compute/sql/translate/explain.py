"""EXPLAIN [ANALYZE] [VERBOSE] [(option [value], ...)] statement, parsed from tokens.

The explained statement is translated as if it ran alone (so EXPLAIN of a bad statement fails
as the statement would); the session builds the plan from SQLite's EXPLAIN QUERY PLAN of its
SQLite steps (compute/explain.py), in FORMAT TEXT, JSON, YAML or XML.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot.tokens import Token

from compute import pgtypes
from compute.sql.api import ColumnDesc, ExplainSpec, Kind, SqlError, Translation
from compute.sql.translate.cursor_statements import retokenize
from compute.sql.translate.tokens import Tokens

# words that can start a statement PostgreSQL explains
_EXPLAINABLE = frozenset({"select", "with", "values", "table", "insert", "update", "delete",
                          "merge", "declare", "execute", "create", "("})
_BOOLEAN_OPTIONS = frozenset({"analyze", "verbose", "costs", "settings", "buffers", "wal",
                              "timing", "summary"})
_TRUE = frozenset({"true", "on", "1", "yes"})
_FALSE = frozenset({"false", "off", "0", "no"})
QUERY_PLAN = (ColumnDesc("QUERY PLAN", pgtypes.TEXT),)
XML_OID = 142  # PostgreSQL's xml type: FORMAT XML's column (pgtypes has no xml type of its own)


def _options(ts: Tokens) -> dict[str, bool | str]:
    """The parenthesized option list."""
    found: dict[str, bool | str] = {}
    while True:
        name_tok = ts.next()
        name = name_tok.text.lower()
        value_tok = ts.token()
        value = None if value_tok is None or value_tok.text in (",", ")") else ts.next().text.lower()
        if name == "format":
            if value is None:
                ts.error()
            if value not in ("text", "json", "yaml", "xml"):
                raise SqlError("22023", f'unrecognized value for EXPLAIN option "format": "{value}"',
                               position=name_tok.start + 1)
            found["format"] = value
        elif name in _BOOLEAN_OPTIONS:
            if value is not None and value not in _TRUE | _FALSE:
                raise SqlError("42601", f"{name} requires a Boolean value")
            found[name] = value is None or value in _TRUE
        else:
            raise SqlError("42601", f'unrecognized EXPLAIN option "{name}"',
                           position=name_tok.start + 1)
        if ts.accept(")"):
            return found
        ts.expect(",")


def explain(tokens: tuple[Token, ...], text: str,
            translate_statement: Callable[[str, int], Translation]) -> Translation:
    ts = Tokens(retokenize(tokens, text), text)
    ts.expect("explain")
    options: dict[str, bool | str] = {}
    if ts.peek() == "(" and (ts.peek(1) or "") not in ("select", "values", "with", "table", "("):
        ts.next()
        options = _options(ts)
    else:
        if ts.accept("analyze") or ts.accept("analyse"):
            options["analyze"] = True
        if ts.accept("verbose"):
            options["verbose"] = True
    start = ts.token()
    if start is None:
        raise SqlError("42601", "syntax error at end of input", position=len(text) + 1)
    if start.text.lower() not in _EXPLAINABLE:
        ts.error()
    statement = translate_statement(text[start.start:], start.start)
    if statement.kind not in (Kind.QUERY, Kind.COMMAND, Kind.DECLARE_CURSOR):
        raise SqlError("0A000", f"EXPLAIN {statement.tag} is not supported")
    if statement.is_ddl:
        raise SqlError("0A000", f"EXPLAIN {statement.tag} is not supported")
    if statement.kind is Kind.DECLARE_CURSOR and options.get("analyze"):
        raise SqlError("0A000", "EXPLAIN ANALYZE DECLARE is not supported")
    analyze = bool(options.get("analyze"))
    fmt = str(options.get("format", "text"))
    columns = (ColumnDesc("QUERY PLAN", pgtypes.JSON),) if fmt == "json" else \
        (ColumnDesc("QUERY PLAN", XML_OID),) if fmt == "xml" else QUERY_PLAN
    return Translation(Kind.EXPLAIN, "EXPLAIN", columns=columns, param_oids=statement.param_oids,
                       is_write=analyze and statement.is_write, write_command=statement.write_command,
                       explain=ExplainSpec(statement, analyze, bool(options.get("verbose")), fmt))
