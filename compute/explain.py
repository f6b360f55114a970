"""EXPLAIN [ANALYZE]: a ``QUERY PLAN`` column built from SQLite's EXPLAIN QUERY PLAN.

The plan is SQLite's (one node per EXPLAIN QUERY PLAN row, children under their parent), not
PostgreSQL's; the shape (one column named QUERY PLAN, text, json or xml, one row per line in FORMAT
TEXT, one document in FORMAT JSON / YAML / XML, tag EXPLAIN) and the errors are PostgreSQL's. ANALYZE
runs the statement first (an INSERT inserts) and adds the timings.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from compute.sql.api import Kind, Translation
from compute.transaction import Result, bindable

if TYPE_CHECKING:
    from compute.session import Session

Node = dict[str, Any]  # "Node Type", optional "Actual Rows" / "Actual Loops", optional "Plans"


def plan_tree(rows: list[tuple[Any, ...]], tag: str) -> Node:
    """SQLite's (id, parent, notused, detail) rows as one plan tree (PostgreSQL's node names
    "ModifyTable" / "Result" stand over several roots or a data-changing statement)."""
    nodes: dict[int, Node] = {}
    roots: list[Node] = []
    for row in rows:
        node: Node = {"Node Type": str(row[3])}
        nodes[int(row[0])] = node
        parent = nodes.get(int(row[1]))
        if parent is None:
            roots.append(node)
        else:
            parent.setdefault("Plans", []).append(node)
    if tag in ("INSERT", "UPDATE", "DELETE"):
        top: Node = {"Node Type": "ModifyTable", "Operation": tag.capitalize()}
        if roots:
            top["Plans"] = roots
        return top
    if len(roots) == 1:
        return roots[0]
    return {"Node Type": "Result", **({"Plans": roots} if roots else {})}


def _text_lines(node: Node, level: int = 0) -> list[str]:
    label = node["Node Type"] if "Operation" not in node else node["Operation"]
    if "Actual Rows" in node:
        label += f"  (actual rows={node['Actual Rows']} loops={node['Actual Loops']})"
    lines = [label if level == 0 else " " * (6 * level - 4) + "->  " + label]
    for child in node.get("Plans", []):
        lines.extend(_text_lines(child, level + 1))
    return lines


def _yaml(value: Any, indent: int) -> str:
    pad = " " * indent
    if isinstance(value, dict):
        return "\n".join(f"{pad}{key}: " + (_yaml(item, indent + 2)[indent + 2:] if not isinstance(item, list | dict)
                                              else "\n" + _yaml(item, indent + 2))
                         for key, item in value.items())
    if isinstance(value, list):
        return "\n".join(pad + "- " + _yaml(item, indent + 2)[indent + 2:] for item in value)
    if isinstance(value, str):
        return pad + json.dumps(value)
    return pad + (str(value).lower() if isinstance(value, bool) else str(value))


XML_NAMESPACE = "http://www.postgresql.org/2009/explain"


def _xml_tag(name: str) -> str:
    """PostgreSQL's ExplainXMLTag: a property name with every other character made a hyphen."""
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "_-.") else "-" for ch in name)


def _xml_escape(text: str) -> str:
    """PostgreSQL's escape_xml (explain.c): only &, < and > are replaced."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _xml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}"
    return _xml_escape(str(value))


def _xml_lines(tag: str, value: Any, indent: int) -> list[str]:
    """One property as PostgreSQL's XML format writes it: groups open and close on their own
    lines (an empty group too), lists of plans are <Plan> elements, two spaces per level."""
    pad = " " * indent
    name = _xml_tag(tag)
    if isinstance(value, dict):
        inner = [line for key, item in value.items() for line in _xml_lines(key, item, indent + 2)]
        return [f"{pad}<{name}>", *inner, f"{pad}</{name}>"]
    if isinstance(value, list):
        item_tag = "Plan" if tag == "Plans" else "Trigger"
        inner = [line for item in value for line in _xml_lines(item_tag, item, indent + 2)]
        return [f"{pad}<{name}>", *inner, f"{pad}</{name}>"]
    return [f"{pad}<{name}>{_xml_value(value)}</{name}>"]


def xml_document(document: list[Node]) -> str:
    """The EXPLAIN document in FORMAT XML, as PostgreSQL lays it out."""
    lines = [f'<explain xmlns="{XML_NAMESPACE}">']
    for query in document:
        lines.extend(_xml_lines("Query", query, 2))
    lines.append("</explain>")
    return "\n".join(lines)


async def run_explain(session: Session, tr: Translation, params: tuple[Any, ...]) -> Result:
    spec = tr.explain
    assert spec is not None
    statement = spec.statement
    if statement.kind is Kind.DECLARE_CURSOR and statement.cursor is not None:
        statement = statement.cursor.query
    bound = bindable(statement, params)
    timings: dict[str, float] = {}
    count: int | None = None
    if spec.analyze:
        started = time.perf_counter()
        ran = await session._run_sql(statement, bound)
        timings = {"Planning Time": 0.0, "Execution Time": (time.perf_counter() - started) * 1000.0}
        last = ran.tag.rsplit(" ", 1)[-1]
        count = len(ran.rows) if ran.rows is not None else (int(last) if last.isdigit() else 0)
    plan_rows: list[tuple[Any, ...]] = []
    if statement.steps:
        probe = replace(statement, kind=Kind.QUERY, steps=(f"EXPLAIN QUERY PLAN {statement.steps[-1]}",),
                        is_write=False, is_ddl=False)
        plan_rows = (await session._run_sql(probe, bound)).rows or []
    tree = plan_tree(plan_rows, statement.tag)
    if count is not None:
        tree = {**tree, "Actual Rows": count, "Actual Loops": 1}
    document: list[Node] = [{"Plan": tree}]
    if timings:  # PostgreSQL's order: Planning Time, Triggers, Execution Time
        document[0].update({"Planning Time": timings["Planning Time"], "Triggers": [],
                            "Execution Time": timings["Execution Time"]})
    if spec.format == "json":
        return Result("EXPLAIN", rows=[(json.dumps(document, indent=2),)], translation=tr)
    if spec.format == "xml":
        return Result("EXPLAIN", rows=[(xml_document(document),)], translation=tr)
    if spec.format == "yaml":
        return Result("EXPLAIN", rows=[(_yaml(document, 0),)], translation=tr)
    lines = _text_lines(tree) + [f"{name}: {ms:.3f} ms" for name, ms in timings.items()]
    return Result("EXPLAIN", rows=[(line,) for line in lines], translation=tr)
