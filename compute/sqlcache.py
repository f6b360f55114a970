"""Translation caches: by exact statement text, and by statement *shape*.

pgbench in simple-query mode (and most ORMs that inline literals) send the same statement
again and again with different constants: ``... WHERE aid = 4711``. Parsing each one with
sqlglot would cost far more than running it. The shape cache lifts numeric literals out of
the text (strings stay: their content can change a translation, e.g. ``'t'::boolean``), translates the shape once with the literals as parameters, and
checks that putting the literals back into the translated SQLite SQL gives exactly the full
translation of the original. Only shapes that pass that check are reused; everything else is
translated in full (and cached by exact text).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from compute.sql.api import Translation

if TYPE_CHECKING:
    from compute.sql import Catalog

_LITERAL = re.compile(
    r"""'(?:[^']|'')*'"""  # a standard string: skipped (E'', U&'', $$ disqualify)
    r"""|"(?:[^"]|"")*\""""  # a quoted identifier: skipped
    r"""|(?P<num>(?<![\w$.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.]))"""
)
_UNSAFE = re.compile(r"\$|--|/\*|\bE'|\bU&|\bB'|\bX'", re.IGNORECASE)
_QMARK = re.compile(r"\?(\d+)")


@dataclass(frozen=True, slots=True)
class _Shape:
    templates: tuple[Translation, ...]  # steps contain ?N for lifted literal N
    parts: tuple[tuple[tuple[str | int, ...], ...], ...]  # per template/step: text, literal no.


Full = Callable[[str, "Catalog", tuple[int, ...]], list[Translation]]
"""compute.sql.translate: (sql, catalog, declared parameter types) -> translations."""

EXACT_CACHE_ENTRIES = 4096  # statement texts (with catalog and parameter types) kept translated
SHAPE_CACHE_ENTRIES = 1024  # statement shapes kept, learned or known not to be reusable


class ShapeCache:
    """The database's translation cache: LRU by exact text and by shape, keyed by catalog
    content (its fingerprint), so any DDL anyone commits makes new entries; bounded in entries.
    """

    def __init__(self, exact_size: int = EXACT_CACHE_ENTRIES,
                 shape_size: int = SHAPE_CACHE_ENTRIES) -> None:
        self._exact: OrderedDict[tuple[str, str, tuple[int, ...]], list[Translation]] = OrderedDict()
        self._shapes: OrderedDict[tuple[str, str], _Shape | None] = OrderedDict()
        self._exact_size = exact_size
        self._shape_size = shape_size

    def __len__(self) -> int:
        return len(self._exact) + len(self._shapes)

    def translate(self, sql: str, catalog: Catalog, full: Full,
                  param_types: tuple[int, ...] = ()) -> list[Translation]:
        if param_types and not any(param_types):
            param_types = ()  # none declared: the same translation as none given
        version = catalog.fingerprint  # content digest: safe across rolled-back DDL
        key = (sql, version, param_types)
        exact = self._exact
        hit = exact.get(key)
        if hit is not None:
            exact.move_to_end(key)
            return hit
        lifted = _lift(sql) if not param_types else None
        if lifted is not None:
            shape_sql, literals = lifted
            skey = (shape_sql + "\x00" + "".join(map(_literal_class, literals)), version)
            shapes = self._shapes
            shape = shapes.get(skey, False)
            if shape is False:
                shape = self._learn(sql, shape_sql, literals, catalog, full)
                shapes[skey] = shape
                if len(shapes) > self._shape_size:
                    shapes.popitem(last=False)
            else:
                shapes.move_to_end(skey)
            if shape is not None:
                assert isinstance(shape, _Shape)
                return [_fill_parts(t, p, literals)
                        for t, p in zip(shape.templates, shape.parts, strict=True)]
        result = full(sql, catalog, param_types)
        exact[key] = result
        if len(exact) > self._exact_size:
            exact.popitem(last=False)
        return result

    def _learn(self, sql: str, shape_sql: str, literals: list[str], catalog: Catalog,
               full: Full) -> _Shape | None:
        """Translate the shape and accept it only if it reproduces the full translation."""
        try:
            original = full(sql, catalog, ())
            templates = full(shape_sql, catalog, ())
        except Exception:
            return None
        if len(original) != len(templates):
            return None
        parts = tuple(tuple(_split_step(step) for step in t.steps) for t in templates)
        if not _reproduces(original, templates, parts, literals):
            return None
        # The shape must not depend on the literals' values (a literal equal to its parameter
        # number can hide that: varchar(1) and varchar($1) translate alike). Check a second
        # set of values of the same classes against the full translation too.
        other = [_other_literal(lit) for lit in literals]
        other_sql = _substitute(shape_sql, other)
        if _UNSAFE.search(other_sql):  # "x -$1" with a negative literal would start a comment
            return None
        try:
            other_full = full(other_sql, catalog, ())
        except Exception:
            return None
        if len(other_full) != len(templates) or not _reproduces(other_full, templates, parts, other):
            return None
        return _Shape(tuple(replace(t, param_oids=()) for t in templates), parts)


def _reproduces(original: list[Translation], templates: list[Translation],
                parts: tuple[tuple[tuple[str | int, ...], ...], ...], literals: list[str]) -> bool:
    for orig, tmpl, tmpl_parts in zip(original, templates, parts, strict=True):
        filled = _fill_parts(tmpl, tmpl_parts, literals)  # the very code the hits use
        if (filled.steps != orig.steps or filled.columns != orig.columns
                or filled.kind != orig.kind or filled.tag != orig.tag
                or filled.is_write != orig.is_write or filled.copy is not None
                or orig.param_oids or filled.notices != orig.notices
                or filled.write_command != orig.write_command or filled.off_loop != orig.off_loop
                or filled.count_last_step != orig.count_last_step
                or filled.name != orig.name or filled.value != orig.value
                or filled.cursor != orig.cursor or filled.fetch != orig.fetch
                or filled.explain != orig.explain):
            return False
    return True


def _other_literal(literal: str) -> str:
    """A different literal of the same class (``_literal_class``) and, for integers, the same
    number of digits where possible."""
    sign = "-" if literal.startswith("-") else ""
    digits = literal.lstrip("-")
    if not digits.isdigit():
        return literal + "1" if "e" not in digits.lower() else literal.replace("e", "1e").replace("E", "1E")
    value = int(digits)
    changed = value + 1 if _literal_class(str(value + 1)) == _literal_class(digits) else value - 1
    return sign + str(changed)


def _substitute(shape_sql: str, literals: list[str]) -> str:
    """The shape with literals written back in place of $1..$n."""
    return re.sub(r"\$(\d+)", lambda m: literals[int(m.group(1)) - 1], shape_sql)


def _lift(sql: str) -> tuple[str, list[str]] | None:
    """Replace literals by $1..$n; None when the text has anything we don't lift safely."""
    if _UNSAFE.search(sql):
        return None
    literals: list[str] = []
    out: list[str] = []
    pos = 0
    for m in _LITERAL.finditer(sql):
        if m.lastgroup != "num":
            continue
        start = _unary_minus_start(sql, m.start(), pos)
        literals.append(sql[start : m.end()].replace(" ", ""))
        out.append(sql[pos:start])
        out.append(f"${len(literals)}")
        pos = m.end()
    if not literals:
        return None
    out.append(sql[pos:])
    return "".join(out), literals


_UNARY_CONTEXT = frozenset("(,=<>+-*/%")


def _unary_minus_start(sql: str, start: int, floor: int) -> int:
    """Where a literal starts if a unary minus precedes it (``+ -5``, ``(-5``, ``, -5``)."""
    i = start - 1
    while i >= floor and sql[i] == " ":
        i -= 1
    if i < floor or sql[i] != "-":
        return start
    j = i - 1
    while j >= floor and sql[j] == " ":
        j -= 1
    return i if j >= floor and sql[j] in _UNARY_CONTEXT else start


def _literal_class(literal: str) -> str:
    """Literals of one class translate alike: int4, int8, numeric (PostgreSQL's literal types),
    each negative or not (a negative literal is rendered in parentheses)."""
    sign = "-" if literal.startswith("-") else ""
    digits = literal.lstrip("-")
    if not digits.isdigit():
        return sign + "n"
    value = int(digits)
    return sign + ("i" if value <= 2**31 - 1 else ("b" if value <= 2**63 - 1 else "n"))


def _split_step(step: str) -> tuple[str | int, ...]:
    """A step as alternating text and 0-based literal indexes, for cheap filling."""
    pieces = _QMARK.split(step)  # text, number, text, number, ..., text
    return tuple(p if i % 2 == 0 else int(p) - 1 for i, p in enumerate(pieces))


def _fill_parts(template: Translation, parts: tuple[tuple[str | int, ...], ...],
                literals: list[str]) -> Translation:
    lits = [f"({lit})" if lit.startswith("-") else lit for lit in literals]
    steps = tuple("".join(p if isinstance(p, str) else lits[p] for p in step) for step in parts)
    return replace(template, steps=steps)

