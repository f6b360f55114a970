"""GROUP BY ROLLUP / CUBE / GROUPING SETS, which SQLite lacks, as a UNION ALL of plain GROUP BYs.

Each grouping set becomes one copy of the SELECT grouped by that set's expressions; in it, a
grouping expression that is not in the set reads as NULL (outside aggregate arguments), and
``GROUPING(a, b)`` becomes the constant bit mask PostgreSQL computes (1 = not grouped). ORDER BY,
LIMIT and OFFSET move to the union. Sets come in PostgreSQL's order (ROLLUP from the longest
prefix down, CUBE by decreasing size as PostgreSQL expands it).
"""

from __future__ import annotations

import itertools

from sqlglot import exp

from compute.sql.api import SqlError
from compute.sql.translate.grouping import is_aggregate

GroupingSet = list[exp.Expression]
GROUPING_NULL = "__grouping_null"


def has_grouping_sets(select: exp.Select) -> bool:
    group = select.args.get("group")
    return group is not None and any(
        isinstance(item, (exp.Rollup, exp.Cube, exp.GroupingSets)) for item in group.expressions)


def _members(node: exp.Expression) -> GroupingSet:
    """A grouping element: `a`, `(a, b)` (a composite), or `()` (the empty set)."""
    if isinstance(node, exp.Tuple):
        return list(node.expressions)
    if isinstance(node, exp.Paren):
        return _members(node.this)
    return [node]


def _sets_of(item: exp.Expression) -> list[GroupingSet]:
    if isinstance(item, exp.Rollup):
        parts = [_members(e) for e in item.expressions]
        return [[m for part in parts[:n] for m in part] for n in range(len(parts), -1, -1)]
    if isinstance(item, exp.Cube):
        parts = [_members(e) for e in item.expressions]
        out: list[GroupingSet] = []
        for size in range(len(parts), -1, -1):
            for combo in itertools.combinations(range(len(parts)), size):
                out.append([m for i in combo for m in parts[i]])
        return out
    if isinstance(item, exp.GroupingSets):
        nested: list[GroupingSet] = []
        for element in item.expressions:
            if isinstance(element, (exp.Rollup, exp.Cube, exp.GroupingSets)):
                nested.extend(_sets_of(element))
            else:
                nested.append(_members(element))
        return nested
    return [_members(item)]


def grouping_sets(group: exp.Group) -> list[GroupingSet]:
    """The cross product of the GROUP BY items' sets, in PostgreSQL's order."""
    result: list[GroupingSet] = [[]]
    for item in group.expressions:
        result = [left + right for left in result for right in _sets_of(item)]
    if len(result) > 4096:
        raise SqlError("54001", "too many grouping sets present (maximum 4096)")
    return result


def _key(node: exp.Expression) -> str:
    return node.sql(dialect="postgres").lower()


def _rewrite(node: exp.Expression, missing: set[str], grouped: list[str]) -> exp.Expression:
    """NULL for grouping expressions not in this set (not inside aggregates); GROUPING() folded."""
    def visit(current: exp.Expression) -> exp.Expression:
        if isinstance(current, exp.Anonymous) and current.name.lower() == "grouping" or \
                type(current).__name__ == "Grouping":
            args = list(current.expressions)
            mask = 0
            for arg in args:
                key = _key(arg)
                if key not in grouped and key not in missing:
                    raise SqlError("42803", "arguments to GROUPING must be grouping expressions of the "
                                            "associated query level")
                mask = (mask << 1) | (1 if key in missing else 0)
            return exp.Literal.number(mask)
        if is_aggregate(current) or isinstance(current, (exp.Subquery, exp.Select)):
            return current
        if _key(current) in missing:  # NULL, typed like the expression (see expressions.py)
            return exp.Anonymous(this=GROUPING_NULL, expressions=[current.copy()])
        for name, value in list(current.args.items()):
            if isinstance(value, exp.Expression):
                current.set(name, visit(value))
            elif isinstance(value, list):
                current.set(name, [visit(v) if isinstance(v, exp.Expression) else v for v in value])
        return current

    return visit(node)


def expand(select: exp.Select) -> exp.Expression:
    """The SELECT with grouping sets as a UNION ALL of one SELECT per grouping set."""
    group = select.args["group"]
    sets = grouping_sets(group)
    every = {_key(e): e for s in sets for e in s}
    branches: list[exp.Select] = []
    for members in sets:
        keys = [_key(e) for e in members]
        missing = set(every) - set(keys)
        branch = select.copy()
        for clause in ("order", "limit", "offset"):
            branch.set(clause, None)
        items: list[exp.Expression] = []
        for item in branch.expressions:
            inner = item.this if isinstance(item, exp.Alias) else item
            name = item.alias if isinstance(item, exp.Alias) else (
                inner.name if isinstance(inner, exp.Column) else
                "grouping" if isinstance(inner, exp.Anonymous) and inner.name.lower() == "grouping" else None)
            rewritten = _rewrite(inner, missing, keys)
            if isinstance(item, exp.Alias):
                items.append(exp.Alias(this=rewritten, alias=item.args["alias"]))
            elif rewritten is not inner and name:  # keep the column name `dept`/`grouping`
                items.append(exp.Alias(this=rewritten, alias=exp.to_identifier(name)))
            else:
                items.append(rewritten)
        branch.set("expressions", items)
        having = branch.args.get("having")
        if having is not None:
            branch.set("having", exp.Having(this=_rewrite(having.this, missing, keys)))
        if members:
            branch.set("group", exp.Group(expressions=[m.copy() for m in members]))
        else:
            branch.set("group", None)
            if having is None:  # one group of all rows even with no aggregate in the list
                branch.set("having", exp.Having(this=exp.true()))
        branches.append(branch)
    result: exp.Expression = branches[0]
    for branch in branches[1:]:
        result = exp.Union(this=result, expression=branch, distinct=False)
    for clause in ("order", "limit", "offset"):
        value = select.args.get(clause)
        if value is not None:
            result.set(clause, value.copy())
    return result
