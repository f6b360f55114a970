"""Expression typing and rewriting: PostgreSQL expression -> (SQLite expression, PostgreSQL type).

Every expression is compiled bottom-up. Compiling returns the rewritten sqlglot node (which the
SQLite generator prints) and its PostgreSQL type, so that parent nodes can pick the right
operator implementation (exact numeric UDFs, timestamp arithmetic...), unknown-typed literals
and parameters take their type from context (``col = $1`` makes $1 the column's type), and
result columns carry the right type OIDs.

The compiler is split by concern: expressions_core.py (entry points, coercion, casts, leaves),
expressions_operators.py (operators and predicates), expressions_calls.py (function calls through
compute/sql/functions/registry.py, arrays, json). A node type ``X`` is compiled by ``c_X``.
"""

from __future__ import annotations

from compute.sql.functions.srf import JSON_SRFS as JSON_SRFS
from compute.sql.functions.srf import SET_RETURNING as SET_RETURNING
from compute.sql.functions.srf import srf_array as srf_array
from compute.sql.functions.srf import stored_element as stored_element
from compute.sql.translate.expressions_calls import CallsMixin
from compute.sql.translate.expressions_core import _int_literal as _int_literal
from compute.sql.translate.expressions_operators import OperatorsMixin


class ExprCompiler(OperatorsMixin, CallsMixin):
    """Compiles expressions within a statement; see the module docstring."""
