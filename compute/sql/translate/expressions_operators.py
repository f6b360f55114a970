"""The expression compiler's operators: boolean logic, comparisons (also quantified and enum),
arithmetic (numeric, float, date/time), IN, BETWEEN, CASE, LIKE/SIMILAR/regex, subqueries.

A mixin of ExprCompiler (translate/expressions.py); ``self`` is the compiler."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.api import SqlError
from compute.sql.catalog.catalog import FIRST_USER_OID
from compute.sql.functions import bits, network
from compute.sql.functions import range as ranges
from compute.sql.functions.numeric import numeric_or_float
from compute.sql.functions.srf import JSON_SRFS as JSON_SRFS
from compute.sql.functions.srf import SET_RETURNING as SET_RETURNING
from compute.sql.functions.srf import srf_array as srf_array
from compute.sql.functions.srf import stored_element as stored_element
from compute.sql.translate.expressions_core import (
    ExprCore,
    _at_most_one_row,
    _binary,
    _fold_int,
    _int_literal,
    _is_plain_column,
    _like_to_glob,
    _looks_like_interval,
)
from compute.sql.translate.scope import (
    Scope,
    fn,
    is_string_literal,
    lit_int,
    quote,
    raw,
)
from compute.sql.types import Ty

if TYPE_CHECKING:
    from compute.sql.translate.expressions import ExprCompiler

_COMPARISONS: dict[type, str] = {
    exp.EQ: "=",
    exp.NEQ: "<>",
    exp.GT: ">",
    exp.GTE: ">=",
    exp.LT: "<",
    exp.LTE: "<=",
}


# Operators of the types whose family module translates them: oid -> operator(c, op, l, lt, r, rt).
TYPED_OPERATORS: dict[int, Callable[..., tuple[exp.Expression, Ty]]] = {
    T.INET: network.operator, T.CIDR: network.operator, T.BIT: bits.operator, T.VARBIT: bits.operator,
    **{oid: ranges.operator for oid in ranges.RANGE_TYPES},
}
TYPED_NOT: dict[int, Callable[..., tuple[exp.Expression, Ty]]] = {
    T.INET: network.bit_not, T.CIDR: network.bit_not, T.BIT: bits.bit_not, T.VARBIT: bits.bit_not,
}
_BITWISE_OPS: dict[type, str] = {exp.BitwiseLeftShift: "<<", exp.BitwiseRightShift: ">>", exp.BitwiseAnd: "&",
                                 exp.BitwiseOr: "|", exp.BitwiseXor: "#"}


class OperatorsMixin(ExprCore):
    """Operators and predicates (see the module docstring)."""

    # -------------------------------------------------------------- operators
    def c_And(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        left = self.condition(node.this, scope)
        right = self.condition(node.expression, scope)
        return type(node)(this=left, expression=right), ty.BOOL

    c_Or = c_And

    def c_Not(self, node: exp.Not, scope: Scope) -> tuple[exp.Expression, Ty]:
        return exp.Not(this=self.condition(node.this, scope)), ty.BOOL

    def c_Is(self, node: exp.Is, scope: Scope) -> tuple[exp.Expression, Ty]:
        left, lt = self.compile(node.this, scope)
        right = node.expression
        if isinstance(right, exp.Boolean):
            left = self.coerce(left, lt, ty.BOOL)
            out: exp.Expression = exp.Is(this=left, expression=exp.Literal.number(1 if right.this else 0))
        else:
            out = exp.Is(this=left, expression=exp.Null())
        if node.args.get("negate"):
            out = exp.Not(this=exp.Paren(this=out))
        return out, ty.BOOL

    def comparison(self, op: str, left: exp.Expression, lt: Ty, right: exp.Expression,
                   rt: Ty) -> exp.Expression:
        if lt.oid >= FIRST_USER_OID or rt.oid >= FIRST_USER_OID:
            return self._enum_comparison(op, left, lt, right, rt)
        if lt.oid == T.UNKNOWN and rt.oid != T.UNKNOWN:
            left, lt = self.coerce(left, lt, rt), rt
        elif rt.oid == T.UNKNOWN and lt.oid != T.UNKNOWN:
            right, rt = self.coerce(right, rt, lt), lt
        elif lt.oid == T.UNKNOWN and rt.oid == T.UNKNOWN:
            left = self.coerce(left, lt, ty.TEXT)
            right = self.coerce(right, rt, ty.TEXT)
            lt = rt = ty.TEXT
        elif lt.oid != rt.oid:
            numbers = (*ty.INTS, *ty.FLOATS, T.NUMERIC)
            if (lt.oid in ty.STRINGS and rt.oid in numbers) or (rt.oid in ty.STRINGS and lt.oid in numbers):
                # PostgreSQL has no implicit cast between text and numbers: `code = 1` is an error
                fmt = self.state.catalog.format_type
                shown = "=" if op in ("IS", "IS NOT") else op
                raise SqlError("42883", f"operator does not exist: {fmt(lt.oid)} {shown} {fmt(rt.oid)}",
                               hint="No operator matches the given name and argument types. You might need to "
                                    "add explicit type casts.")
            common = ty.common_type(lt, rt)
            if lt.oid == T.BPCHAR and rt.oid in ty.STRINGS:
                left = fn("rtrim", left, exp.Literal.string(" "))
            elif rt.oid == T.BPCHAR and lt.oid in ty.STRINGS:
                right = fn("rtrim", right, exp.Literal.string(" "))
            elif common.oid == T.FLOAT8 and T.NUMERIC in (lt.oid, rt.oid):
                left = self.coerce(left, lt, ty.FLOAT8)
                right = self.coerce(right, rt, ty.FLOAT8)
            elif {lt.oid, rt.oid} <= set(ty.DATETIMES):
                left = self.coerce(left, lt, common)
                right = self.coerce(right, rt, common)
            lt = rt = common if common.oid == T.NUMERIC else lt
        elif lt.oid == T.BPCHAR and (lt.typmod != rt.typmod or lt.typmod < 0):
            # bpchareq ignores trailing blanks; equal lengths are padded alike already
            left = fn("rtrim", left, exp.Literal.string(" "))
            right = fn("rtrim", right, exp.Literal.string(" "))
        if lt.oid == T.INTERVAL and rt.oid == T.INTERVAL:  # by value: '24 hours' = '1 day'
            left, right = fn("pg_interval_key", left), fn("pg_interval_key", right)
        if lt.oid == T.TIMETZ and rt.oid == T.TIMETZ:  # by UTC time, then zone (timetz_cmp)
            left, right = fn("pg_timetz_key", left), fn("pg_timetz_key", right)
        if lt.oid == T.NUMERIC or rt.oid == T.NUMERIC:
            if not (_is_plain_column(left) or _is_plain_column(right)):
                cmp = fn("pg_num_cmp", left, right)
                return raw(f"({self.sql(cmp)} {op} 0)")
        cls: Any = {"=": exp.EQ, "<>": exp.NEQ, ">": exp.GT, ">=": exp.GTE, "<": exp.LT,
                                      "<=": exp.LTE, "IS": exp.NullSafeEQ, "IS NOT": exp.NullSafeNEQ}[op]
        return cls(this=left, expression=right)

    def _enum_comparison(self, op: str, left: exp.Expression, lt: Ty, right: exp.Expression,
                         rt: Ty) -> exp.Expression:
        """Enum operands compare by the labels' positions (equality is equality of labels)."""
        if lt.oid == T.UNKNOWN:
            left, lt = self.coerce(left, lt, rt), rt
        elif rt.oid == T.UNKNOWN:
            right, rt = self.coerce(right, rt, lt), lt
        catalog = self.state.catalog
        if lt.oid == rt.oid and catalog.enum_of_array(lt.oid) is not None and op in ("=", "<>", "IS", "IS NOT"):
            pass
        elif lt.oid != rt.oid or catalog.enum_by_oid(lt.oid) is None:
            fmt = self.state.catalog.format_type
            raise SqlError("42883", f"operator does not exist: {fmt(lt.oid)} {op} {fmt(rt.oid)}",
                           hint="No operator matches the given name and argument types. You might need to "
                                "add explicit type casts.")
        if op in ("<", ">", "<=", ">="):
            left, right = self.sort_key(left, lt), self.sort_key(right, rt)
        cls: Any = {"=": exp.EQ, "<>": exp.NEQ, ">": exp.GT, ">=": exp.GTE, "<": exp.LT,
                    "<=": exp.LTE, "IS": exp.NullSafeEQ, "IS NOT": exp.NullSafeNEQ}[op]
        return cls(this=left, expression=right)

    def _compare(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        op = _COMPARISONS.get(type(node)) or ("IS" if isinstance(node, exp.NullSafeEQ) else "IS NOT")
        right_node = node.expression
        if isinstance(right_node, exp.Anonymous) and right_node.name.lower() == "all" and len(
                right_node.expressions) == 1:  # sqlglot parses `x = ALL (array)` as a function call
            right_node = exp.All(this=right_node.expressions[0])
        if isinstance(right_node, (exp.Any, exp.All)):
            return self.quantified(op, node.this, right_node, scope)
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(right_node, scope)
        return self.comparison(op, left, lt, right, rt), ty.BOOL

    c_EQ = c_NEQ = c_GT = c_GTE = c_LT = c_LTE = c_NullSafeEQ = c_NullSafeNEQ = _compare

    def quantified(self, op: str, left_node: exp.Expression, quant: exp.Expression,
                   scope: Scope) -> tuple[exp.Expression, Ty]:
        left, lt = self.compile(left_node, scope)
        inner = quant.this
        while isinstance(inner, exp.Paren):
            inner = inner.this
        if isinstance(inner, (exp.Select, exp.Union, exp.Subquery)):
            query = inner.this if isinstance(inner, exp.Subquery) else inner
            sub_sql, cols = self.query.subquery(query, scope)
            if len(cols) != 1:
                raise SqlError("42601", "subquery has too many columns")
            elem_t = cols[0].ty
            left = self.coerce(left, lt, elem_t)
            item = f"x.{quote(cols[0].name)}"
            if lt.oid == elem_t.oid == T.BPCHAR and (lt.typmod != elem_t.typmod or lt.typmod < 0):
                left, item = fn("rtrim", left, exp.Literal.string(" ")), f"rtrim({item}, ' ')"  # bpchareq
            source = f"SELECT {item} AS v FROM ({sub_sql}) AS x"
        else:
            arr, at = self.compile(inner, scope)
            if at.oid == T.UNKNOWN:
                elem = lt if lt.oid != T.UNKNOWN else ty.TEXT
                arr_t = Ty(ty.array_of(elem.oid))
                arr = self.coerce(arr, at, arr_t)
                elem_t = arr_t.element
            elif not at.is_array:
                raise SqlError("42809", "op ANY/ALL (array) requires array on right side")
            else:
                left = self.coerce(left, lt, at.element)
                elem_t = at.element
            source = f"SELECT value AS v FROM json_each({self.sql(arr)})"
        left_sql = self.sql(left)
        if isinstance(quant, exp.Any) and op == "=":
            return raw(f"({left_sql} IN ({source}))"), ty.BOOL
        if isinstance(quant, exp.All) and op == "<>":
            return raw(f"({left_sql} NOT IN ({source}))"), ty.BOOL
        # three-valued: ANY is true if some comparison is true, ALL false if some is false;
        # otherwise NULL if some comparison is NULL
        cmp = self.sql(self.comparison(op, left, elem_t if lt.oid == T.UNKNOWN else Ty(elem_t.oid),
                                       raw("q.v"), Ty(elem_t.oid)))
        decided, value = (f"({cmp})", "1") if isinstance(quant, exp.Any) else (f"NOT ({cmp})", "0")
        return raw(f"(CASE WHEN EXISTS (SELECT 1 FROM ({source}) AS q WHERE {decided}) THEN {value} "
                   f"WHEN EXISTS (SELECT 1 FROM ({source}) AS q WHERE ({cmp}) IS NULL) THEN NULL "
                   f"ELSE {1 - int(value)} END)"), ty.BOOL

    def arith(self, op: str, left: exp.Expression, lt: Ty, right: exp.Expression,
              rt: Ty) -> tuple[exp.Expression, Ty]:
        """Arithmetic with PostgreSQL result types and exact numeric/date semantics."""
        family = TYPED_OPERATORS.get(lt.oid) or TYPED_OPERATORS.get(rt.oid)
        if family is not None:
            return family(cast("ExprCompiler", self), op, left, lt, right, rt)
        if lt.oid == T.UNKNOWN and rt.oid == T.UNKNOWN:
            lt = rt = ty.INT4 if op != "||" else ty.TEXT
            left, right = self.coerce(left, ty.UNKNOWN, lt), self.coerce(right, ty.UNKNOWN, rt)
        # date/time arithmetic
        if lt.oid in (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE, T.TIME) or rt.oid in (
            T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE, T.TIME, T.INTERVAL
        ) or lt.oid == T.INTERVAL:
            return self.datetime_arith(op, left, lt, right, rt)
        if lt.oid == T.JSONB and op == "-":
            if rt.oid == T.UNKNOWN:
                right, rt = self.coerce(right, rt, ty.TEXT), ty.TEXT
            if rt.oid in (*ty.INTS, *ty.STRINGS):
                return fn("pg_jsonb_delete", left, right), Ty(T.JSONB)
        if lt.oid == T.UNKNOWN:
            left, lt = self.coerce(left, lt, rt), Ty(rt.oid)
        if rt.oid == T.UNKNOWN:
            right, rt = self.coerce(right, rt, lt), Ty(lt.oid)
        if lt.oid == rt.oid == T.PG_LSN and op == "-":  # the distance in bytes, as numeric
            return exp.Cast(this=exp.Paren(this=exp.Sub(this=left, expression=right)),
                            to=exp.DataType.build("TEXT")), ty.NUMERIC
        numeric_types = (*ty.INTS, *ty.FLOATS, T.NUMERIC)
        if lt.oid not in numeric_types or rt.oid not in numeric_types:
            raise SqlError(
                "42883",
                f"operator does not exist: {self.state.catalog.format_type(lt.oid)} {op} "
                f"{self.state.catalog.format_type(rt.oid)}",
                hint="No operator matches the given name and argument types. You might need to add "
                     "explicit type casts.",
            )
        if lt.oid in ty.FLOATS or rt.oid in ty.FLOATS:
            result = ty.FLOAT4 if lt.oid == rt.oid == T.FLOAT4 else ty.FLOAT8
            left = self.coerce(left, lt, ty.FLOAT8)
            right = self.coerce(right, rt, ty.FLOAT8)
            if op == "%":
                raise SqlError("42883", "operator does not exist: double precision % double precision")
            # PostgreSQL checks every float result (22003 overflow/underflow) and keeps NaN.
            name = {"+": "pg_fadd", "-": "pg_fsub", "*": "pg_fmul", "/": "pg_fdiv"}[op]
            if result.oid == T.FLOAT4:
                return fn("pg_to_float4", fn(name, left, right)), result
            return fn(name, left, right), result
        if lt.oid == T.NUMERIC or rt.oid == T.NUMERIC:
            name = {"+": "pg_num_add", "-": "pg_num_sub", "*": "pg_num_mul", "/": "pg_num_div",
                    "%": "pg_num_mod"}[op]
            return fn(name, left, right), ty.NUMERIC
        result = lt if ty.INT_RANK[lt.oid] >= ty.INT_RANK[rt.oid] else rt
        result = Ty(result.oid)
        folded = _fold_int(op, left, right, result.oid)
        if folded is not None:
            return folded, result
        if op in ("/", "%"):
            literal = _int_literal(right)
            if literal is not None and literal not in (0, -1):
                return _binary(op, left, right), result
            if op == "/":
                return fn("pg_div", left, right, lit_int(result.oid)), result
            return fn("pg_mod", left, right), result
        # SQLite computes in int64 and turns an int64 overflow into REAL; pg_check_int raises
        # PostgreSQL's 22003 for both (and for int2/int4 range).
        return fn("pg_check_int", _binary(op, left, right), lit_int(result.oid)), result

    def datetime_arith(self, op: str, left: exp.Expression, lt: Ty, right: exp.Expression,
                       rt: Ty) -> tuple[exp.Expression, Ty]:
        if lt.oid == T.UNKNOWN:
            guess = ty.INTERVAL if rt.oid in (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE) and op == "+" else rt
            if rt.oid == T.INTERVAL:
                guess = ty.INTERVAL
            left, lt = self.coerce(left, lt, guess), guess
        if rt.oid == T.UNKNOWN:
            if lt.oid == T.DATE and op in ("+", "-"):
                guess = ty.INT4
                bare = right.this if isinstance(right, exp.Paren) else right
                if is_string_literal(bare) and not bare.this.strip().lstrip("-").isdigit():
                    guess = ty.INTERVAL
            elif lt.oid == T.INTERVAL and op in ("*", "/"):
                guess = ty.FLOAT8
            elif op == "-" and lt.oid in (T.TIMESTAMP, T.TIMESTAMPTZ):
                bare = right.this if isinstance(right, exp.Paren) else right
                guess = ty.INTERVAL if is_string_literal(bare) and _looks_like_interval(bare.this) else lt
            else:
                guess = ty.INTERVAL
            right, rt = self.coerce(right, rt, guess), guess
        a, b = lt.oid, rt.oid
        if op in ("+", "-") and a in (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE, T.TIME) and b == T.INTERVAL:
            result = ty.TIMESTAMP if a == T.DATE else Ty(a)
            return fn("pg_ts_add", left, right, lit_int(a), lit_int(1 if op == "+" else -1)), result
        if op == "+" and a == T.INTERVAL and b in (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE, T.TIME):
            result = ty.TIMESTAMP if b == T.DATE else Ty(b)
            return fn("pg_ts_add", right, left, lit_int(b), lit_int(1)), result
        if op == "+" and {a, b} == {T.DATE, T.TIME}:  # date + time is the timestamp at that time
            date, clock = (left, right) if a == T.DATE else (right, left)
            return fn("pg_ts_add", date, clock, lit_int(T.DATE), lit_int(1)), ty.TIMESTAMP
        if op in ("+", "-") and a == T.DATE and b in ty.INTS:
            return fn("pg_date_add", left, right, lit_int(1 if op == "+" else -1)), ty.DATE
        if op == "+" and a in ty.INTS and b == T.DATE:
            return fn("pg_date_add", right, left, lit_int(1)), ty.DATE
        if op == "-" and a == b == T.DATE:
            return fn("pg_date_diff", left, right), ty.INT4
        if op == "-" and a == b == T.TIME:
            return fn("pg_time_diff", left, right), ty.INTERVAL
        if op == "-" and a in (T.TIMESTAMP, T.TIMESTAMPTZ) and b in (T.TIMESTAMP, T.TIMESTAMPTZ, T.DATE):
            if a != b:
                left = self.coerce(left, lt, ty.TIMESTAMPTZ)
                right = self.coerce(right, rt, ty.TIMESTAMPTZ)
                a = T.TIMESTAMPTZ
            return fn("pg_ts_diff", left, right, lit_int(a)), ty.INTERVAL
        if op in ("+", "-") and a == b == T.INTERVAL:
            return fn("pg_interval_add", left, right, lit_int(1 if op == "+" else -1)), ty.INTERVAL
        if op == "*" and a == T.INTERVAL and b in (*ty.INTS, *ty.FLOATS, T.NUMERIC):
            return fn("pg_interval_mul", left, right), ty.INTERVAL
        if op == "*" and b == T.INTERVAL and a in (*ty.INTS, *ty.FLOATS, T.NUMERIC):
            return fn("pg_interval_mul", right, left), ty.INTERVAL
        if op == "/" and a == T.INTERVAL and b in (*ty.INTS, *ty.FLOATS, T.NUMERIC):
            return fn("pg_interval_mul", left, raw(f"(1.0 / ({self.sql(right)}))")), ty.INTERVAL
        raise SqlError(
            "42883",
            f"operator does not exist: {self.state.catalog.format_type(a)} {op} "
            f"{self.state.catalog.format_type(b)}",
            hint="No operator matches the given name and argument types. You might need to add explicit "
                 "type casts.",
        )

    def _arith_node(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        ops: dict[type, str] = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%"}
        op = ops[type(node)]
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(node.expression, scope)
        return self.arith(op, left, lt, right, rt)

    c_Add = c_Sub = c_Mul = c_Div = c_Mod = _arith_node

    def c_IntDiv(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(node.expression, scope)
        return self.arith("/", left, lt, right, rt)

    def c_Neg(self, node: exp.Neg, scope: Scope) -> tuple[exp.Expression, Ty]:
        inner, t = self.compile(node.this, scope)
        if isinstance(inner, exp.Literal) and t.oid in ty.INTS:
            value = -int(inner.this)
            if t.oid != T.INT4 and not isinstance(node.this, exp.Literal):  # -(x::bigint) stays bigint
                return fn("pg_check_int", lit_int(value), lit_int(t.oid)), t
            return lit_int(value), ty.INT4 if -(2**31) <= value < 2**31 else ty.INT8
        if t.oid in ty.INTS:
            return fn("pg_check_int", exp.Neg(this=inner), lit_int(t.oid)), t
        if t.oid == T.NUMERIC:
            if is_string_literal(inner) and inner.this.lower() != "nan":  # -NaN is NaN
                text = inner.this[1:] if inner.this.startswith("-") else "-" + inner.this
                return exp.Literal.string(T.parse_numeric(text)), ty.NUMERIC
            return fn("pg_num_neg", inner), ty.NUMERIC
        if t.oid == T.INTERVAL:
            return fn("pg_interval_mul", inner, lit_int(-1)), ty.INTERVAL
        if t.oid in ty.FLOATS and not (isinstance(inner, exp.Literal) and not inner.is_string):
            return fn("pg_fneg", inner), t  # -NaN is NaN (SQLite would negate the text to 0)
        if t.oid == T.UNKNOWN:
            inner = self.coerce(inner, t, ty.INT4)
            t = ty.INT4
        return exp.Neg(this=inner), t

    def c_Pow(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(node.expression, scope)
        (left, right), numeric = numeric_or_float(cast("ExprCompiler", self), [left, right], [lt, rt])
        if numeric:
            return fn("pg_num_power", left, right), ty.NUMERIC
        return fn("pg_fpower", left, right), ty.FLOAT8

    def _bitwise(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(node.expression, scope)
        family = TYPED_OPERATORS.get(lt.oid) or TYPED_OPERATORS.get(rt.oid)
        if family is not None:
            return family(cast("ExprCompiler", self), _BITWISE_OPS[type(node)], left, lt, right, rt)
        left = self.coerce(left, lt, ty.INT4)
        right = self.coerce(right, rt, ty.INT4)
        result = lt if lt.oid in ty.INTS else ty.INT4
        if isinstance(node, exp.BitwiseXor):
            ls, rs = self.sql(left), self.sql(right)
            return raw(f"((({ls}) | ({rs})) - (({ls}) & ({rs})))"), result
        return type(node)(this=left, expression=right), result

    c_BitwiseAnd = c_BitwiseOr = c_BitwiseXor = c_BitwiseLeftShift = c_BitwiseRightShift = _bitwise

    def c_BitwiseNot(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        inner, t = self.compile(node.this, scope)
        if t.oid in TYPED_NOT:
            return TYPED_NOT[t.oid](cast("ExprCompiler", self), inner, t)
        return exp.BitwiseNot(this=inner), t if t.oid in ty.INTS else ty.INT4

    def c_Substring(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        out, t = super().c_Substring(node, scope)  # type: ignore[misc]
        return out, self._bit_result(node, scope, t)

    def c_Overlay(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        out, t = super().c_Overlay(node, scope)  # type: ignore[misc]
        return out, self._bit_result(node, scope, t)

    def _bit_result(self, node: exp.Expression, scope: Scope, t: Ty) -> Ty:
        """substring/overlay of a bit string is a bit string (the text functions compute it)."""
        if isinstance(node.this, exp.Literal):  # a string literal: no need to compile it again
            return t
        _, vt = self.compile(node.this, scope)
        return Ty(vt.oid) if vt.oid in bits.BIT_TYPES else t

    def c_BitString(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return bits.literal(node.name, hex_digits=False)

    def c_HexString(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return bits.literal(node.name, hex_digits=True)

    def c_DPipe(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(node.expression, scope)
        if lt.oid in bits.BIT_TYPES and rt.oid in (*bits.BIT_TYPES, T.UNKNOWN) or (
                rt.oid in bits.BIT_TYPES and lt.oid == T.UNKNOWN):
            return bits.operator(cast("ExprCompiler", self), "||", left, lt, right, rt)
        if lt.is_array or rt.is_array:
            arr_t = lt if lt.is_array else rt
            if lt.is_array and rt.is_array:
                return fn("pg_array_cat", left, right), arr_t
            if lt.is_array:
                return fn("pg_array_append", left, self.coerce(right, rt, arr_t.element)), arr_t
            return fn("pg_array_cat", fn("json_array", self.coerce(left, lt, arr_t.element)), right), arr_t
        if lt.oid == T.JSONB and rt.oid in (T.JSONB, T.UNKNOWN):
            return fn("pg_jsonb_concat", left, self.coerce(right, rt, Ty(T.JSONB))), Ty(T.JSONB)
        if T.BYTEA in (lt.oid, rt.oid) and {lt.oid, rt.oid} <= {T.BYTEA, T.UNKNOWN}:
            bytea = Ty(T.BYTEA)
            return fn("pg_bytea_concat", self.coerce(left, lt, bytea), self.coerce(right, rt, bytea)), bytea
        left = self.to_text(left, lt) if lt.oid != T.UNKNOWN else left
        right = self.to_text(right, rt) if rt.oid != T.UNKNOWN else right
        if lt.oid == T.BPCHAR:
            left = fn("rtrim", left, exp.Literal.string(" "))
        if rt.oid == T.BPCHAR:
            right = fn("rtrim", right, exp.Literal.string(" "))
        return exp.DPipe(this=left, expression=right), ty.TEXT

    def c_Between(self, node: exp.Between, scope: Scope) -> tuple[exp.Expression, Ty]:
        value, vt = self.compile(node.this, scope)
        low, lowt = self.compile(node.args["low"], scope)
        high, hight = self.compile(node.args["high"], scope)
        target = vt if vt.oid != T.UNKNOWN else ty.common_type(lowt, hight)
        ge = self.comparison(">=", value, vt, low, lowt)
        le = self.comparison("<=", value, vt, high, hight)
        del target
        if node.args.get("symmetric"):  # BETWEEN SYMMETRIC: either order of the bounds
            ge2 = self.comparison(">=", value, vt, high, hight)
            le2 = self.comparison("<=", value, vt, low, lowt)
            return exp.Paren(this=exp.Or(this=exp.Paren(this=exp.And(this=ge, expression=le)),
                                         expression=exp.Paren(this=exp.And(this=ge2, expression=le2)))), ty.BOOL
        return exp.Paren(this=exp.And(this=ge, expression=le)), ty.BOOL

    def c_In(self, node: exp.In, scope: Scope) -> tuple[exp.Expression, Ty]:
        value, vt = self.compile(node.this, scope)
        query = node.args.get("query")
        if query is not None:
            inner = query.this if isinstance(query, exp.Subquery) else query
            sub_sql, cols = self.query.subquery(inner, scope)
            if cols and vt.oid == cols[0].ty.oid == T.BPCHAR and (vt.typmod != cols[0].ty.typmod or vt.typmod < 0):
                item = f"rtrim(x.{quote(cols[0].name)}, ' ')"  # bpchareq ignores trailing blanks
                sub_sql = f"SELECT {item} FROM ({sub_sql}) AS x"
                value = fn("rtrim", value, exp.Literal.string(" "))
            elif cols and vt.oid == T.UNKNOWN:
                value = self.coerce(value, vt, cols[0].ty)
            elif cols and cols[0].ty.oid != vt.oid and cols[0].ty.oid == T.BPCHAR:
                value = fn("pg_typmod", value, lit_int(T.BPCHAR), lit_int(cols[0].ty.typmod))
            return raw(f"({self.sql(value)} IN ({sub_sql}))"), ty.BOOL
        items = []
        types = []
        for item in node.expressions:
            out, t = self.compile(item, scope)
            items.append(out)
            types.append(t)
        target = vt
        if target.oid == T.UNKNOWN:
            for t in types:
                target = ty.common_type(target, t)
            value = self.coerce(value, vt, target)
        numbers = (*ty.INTS, *ty.FLOATS, T.NUMERIC)
        for t in types:  # text IN (1, 2) has no operator, as with = (see comparison)
            if (target.oid in ty.STRINGS and t.oid in numbers) or (t.oid in ty.STRINGS and target.oid in numbers):
                fmt = self.state.catalog.format_type
                raise SqlError("42883", f"operator does not exist: {fmt(target.oid)} = {fmt(t.oid)}",
                               hint="No operator matches the given name and argument types. You might need to "
                                    "add explicit type casts.")
        coerced = [self.coerce(i, t, target) for i, t in zip(items, types, strict=True)]
        return exp.In(this=value, expressions=coerced), ty.BOOL

    def c_Exists(self, node: exp.Exists, scope: Scope) -> tuple[exp.Expression, Ty]:
        sub_sql, _cols = self.query.subquery(node.this, scope)
        return raw(f"EXISTS ({sub_sql})"), ty.BOOL

    def c_Subquery(self, node: exp.Subquery, scope: Scope) -> tuple[exp.Expression, Ty]:
        sub_sql, cols = self.query.subquery(node.this, scope)
        if len(cols) != 1:
            raise SqlError("42601", "subquery must return only one column")
        if _at_most_one_row(node.this):
            return raw(f"({sub_sql})"), cols[0].ty
        # more than one row is 21000 (SQLite would take the first): pg_scalar_subquery() raises it
        return raw(f"(SELECT pg_scalar_subquery(x.{quote(cols[0].name)}) FROM (SELECT * FROM ({sub_sql}) LIMIT 2) AS x)"), cols[0].ty

    def c_Select(self, node: exp.Select, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self.c_Subquery(exp.Subquery(this=node), scope)

    def c_Case(self, node: exp.Case, scope: Scope) -> tuple[exp.Expression, Ty]:
        subject = node.this
        subject_out = subject_t = None
        if subject is not None:
            subject_out, subject_t = self.compile(subject, scope)
        conds = []
        results: list[tuple[exp.Expression, Ty]] = []
        for branch in node.args.get("ifs") or []:
            if subject_out is not None and subject_t is not None:
                when, wt = self.compile(branch.this, scope)
                cond = self.comparison("=", subject_out, subject_t, when, wt)
            else:
                cond = self.condition(branch.this, scope)
            conds.append(cond)
            results.append(self.compile(branch.args["true"], scope))
        default = node.args.get("default")
        default_c = self.compile(default, scope) if default is not None else None
        result = ty.UNKNOWN
        for _, t in results + ([default_c] if default_c else []):
            result = ty.common_type(result, t)
        if result.oid == T.UNKNOWN:
            result = ty.TEXT
        ifs = [
            exp.If(this=c, true=self.coerce(r, t, result)) for c, (r, t) in zip(conds, results, strict=True)
        ]
        out = exp.Case(ifs=ifs)
        if default_c is not None:
            out.set("default", self.coerce(default_c[0], default_c[1], result))
        return out, result

    def _like(self, node: exp.Expression, scope: Scope, insensitive: bool,
              escape: exp.Expression | None = None) -> tuple[exp.Expression, Ty]:
        value, vt = self.compile(node.this, scope)
        pattern, pt = self.compile(node.expression, scope)
        # bpcharlike matches the blank-padded value: 'a'::char(3) LIKE 'a' is false
        value = value if vt.oid == T.BPCHAR else self.coerce(value, vt, ty.TEXT)
        pattern = self.coerce(pattern, pt, ty.TEXT)
        esc = exp.Literal.string("\\") if escape is None else self.typed(escape, scope, ty.TEXT)
        if not insensitive and escape is None and is_string_literal(pattern):
            glob = _like_to_glob(pattern.this)
            if glob is not None:
                return raw(f"({self.sql(value)} GLOB {self.sql(exp.Literal.string(glob))})"), ty.BOOL
        return fn("pg_like", value, pattern, esc, lit_int(1 if insensitive else 0)), ty.BOOL

    def c_Like(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._like(node, scope, False)

    def c_ILike(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._like(node, scope, True)

    def c_Escape(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        inner = node.this
        if isinstance(inner, exp.SimilarTo):
            return self.similar_to(inner, scope, node.expression)
        out, t = self._like(inner, scope, isinstance(inner, exp.ILike), escape=node.expression)
        if inner.args.get("negate"):
            return exp.Not(this=exp.Paren(this=out)), t
        return out, t

    def c_WithinGroup(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        """percentile_cont / percentile_disc / mode() WITHIN GROUP (ORDER BY x): a Python
        aggregate that sorts the values itself (pg_ordered_set in functions/aggregate.py)."""
        call, order = node.this, node.expression
        name = call.name.lower() if isinstance(call, exp.Anonymous) else type(call).__name__.lower()
        items = order.expressions if isinstance(order, exp.Order) else []
        if name not in ("percentile_cont", "percentile_disc", "mode") or len(items) != 1:
            raise SqlError("0A000", f"{name}() WITHIN GROUP is not supported")
        ordered = items[0]
        value, vt = self.compile(ordered.this if isinstance(ordered, exp.Ordered) else ordered, scope)
        desc = lit_int(1 if isinstance(ordered, exp.Ordered) and ordered.args.get("desc") else 0)
        if name == "mode":
            if call.expressions:
                raise SqlError("42883", "function mode(unknown) does not exist")
            fraction: exp.Expression = exp.Null()
        else:
            if len(call.expressions) != 1:
                raise SqlError("42883", f"function {name} does not exist")
            fraction = self.typed(call.expressions[0], scope, ty.FLOAT8)
        if name == "percentile_cont":
            if vt.oid not in (*ty.INTS, *ty.FLOATS, T.NUMERIC, T.UNKNOWN):
                raise SqlError("42883", f"function percentile_cont(double precision ORDER BY "
                                        f"{T.format_type(vt.oid)}) does not exist")
            value, vt = self.coerce(value, vt, ty.FLOAT8), ty.FLOAT8
        numeric = lit_int(1 if vt.oid == T.NUMERIC else 0)
        kind = exp.Literal.string(name)
        return fn("pg_ordered_set", value, fraction, desc, numeric, kind), vt if vt.oid != T.UNKNOWN else ty.TEXT

    def c_Overlaps(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        """(start1, end1) OVERLAPS (start2, end2); an end may be an interval (start + it)."""
        pairs = []
        for side in (node.this, node.expression):
            items = list(side.expressions) if isinstance(side, exp.Tuple) else []
            if len(items) != 2:
                raise SqlError("42601", "wrong number of parameters on left side of OVERLAPS expression")
            pairs.append([self.compile(item, scope) for item in items])
        kinds = {t.oid for pair in pairs for _, t in pair}
        target = ty.TIMESTAMPTZ if T.TIMESTAMPTZ in kinds else (ty.TIME if kinds <= {T.TIME, T.INTERVAL, T.UNKNOWN}
                                                                  and T.TIME in kinds else ty.TIMESTAMP)
        args: list[exp.Expression] = []
        for (start, st), (end, et) in pairs:
            start = self.coerce(start, st, target)
            if et.oid == T.INTERVAL:
                end = fn("pg_ts_add", start, end, lit_int(target.oid))
            else:
                end = self.coerce(end, et, target)
            args += [start, end]
        return fn("pg_overlaps", *args, lit_int(target.oid)), ty.BOOL

    def pattern_subject(self, node: exp.Expression, scope: Scope) -> exp.Expression:
        """The text a pattern operator matches: bpchar keeps its blank padding (bpcharregexeq)."""
        value, vt = self.compile(node, scope)
        return value if vt.oid == T.BPCHAR else self.coerce(value, vt, ty.TEXT)

    def _typed_binary(self, op: str, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty] | None:
        """An operator sqlglot reads as an array/json one, on inet/bit/range operands (else None)."""
        left, lt = self.compile(node.this, scope)
        right, rt = self.compile(node.expression, scope)
        family = TYPED_OPERATORS.get(lt.oid) or TYPED_OPERATORS.get(rt.oid)
        if family is None:
            return None
        return family(cast("ExprCompiler", self), op, left, lt, right, rt)

    def _typed_only(self, op: str, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        out = self._typed_binary(op, node, scope)
        if out is None:
            _, lt = self.compile(node.this, scope)
            _, rt = self.compile(node.expression, scope)
            raise SqlError("42883", f"operator does not exist: {T.format_type(lt.oid)} {op} {T.format_type(rt.oid)}")
        return out

    def c_ExtendsLeft(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._typed_only("&<", node, scope)

    def c_ExtendsRight(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._typed_only("&>", node, scope)

    def c_ContainedByOrEquals(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._typed_only("<<=", node, scope)

    def c_ContainsOrEquals(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._typed_only(">>=", node, scope)

    def c_Adjacent(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._typed_only("-|-", node, scope)

    def c_ArrayOverlaps(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._typed_binary("&&", node, scope) or super().c_ArrayOverlaps(node, scope)  # type: ignore[misc]

    def c_ArrayContainsAll(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._typed_binary("@>", node, scope) or super().c_ArrayContainsAll(node, scope)  # type: ignore[misc]

    def c_ArrayContainedBy(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self._typed_binary("<@", node, scope) or super().c_ArrayContainedBy(node, scope)  # type: ignore[misc]

    def c_SimilarTo(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self.similar_to(node, scope, None)

    def similar_to(self, node: exp.Expression, scope: Scope,
                   escape: exp.Expression | None) -> tuple[exp.Expression, Ty]:
        """x SIMILAR TO pattern [ESCAPE e] (similar_to_regex in functions/regex.py)."""
        args = [self.pattern_subject(node.this, scope), self.typed(node.expression, scope, ty.TEXT)]
        if escape is not None:
            args.append(self.typed(escape, scope, ty.TEXT))
        out = fn("pg_similar_to", *args)
        if node.args.get("negate"):
            return exp.Not(this=exp.Paren(this=out)), ty.BOOL
        return out, ty.BOOL

    def c_RegexpLike(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        value = self.pattern_subject(node.this, scope)
        pattern = self.typed(node.expression, scope, ty.TEXT)
        return fn("pg_regex", value, pattern, lit_int(0)), ty.BOOL

    def c_RegexpILike(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        value = self.pattern_subject(node.this, scope)
        pattern = self.typed(node.expression, scope, ty.TEXT)
        return fn("pg_regex", value, pattern, lit_int(1)), ty.BOOL

    def c_Collate(self, node: exp.Expression, scope: Scope) -> tuple[exp.Expression, Ty]:
        return self.compile(node.this, scope)
