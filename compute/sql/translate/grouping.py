"""PostgreSQL's grouping check (parse_agg.c check_ungrouped_columns): 42803.

In a query with GROUP BY, HAVING or an aggregate, every column of the query's own FROM items that is
used in the SELECT list, HAVING or ORDER BY outside an aggregate must be grouped, be inside a grouped
expression, or belong to a table whose primary key is grouped (functional dependency). SQLite would
return an arbitrary row's value instead.
"""

from __future__ import annotations

from sqlglot import exp

from compute.sql.api import SqlError
from compute.sql.translate.scope import Scope, Source

AGGREGATES = frozenset({
    "count", "sum", "avg", "min", "max", "bool_and", "bool_or", "every", "string_agg", "array_agg",
    "json_agg", "jsonb_agg", "json_object_agg", "jsonb_object_agg", "stddev", "stddev_samp", "stddev_pop",
    "variance", "var_samp", "var_pop", "bit_and", "bit_or", "percentile_cont", "percentile_disc", "mode",
    "xmlagg", "corr", "covar_pop", "covar_samp", "regr_count",
    "__grouping_null",  # grouping_sets.py: a grouping column outside this grouping set (NULL)
})

_SUBQUERY = (exp.Select, exp.Subquery, exp.SetOperation)


def is_aggregate(node: exp.Expression) -> bool:
    if isinstance(node, exp.Filter):  # agg(...) FILTER (WHERE ...)
        return is_aggregate(node.this)
    if isinstance(node, exp.WithinGroup):  # percentile_cont(...) WITHIN GROUP (ORDER BY ...)
        return True
    if isinstance(node, exp.AggFunc):
        return True
    return isinstance(node, exp.Anonymous) and node.name.lower() in AGGREGATES


def _has_aggregate(node: exp.Expression) -> bool:
    if is_aggregate(node):
        return True
    if isinstance(node, (exp.Window, *_SUBQUERY)):
        return False
    return any(_has_aggregate(child) for child in node.iter_expressions())


has_aggregate = _has_aggregate


def _sources_of(col: exp.Column, scope: Scope) -> list[Source]:
    if col.table:
        return [s for s in scope.sources if s.alias == col.table]
    return [s for s in scope.sources if s.find(col.name) is not None]


def _normalize(node: exp.Expression, scope: Scope) -> str:
    """Expression text with column references qualified by the FROM item they resolve to."""
    copy = node.copy()
    for col in list(copy.find_all(exp.Column)):
        if isinstance(col.this, exp.Star):
            continue
        srcs = _sources_of(col, scope)
        if len(srcs) == 1:
            col.set("table", exp.to_identifier(srcs[0].alias))
    return copy.sql(dialect="postgres")


def check_grouping(node: exp.Select, scope: Scope) -> None:
    group = node.args.get("group")
    group_items = list(group.expressions) if group is not None else []
    having = node.args.get("having")
    select_items = list(node.expressions)
    if not group_items and having is None and not any(_has_aggregate(e) for e in select_items):
        return
    if not scope.sources:
        return
    if any(not isinstance(g, (exp.Expression,)) or isinstance(g, (exp.Rollup, exp.Cube, exp.GroupingSets))
           for g in group_items) or group is not None and any(group.args.get(k) for k in ("rollup", "cube",
                                                                                          "grouping_sets")):
        return
    aliases = {}
    for item in select_items:
        if isinstance(item, exp.Alias):
            aliases[item.alias] = item.this
    grouped_exprs: set[str] = set()
    grouped_cols: set[tuple[str, str]] = set()
    for g in group_items:
        target = g
        if isinstance(g, exp.Literal) and not g.is_string:
            index = int(g.this) - 1
            if not 0 <= index < len(select_items):
                return  # 42P10 is raised by the compiler
            target = select_items[index]
            target = target.this if isinstance(target, exp.Alias) else target
        elif isinstance(g, exp.Column) and not g.table and not _sources_of(g, scope) and g.name in aliases:
            target = aliases[g.name]
        grouped_exprs.add(_normalize(target, scope))
        if isinstance(target, exp.Column) and not isinstance(target.this, exp.Star):
            for src in _sources_of(target, scope):
                grouped_cols.add((src.alias, target.name))
    dependent: set[str] = set()
    for src in scope.sources:
        pk = src.table.primary_key if src.table is not None else None
        if pk is not None and pk.columns and all((src.alias, c) in grouped_cols for c in pk.columns):
            dependent.add(src.alias)

    def column_ok(src: Source, name: str) -> bool:
        return src.alias in dependent or (src.alias, name) in grouped_cols

    def fail(src: Source, name: str) -> None:
        raise SqlError("42803", f'column "{src.alias}.{name}" must appear in the GROUP BY clause or be used in an '
                                f"aggregate function")

    def check(expr: exp.Expression) -> None:
        if isinstance(expr, _SUBQUERY) or is_aggregate(expr):
            return
        if isinstance(expr, exp.Star) or isinstance(expr, exp.Column) and isinstance(expr.this, exp.Star):
            table = expr.table if isinstance(expr, exp.Column) else ""
            for src in scope.sources:
                if table and src.alias != table:
                    continue
                for col in src.columns:
                    if not column_ok(src, col.name) and col.name not in src.hidden_using:
                        fail(src, col.name)
            return
        if not isinstance(expr, (exp.Literal, exp.Boolean, exp.Null)) and _normalize(expr, scope) in grouped_exprs:
            return
        if isinstance(expr, exp.Column):
            srcs = _sources_of(expr, scope)
            if not srcs:
                return  # an outer reference or an output name
            if not any(column_ok(s, expr.name) for s in srcs):
                fail(srcs[0], expr.name)
            return
        for child in expr.iter_expressions():
            check(child)

    for item in select_items:
        check(item.this if isinstance(item, exp.Alias) else item)
    if having is not None:
        check(having.this)
    order = node.args.get("order")
    if order is not None:
        for ordered in order.expressions:
            target = ordered.this if isinstance(ordered, exp.Ordered) else ordered
            if isinstance(target, exp.Literal):
                continue
            if isinstance(target, exp.Column) and not target.table and target.name in scope.outputs:
                continue
            check(target)
