"""sqlglot dialects: PostgreSQL input that keeps functions as written, SQLite output.

sqlglot normally maps function calls to its own normalized expressions (``to_char`` becomes a
strftime call, ``div`` a chain of casts...). That is lossy for us, so the input dialect parses
every ordinary function call as ``exp.Anonymous`` and the translator maps PostgreSQL function
names itself. Only functions with special syntax (CAST, EXTRACT, SUBSTRING ... FROM ...) keep
their parsers.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.dialects.sqlite import SQLite
from sqlglot.parser import binary_range_parser
from sqlglot.tokens import TokenType

_KEEP_FUNCTION_PARSERS = {"CAST", "EXTRACT", "SUBSTRING", "TRIM", "POSITION", "OVERLAY", "STRING_AGG"}  # DATE_PART: our own (float8)


class ContainedByOrEquals(exp.Expression, exp.Binary, exp.Predicate):
    """inet ``<<=`` (sqlglot has no node for it)."""


class ContainsOrEquals(exp.Expression, exp.Binary, exp.Predicate):
    """inet ``>>=``."""


def _bit_literal_type(text: str) -> exp.DataType:
    """`bit '101'` is bit(3), not bit(1) as `'101'::bit` is: the literal keeps its length."""
    length = 4 * (len(text) - 1) if text[:1] in ("x", "X") else len(text) - 1 if text[:1] in ("b", "B") else len(text)
    return exp.DataType(this=exp.DataType.Type.BIT,
                        expressions=[exp.DataTypeParam(this=exp.Literal.number(max(length, 1)))])


class StrataPostgres(Postgres):
    class Tokenizer(Postgres.Tokenizer):  # type: ignore[misc, valid-type]
        # <<= and >>= (inet containment) reuse two token types PostgreSQL input never produces
        KEYWORDS = {**Postgres.Tokenizer.KEYWORDS, "<<=": TokenType.COLON_GT, ">>=": TokenType.NCOLON_GT}

    # Subscripts stay as written: sqlglot would shift some literals to 0-based, depending on what
    # type it guesses for the subscripted value (the translator knows the real lower bound).
    INDEX_OFFSET = 0

    class Parser(Postgres.Parser):  # type: ignore[misc, valid-type]
        FUNCTIONS: dict = {}  # type: ignore[assignment]
        RANGE_PARSERS = {
            **Postgres.Parser.RANGE_PARSERS,
            TokenType.COLON_GT: binary_range_parser(ContainedByOrEquals),
            TokenType.NCOLON_GT: binary_range_parser(ContainsOrEquals),
        }
        # PostgreSQL has no lambdas: `f(doc -> 'k')` is the json operator, not `doc -> 'k'` lambda
        # (named arguments `f(x => 1)` stay)
        LAMBDAS = {k: v for k, v in Postgres.Parser.LAMBDAS.items() if k != TokenType.ARROW}
        FUNCTION_PARSERS = {
            k: v for k, v in Postgres.Parser.FUNCTION_PARSERS.items() if k in _KEEP_FUNCTION_PARSERS
        }

        def _parse_types(self, *args: Any, **kwargs: Any) -> exp.Expression | None:
            # sqlglot parses oid/regclass/regtype... as ObjectIdentifier and then fails on the
            # array suffix of `$1::oid[]` (asyncpg's type introspection query uses it).
            this = super()._parse_types(*args, **kwargs)
            if isinstance(this, exp.ObjectIdentifier) and self._match_pair(TokenType.L_BRACKET, TokenType.R_BRACKET):
                return exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[this], nested=True)
            return this

        def _parse_type(self, parse_interval: bool = True, fallback_to_identifier: bool = False) -> Any:
            # PostgreSQL: a typed literal (`timestamp '...'`) binds tighter than a following `::`,
            # so `timestamp 'x'::date` is CAST(CAST('x' AS timestamp) AS date). sqlglot applies the
            # `::` to the string before building the outer cast; build the typed literal first.
            if (not fallback_to_identifier and self._curr
                    and self._curr.token_type not in (TokenType.STRING, TokenType.INTERVAL)):
                index = self._index
                data_type = self._parse_types(check_func=True, allow_identifiers=False)
                if isinstance(data_type, exp.DataType) and self._curr and self._curr.token_type == TokenType.STRING:
                    literal = self._parse_primary()
                    if isinstance(literal, exp.Literal) and literal.is_string:
                        if data_type.this == exp.DataType.Type.BIT and not data_type.expressions:
                            data_type = _bit_literal_type(literal.name)
                        parser = self.TYPE_LITERAL_PARSERS.get(data_type.this)
                        typed = (parser(self, literal, data_type) if parser
                                 else self.expression(exp.Cast(this=literal, to=data_type)))
                        return self._parse_column_ops(typed)
                self._retreat(index)
            return super()._parse_type(parse_interval, fallback_to_identifier)

        def _parse_interval(self, require_interval: bool = True, parse_function_unit: bool = True) -> Any:
            # INTERVAL 'text' [unit]: keep the whole string; sqlglot splits '-1 day +02:00' into
            # value and unit and loses the rest. parse_interval() reads the PostgreSQL text.
            if (self._curr and self._curr.token_type == TokenType.INTERVAL and self._next
                    and self._next.token_type == TokenType.STRING):
                index = self._index
                self._advance()
                text = self._curr.text
                self._advance()
                unit = None
                if self._curr and self._curr.token_type == TokenType.VAR and \
                        self._curr.text.upper() in self.dialect.VALID_INTERVAL_UNITS:
                    unit = exp.Var(this=self._curr.text.upper())
                    self._advance()
                if self._curr and self._curr.text.upper() == "TO":
                    self._retreat(index)
                    return super()._parse_interval(require_interval, parse_function_unit)
                return self.expression(exp.Interval(this=exp.Literal.string(text), unit=unit))
            return super()._parse_interval(require_interval, parse_function_unit)


class StrataSQLite(SQLite):
    class Generator(SQLite.Generator):  # type: ignore[misc, valid-type]
        TRANSFORMS = {
            **SQLite.Generator.TRANSFORMS,
            exp.Parameter: lambda self, e: f"?{self.sql(e, 'this')}",
        }
