"""sqlglot dialects: PostgreSQL input that keeps functions as written, SQLite output.

sqlglot normally maps function calls to its own normalized expressions (``to_char`` becomes a
strftime call, ``div`` a chain of casts...). That is lossy for us, so the input dialect parses
every ordinary function call as ``exp.Anonymous`` and the translator maps PostgreSQL function
names itself. Only functions with special syntax (CAST, EXTRACT, SUBSTRING ... FROM ...) keep
their parsers.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.dialects.sqlite import SQLite

_KEEP_FUNCTION_PARSERS = {"CAST", "EXTRACT", "SUBSTRING", "TRIM", "POSITION", "OVERLAY", "STRING_AGG", "DATE_PART"}


class StrataPostgres(Postgres):
    class Parser(Postgres.Parser):  # type: ignore[misc, valid-type]
        FUNCTIONS: dict = {}  # type: ignore[assignment]
        FUNCTION_PARSERS = {
            k: v for k, v in Postgres.Parser.FUNCTION_PARSERS.items() if k in _KEEP_FUNCTION_PARSERS
        }


class StrataSQLite(SQLite):
    class Generator(SQLite.Generator):  # type: ignore[misc, valid-type]
        TRANSFORMS = {
            **SQLite.Generator.TRANSFORMS,
            exp.Parameter: lambda self, e: f"?{self.sql(e, 'this')}",
        }
