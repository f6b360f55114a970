"""Deparse stored PostgreSQL expressions the way PostgreSQL's ruleutils.c prints them.

The catalog keeps defaults, CHECK constraints, index expressions and predicates as the
PostgreSQL text the user wrote. ``pg_get_expr``/``pg_get_constraintdef``/``pg_get_indexdef``
must print what PostgreSQL prints (psql's ``\\d``, SQLAlchemy and Django read them), which is the
*analysed* expression: literals carry their resolved type (``'x'::text``), implicit casts that
operator resolution added are shown (``f::text <> ''::text``), ``IN`` lists become
``= ANY (ARRAY[...])``, ``BETWEEN`` becomes two comparisons, and non-pretty output
parenthesises every operator. This module re-does that analysis for the common cases with a
small type resolver over sqlglot trees.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlglot import exp

import compute.sql.types as ty
from compute import pgtypes as T
from compute.sql.translate.parse import parse

# numeric "rank" for operator resolution between number types
_NUM_RANK = {T.INT2: 1, T.INT4: 2, T.INT8: 3, T.NUMERIC: 4, T.FLOAT4: 5, T.FLOAT8: 6}
_INTS = (T.INT2, T.INT4, T.INT8)
_STRINGISH = (T.TEXT, T.VARCHAR, T.NAME)

_COMPARE: dict[type[exp.Expression], str] = {exp.EQ: "=", exp.NEQ: "<>", exp.GT: ">", exp.GTE: ">=", exp.LT: "<", exp.LTE: "<="}
_ARITH: dict[type[exp.Expression], str] = {exp.Add: "+", exp.Sub: "-", exp.Mul: "*", exp.Div: "/", exp.Mod: "%", exp.DPipe: "||"}
_PREC = {"OR": 1, "AND": 2, "NOT": 3, "CMP": 4, "IS": 5, "+": 6, "-": 6, "||": 6, "*": 7, "/": 7, "%": 7}

# result type of functions (arguments of text functions are coerced to text)
_TEXT_FUNCS = {"lower", "upper", "btrim", "ltrim", "rtrim", "trim", "initcap", "md5", "replace", "substr",
               "substring", "left", "right", "reverse", "concat", "repeat"}
_FUNC_TYPES = {
    "now": T.TIMESTAMPTZ, "transaction_timestamp": T.TIMESTAMPTZ, "statement_timestamp": T.TIMESTAMPTZ,
    "clock_timestamp": T.TIMESTAMPTZ, "gen_random_uuid": T.UUID, "uuid_generate_v4": T.UUID,
    "char_length": T.INT4, "length": T.INT4, "octet_length": T.INT4, "character_length": T.INT4,
    "nextval": T.INT8, "random": T.FLOAT8, "abs": 0, "coalesce": 0, "date_trunc": T.TIMESTAMP,
}
_SQL_VALUE_FUNCS = {
    exp.CurrentTimestamp: ("CURRENT_TIMESTAMP", T.TIMESTAMPTZ),
    exp.CurrentDate: ("CURRENT_DATE", T.DATE),
    exp.CurrentTime: ("CURRENT_TIME", T.TIMETZ),
    exp.CurrentUser: ("CURRENT_USER", T.NAME),
}


@dataclass
class _Out:
    text: str
    oid: int  # PostgreSQL type; T.UNKNOWN for an untyped string literal
    prec: int = 100  # operator precedence of the top node (100 = atom)
    literal: str | None = None  # raw value of an unknown-typed string literal / number constant
    const: bool = False  # a constant (folded casts print as constant labels)


class Deparser:
    """Deparse one expression over the columns of one relation."""

    def __init__(self, columns: Mapping[str, tuple[int, int]], pretty: bool, timezone: str = "UTC") -> None:
        self.columns = columns
        self.pretty = pretty
        self.timezone = timezone

    # ------------------------------------------------------------------ entry points
    def default(self, text: str, type_oid: int, typmod: int) -> str:
        node = _parse(text)
        out = self.expr(node)
        if out.oid == T.UNKNOWN and out.literal is not None:
            target = T.TEXT if type_oid == T.VARCHAR else type_oid
            return self._const_label(out.literal, T.VARCHAR if type_oid == T.VARCHAR else target, pretty=True)
        return out.text

    def condition(self, text: str) -> str:
        return self.expr(_parse(text)).text

    # ------------------------------------------------------------------ helpers
    def _wrap(self, text: str, prec: int, parent: int) -> str:
        if not self.pretty:
            return text if prec == 100 or text.startswith("(") and prec >= 100 else f"({text})"
        return f"({text})" if prec < parent else text

    def _op(self, left: str, op: str, right: str, prec: int) -> str:
        text = f"{left} {op} {right}"
        return text if self.pretty else f"({text})"

    def _const_label(self, value: str, oid: int, pretty: bool | None = None) -> str:
        """A constant of type ``oid`` as ruleutils.c get_const_expr prints it: non-negative
        integers, float-looking numerics and booleans bare, anything else quoted with its type."""
        value = self._canonical(value, oid)
        if oid == T.INT4 and value[:1].isdigit():
            return value
        if oid == T.NUMERIC and value[:1].isdigit() and any(c in value for c in ".eE"):
            return value
        if oid == T.BOOL and value in ("t", "f"):
            return "true" if value == "t" else "false"
        return f"'{value.replace(chr(39), chr(39) * 2)}'::{T.format_type(oid)}"

    def _canonical(self, value: str, oid: int) -> str:
        if oid in (T.TEXT, T.VARCHAR, T.BPCHAR, T.NAME, T.UNKNOWN):
            return value
        try:
            stored = T.decode_text(oid, value.encode(), self.timezone)
            return T.encode_text(oid, stored).decode()
        except Exception:  # not a valid literal of the type: print as written
            return value

    def _coerce(self, out: _Out, oid: int) -> str:
        """``out`` as an operand of type ``oid`` (adds the cast PostgreSQL shows)."""
        if out.oid == oid or oid == 0:
            return out.text
        if out.oid == T.UNKNOWN and out.literal is not None:
            return self._const_label(out.literal, oid)
        if out.const and out.literal is not None and out.oid in _NUM_RANK:
            num = out.literal
            return f"{num}::{T.format_type(oid)}" if self.pretty else f"({num})::{T.format_type(oid)}"
        inner = out.text if self.pretty and out.prec == 100 else f"({out.text})"
        return f"{inner}::{T.format_type(oid)}"

    def _resolve(self, a: _Out, b: _Out) -> tuple[int, int]:
        """Operand types of a binary operator (PostgreSQL's operator resolution, simplified)."""
        if a.oid == T.UNKNOWN and b.oid == T.UNKNOWN:
            return T.TEXT, T.TEXT
        if a.oid == T.UNKNOWN:
            t = T.TEXT if b.oid in _STRINGISH else b.oid
            return t, t
        if b.oid == T.UNKNOWN:
            t = T.TEXT if a.oid in _STRINGISH else a.oid
            return t, t
        if a.oid in _NUM_RANK and b.oid in _NUM_RANK:
            if a.oid in _INTS and b.oid in _INTS:
                return a.oid, b.oid
            t = a.oid if _NUM_RANK[a.oid] >= _NUM_RANK[b.oid] else b.oid
            return t, t
        if a.oid in _STRINGISH and b.oid in _STRINGISH:
            return T.TEXT, T.TEXT
        return a.oid, b.oid

    # ------------------------------------------------------------------ expressions
    def expr(self, node: exp.Expression) -> _Out:
        if isinstance(node, exp.Paren):
            return self.expr(node.this)
        if isinstance(node, exp.Column):
            name = node.name
            oid = self.columns.get(name, (0, -1))[0]
            return _Out(ident(name), oid)
        if isinstance(node, exp.Literal):
            if node.is_string:
                return _Out(f"'{node.this}'", T.UNKNOWN, literal=node.this, const=True)
            text = node.this
            if "." in text or "e" in text.lower():
                return _Out(text, T.NUMERIC, literal=text, const=True)
            value = int(text)
            oid = T.INT4 if -(2**31) <= value < 2**31 else T.INT8
            return _Out(text, oid, literal=text, const=True)
        if isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string:
            inner = self.expr(node.this)
            if inner.oid == T.NUMERIC:
                return _Out(f"'-{inner.text}'::numeric", T.NUMERIC,
                            literal=f"-{inner.text}", const=True)
            return _Out(f"'-{inner.text}'::{T.format_type(inner.oid)}", inner.oid, literal=f"'-{inner.text}'",
                        const=False)
        if isinstance(node, exp.Boolean):
            return _Out("true" if node.this else "false", T.BOOL, const=True)
        if isinstance(node, exp.Null):
            return _Out("NULL", T.UNKNOWN, const=True)
        for cls, (text, oid) in _SQL_VALUE_FUNCS.items():
            if isinstance(node, cls):
                return _Out(text, oid)
        if isinstance(node, exp.Cast):
            target = ty.resolve_type(node.args["to"])
            inner = self.expr(node.this)
            if inner.oid == T.UNKNOWN and inner.literal is not None:
                return _Out(self._const_label(inner.literal, target.oid), target.oid, const=True)
            return _Out(self._coerce(inner, target.oid) if inner.oid != target.oid else
                        f"{self._wrap(inner.text, inner.prec, 100)}::{T.format_type(target.oid, target.typmod)}",
                        target.oid)
        if isinstance(node, exp.And):
            return self._bool(node, "AND")
        if isinstance(node, exp.Or):
            return self._bool(node, "OR")
        if isinstance(node, exp.Not) and isinstance(node.this, exp.Is):
            inner = self.expr(node.this.this)
            target = node.this.expression
            word = "NULL" if isinstance(target, exp.Null) else target.sql().upper()
            text = f"{self._wrap(inner.text, inner.prec, _PREC['IS'])} IS NOT {word}"
            return _Out(text if self.pretty else f"({text})", T.BOOL, _PREC["IS"] if self.pretty else 100)
        if isinstance(node, exp.Not):
            inner = self.expr(node.this)
            text = f"NOT {self._wrap(inner.text, inner.prec, _PREC['NOT'])}"
            return _Out(text if self.pretty else f"({text})", T.BOOL, _PREC["NOT"] if self.pretty else 100)
        if isinstance(node, exp.Is):
            inner = self.expr(node.this)
            target = node.expression
            word = "NULL" if isinstance(target, exp.Null) else target.sql().upper()
            word = f"NOT {word}" if node.args.get("negate") else word
            text = f"{self._wrap(inner.text, inner.prec, _PREC['IS'])} IS {word}"
            return _Out(text if self.pretty else f"({text})", T.BOOL, _PREC["IS"] if self.pretty else 100)
        for compare, op in _COMPARE.items():
            if isinstance(node, compare):
                return self._binary(node.this, op, node.expression, _PREC["CMP"], T.BOOL)
        for arith, op in _ARITH.items():
            if isinstance(node, arith):
                return self._binary(node.this, op, node.expression, _PREC[op], None)
        if isinstance(node, exp.Like):
            return self._binary(node.this, "~~", node.expression, _PREC["CMP"], T.BOOL, text_only=True)
        if isinstance(node, exp.ILike):
            return self._binary(node.this, "~~*", node.expression, _PREC["CMP"], T.BOOL, text_only=True)
        if isinstance(node, exp.Between):
            low = exp.GTE(this=node.this, expression=node.args["low"])
            high = exp.LTE(this=node.this.copy(), expression=node.args["high"])
            return self._bool(exp.And(this=low, expression=high), "AND")
        if isinstance(node, exp.In) and node.expressions:
            return self._in(node)
        if isinstance(node, (exp.Anonymous, exp.Func)):
            return self._func(node)
        return _Out(node.sql(dialect="postgres"), 0)

    def _bool(self, node: exp.Expression, word: str) -> _Out:
        parts: list[exp.Expression] = []

        def flatten(n: exp.Expression) -> None:
            while isinstance(n, exp.Paren):
                n = n.this
            if type(n) is type(node):
                flatten(n.this)
                flatten(n.expression)
            else:
                parts.append(n)

        flatten(node)
        prec = _PREC[word]
        texts = [self.expr(p) for p in parts]
        text = f" {word} ".join(self._wrap(t.text, t.prec, prec + 1) if self.pretty else t.text for t in texts)
        if not self.pretty:
            return _Out(f"({text})", T.BOOL, 100)
        return _Out(text, T.BOOL, prec)

    def _binary(self, left_node: exp.Expression, op: str, right_node: exp.Expression, prec: int,
                result: int | None, text_only: bool = False) -> _Out:
        a, b = self.expr(left_node), self.expr(right_node)
        if text_only:
            ta = tb = T.BPCHAR if a.oid == T.BPCHAR else T.TEXT
        elif op == "||":
            ta = tb = T.TEXT
        else:
            ta, tb = self._resolve(a, b)
        left = self._coerce(a, ta) if ta != a.oid else a.text
        right = self._coerce(b, tb) if tb != b.oid else b.text
        if self.pretty:
            left = left if a.oid != ta or a.prec >= prec else f"({left})"
            right = right if b.oid != tb or b.prec > prec else f"({right})"
        out_oid = result if result is not None else (T.TEXT if op == "||" else ta)
        return _Out(self._op(left, op, right, prec), out_oid, prec if self.pretty else 100)

    def _in(self, node: exp.In) -> _Out:
        subject = self.expr(node.this)
        items = [self.expr(e) for e in node.expressions]
        elem = subject.oid
        if elem == T.UNKNOWN or elem in _STRINGISH:
            elem = T.TEXT
        for item in items:
            if item.oid in _NUM_RANK and elem in _NUM_RANK and _NUM_RANK[item.oid] > _NUM_RANK[elem]:
                elem = item.oid
        left = self._coerce(subject, elem) if subject.oid != elem else subject.text
        values = ", ".join(self._coerce(i, elem) if i.oid != elem else i.text for i in items)
        negate = node.args.get("negate")
        text = f"{left} {'<>' if negate else '='} {'ALL' if negate else 'ANY'} (ARRAY[{values}])"
        return _Out(text if self.pretty else f"({text})", T.BOOL, _PREC["CMP"] if self.pretty else 100)

    def _func(self, node: exp.Expression) -> _Out:
        name = (node.name if isinstance(node, exp.Anonymous) else type(node).__name__).lower()
        args = list(node.expressions) if isinstance(node, exp.Anonymous) else [
            a for a in node.args.values() if isinstance(a, exp.Expression)]
        outs = [self.expr(a) for a in args]
        texts = []
        for out in outs:
            if name in _TEXT_FUNCS or name in ("char_length", "length", "character_length", "octet_length"):
                texts.append(self._coerce(out, T.TEXT) if out.oid != T.TEXT else out.text)
            elif name == "nextval" and out.oid == T.UNKNOWN and out.literal is not None:
                texts.append(f"'{out.literal}'::regclass")
            else:
                texts.append(out.text)
        oid = T.TEXT if name in _TEXT_FUNCS else _FUNC_TYPES.get(name, 0)
        if oid == 0 and outs:
            oid = outs[0].oid
        return _Out(f"{name}({', '.join(texts)})", oid)


def ident(name: str) -> str:
    if name.isidentifier() and name == name.lower() and name.isascii():
        return name
    return '"' + name.replace('"', '""') + '"'


def _parse(text: str) -> exp.Expression:
    node = parse("SELECT " + text)
    assert isinstance(node, exp.Select)
    return node.expressions[0]


def deparse_default(text: str, type_oid: int, typmod: int, pretty: bool, timezone: str = "UTC") -> str:
    """pg_get_expr(adbin) of a column default."""
    if not text.startswith("nextval("):
        try:
            text = Deparser({}, pretty, timezone).default(text, type_oid, typmod)
        except Exception:  # an expression we cannot analyse: print it as stored
            pass
    # a regclass prints unqualified when its schema (public) is on the search path
    return text.replace("nextval('public.", "nextval('")


def deparse_condition(text: str, columns: Mapping[str, tuple[int, int]], pretty: bool,
                      timezone: str = "UTC") -> str:
    """A boolean expression (CHECK, index predicate) over a relation's columns."""
    try:
        return Deparser(columns, pretty, timezone).condition(text)
    except Exception:  # an expression we cannot analyse: print it as stored
        return text if pretty else f"({text})"


def deparse_index_expr(text: str, columns: Mapping[str, tuple[int, int]], pretty: bool) -> str:
    """An index key expression: function calls bare, anything else in parentheses."""
    try:
        node = _parse(text)
        out = Deparser(columns, True).expr(node)
    except Exception:  # an expression we cannot analyse: print it as stored
        return f"({text})"
    if isinstance(node, (exp.Anonymous, exp.Func)) and not isinstance(node, exp.Binary) or out.prec == 100:
        return out.text
    return f"({out.text})" if pretty else f"(({out.text}))"


def deparse_view(text: str, visible: Callable[[str, str], bool] | None = None) -> str:
    """pg_get_viewdef: PostgreSQL 15 layout (columns qualified by their relation when unambiguous).

    ``visible(schema, name)`` tells whether the search path finds a relation by its bare name;
    those it does not find print qualified, as PostgreSQL prints them."""
    try:
        node = _parse_statement(text)
    except Exception:  # keep what the user wrote
        return f" {text};"
    if not isinstance(node, exp.Select):
        return f" {node.sql(dialect='postgres')};"
    tables = [t for t in node.find_all(exp.Table)]
    qualifier = (tables[0].alias_or_name if len(tables) == 1 else None)
    ctes = {c.alias_or_name for c in node.find_all(exp.CTE)}
    for table in tables:
        if visible is None or not isinstance(table.this, exp.Identifier) or not table.db and table.name in ctes:
            continue
        schema = table.db or "public"
        table.set("db", None if visible(schema, table.name) else exp.to_identifier(schema))
    if qualifier:
        for col in node.find_all(exp.Column):
            if not col.table:
                col.set("table", exp.to_identifier(qualifier))
    items = []
    for item in node.expressions:
        text_item = item.sql(dialect="postgres")
        if isinstance(item, exp.Column) or (isinstance(item, exp.Alias) and item.this.sql(dialect="postgres") == text_item):
            pass
        if isinstance(item, exp.Alias) and isinstance(item.this, exp.Column) and item.this.name == item.alias:
            text_item = item.this.sql(dialect="postgres")
        items.append(text_item)
    out = " SELECT " + ",\n    ".join(items)
    from_ = node.args.get("from_") or node.args.get("from")
    if from_ is not None:
        out += "\n   FROM " + from_.this.sql(dialect="postgres")
        for join in node.args.get("joins") or []:
            out += "\n     " + join.sql(dialect="postgres")
    where = node.args.get("where")
    if where is not None:
        out += "\n  WHERE " + where.this.sql(dialect="postgres")
    group = node.args.get("group")
    if group is not None:
        out += "\n  GROUP BY " + ", ".join(e.sql(dialect="postgres") for e in group.expressions)
    order = node.args.get("order")
    if order is not None:
        out += "\n  ORDER BY " + ", ".join(e.sql(dialect="postgres") for e in order.expressions)
    return out + ";"


def view_relations(text: str) -> list[str]:
    """The relation names a view's query reads (its CTEs' own names left out): the view's
    dependencies, as pg_depend lists them for its _RETURN rule."""
    try:
        node = _parse_statement(text)
    except Exception:  # a query we cannot analyse: no dependencies known
        return []
    ctes = {c.alias_or_name for c in node.find_all(exp.CTE)}
    names = {f"{t.db}.{t.name}" if t.db and t.db != "public" else t.name  # schema.name outside public
             for t in node.find_all(exp.Table) if t.name and (t.db or t.name not in ctes)}
    return sorted(names)


def _parse_statement(text: str) -> exp.Expression:
    return parse(text)
