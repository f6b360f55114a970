"""``parse()``: one PostgreSQL statement's text -> its sqlglot tree, with PostgreSQL's syntax
errors (42601) and identifier folding. A leaf (sqlglot, the dialect and the api only), so the
catalog's deparser (catalog/ruleutils.py) and the DDL compiler can both use it.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.errors import ParseError

from compute.sql.api import SqlError
from compute.sql.translate.dialect import StrataPostgres


def parse(text: str) -> exp.Expression:
    try:
        tree = StrataPostgres().parse(text)
    except ParseError as err:
        detail = err.errors[0] if err.errors else {}
        highlight = (detail.get("highlight") or "").strip()
        start = detail.get("start_context") or ""
        position = len(start) + 1 if start else None
        near = highlight or "end of input"
        if highlight:
            raise SqlError("42601", f'syntax error at or near "{near}"', position=position) from None
        raise SqlError("42601", "syntax error at end of input", position=position) from None
    except SqlError:
        raise
    except Exception as err:  # sqlglot raises assorted errors on malformed input
        raise SqlError("42601", f"syntax error: {err}") from None
    statements = [t for t in tree if t is not None]
    if len(statements) != 1:
        raise SqlError("42601", "syntax error")
    node = statements[0]
    assert isinstance(node, exp.Expression)
    _normalize_identifiers(node)
    return node


def _normalize_identifiers(node: exp.Expression) -> None:
    """PostgreSQL folds unquoted identifiers to lower case."""
    for ident in node.find_all(exp.Identifier):
        if not ident.args.get("quoted"):
            ident.set("this", ident.this.lower())
