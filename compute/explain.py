"""EXPLAIN [ANALYZE]: a ``QUERY PLAN`` text column built from SQLite's EXPLAIN QUERY PLAN.

The plan text is SQLite's (one line per plan node, children indented under ``->``), not
PostgreSQL's; the shape (one text column, one row per line, tag EXPLAIN) and the errors are
PostgreSQL's. ANALYZE runs the statement first (an INSERT inserts) and adds the timings.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from compute.sql.api import Kind, Translation
from compute.transaction import Result, bindable

if TYPE_CHECKING:
    from compute.session import Session


def plan_lines(rows: list[tuple[Any, ...]]) -> list[str]:
    """SQLite's (id, parent, notused, detail) rows as indented plan lines."""
    depth: dict[int, int] = {0: -1}
    lines: list[str] = []
    for row in rows:
        node, parent, detail = int(row[0]), int(row[1]), str(row[3])
        level = depth.get(parent, -1) + 1
        depth[node] = level
        lines.append(detail if level == 0 else "  " * (3 * level - 1) + "->  " + detail)
    return lines


async def run_explain(session: Session, tr: Translation, params: tuple[Any, ...]) -> Result:
    spec = tr.explain
    assert spec is not None
    statement = spec.statement
    if statement.kind is Kind.DECLARE_CURSOR and statement.cursor is not None:
        statement = statement.cursor.query
    bound = bindable(statement, params)
    header: list[str] = []
    if statement.tag in ("INSERT", "UPDATE", "DELETE"):
        header.append(statement.tag.capitalize())
    footer: list[str] = []
    if spec.analyze:
        started = time.perf_counter()
        ran = await session._run_sql(statement, bound)
        elapsed_ms = (time.perf_counter() - started) * 1000.0
        last = ran.tag.rsplit(" ", 1)[-1]
        count = len(ran.rows) if ran.rows is not None else (int(last) if last.isdigit() else 0)
        header = [f"{header[0] if header else 'Result'}  (actual rows={count} loops=1)"]
        footer = ["Planning Time: 0.000 ms", f"Execution Time: {elapsed_ms:.3f} ms"]
    lines = list(header)
    if statement.steps:
        probe = replace(statement, kind=Kind.QUERY, steps=(f"EXPLAIN QUERY PLAN {statement.steps[-1]}",),
                        is_write=False, is_ddl=False)
        plan = await session._run_sql(probe, bound)
        lines.extend(plan_lines(plan.rows or []))
    if not lines:
        lines.append("Result")
    lines.extend(footer)
    return Result("EXPLAIN", rows=[(line,) for line in lines], translation=tr)
