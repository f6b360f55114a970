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

from compute.sql.api import Kind, Translation

if TYPE_CHECKING:
    from compute.sql import Catalog

_LITERAL = re.compile(
    r"""'(?:[^']|'')*'"""  # a standard string: skipped (E'', U&'', $$ disqualify)
    r"""|"(?:[^"]|"")*\""""  # a quoted identifier: skipped
    r"""|(?P<num>(?<![\w$.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w.]))"""
)
_UNSAFE = re.compile(r"\$|--|/\*|\bE'|\bU&|\bB'|\bX'", re.IGNORECASE)
_QMARK = re.compile(r"\?(\d+)")
# _LITERAL's number alone, captured: in a text without quotes and minus signs it finds exactly
# what _LITERAL's "num" group finds, and re.split does the whole walk in C (the common case)
_NUMBER = re.compile(r"(?<![\w$.])(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)(?![\w.])")


@dataclass(frozen=True, slots=True)
class _Shape:
    templates: tuple[Translation, ...]  # steps contain ?N for lifted literal N
    parts: tuple[tuple[tuple[str | int, ...], ...], ...]  # per template/step: text, literal no.
    fast: bool = False  # one template, a single-step read: ``ShapeCache.fast_read`` serves it
    bind: bool = False  # fast, and its literals may be bound to the template's ?N (``_bindable``)
    write_bind: bool = False  # one single-step DML template whose literals may be bound
    # (``_bindable_write``): ``ShapeCache.fast_simple`` serves it


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
        if not param_types:
            found = self._shape_hit(sql, version, catalog, full)
            if found is not None:
                shape, literals = found
                return [_clone(t, _fill(p, literals))
                        for t, p in zip(shape.templates, shape.parts, strict=True)]
        result = full(sql, catalog, param_types)
        exact[key] = result
        if len(exact) > self._exact_size:
            exact.popitem(last=False)
        return result

    def fast_simple(self, sql: str, catalog: Catalog, full: Full,
                    lifted: tuple[str, list[str]] | None = None
                    ) -> tuple[Translation, str, tuple[int, ...]] | None:
        """The simple-query hot path: (the shape's template, a SQLite statement, its
        parameters) when ``sql`` is a known shape of one single-step read, or of one single-step
        INSERT/UPDATE/DELETE whose literals can be bound (``_bindable_write``), without building
        a Translation per statement (the template's columns, tag and flags are the full
        translation's: checked when the shape was learned). The statement is the template's own
        with the literals bound when that is the same statement (``_bindable``,
        ``_bindable_write``: SQLite then reuses one prepared statement instead of compiling each
        text, and a write in a transaction block is known as quick by its text), else, for a
        read, the filled text with no parameters. None otherwise: then ``translate`` (same
        answer). ``lifted``: ``lift(sql)`` if the caller has it already (not None)."""
        version = catalog.fingerprint
        if (sql, version, ()) in self._exact:
            return None
        found = self._shape_hit(sql, version, catalog, full, lifted)
        if found is None:
            return None
        shape, literals = found
        if shape.bind or shape.write_bind:
            return shape.templates[0], shape.templates[0].steps[0], tuple(map(int, literals))
        if shape.fast:
            return shape.templates[0], _fill_step(shape.parts[0][0], literals), ()
        return None

    def _shape_hit(self, sql: str, version: str, catalog: Catalog, full: Full,
                   lifted: tuple[str, list[str]] | None = None
                   ) -> tuple[_Shape, list[str]] | None:
        """The reusable shape of ``sql`` (learned now if new) and its literals, or None."""
        if lifted is None:
            lifted = lift(sql)
            if lifted is None:
                return None
        shape_sql, literals = lifted
        if len(literals) == 1 and len(literals[0]) < 10 and literals[0].isdigit():
            classes = "i"  # ``_literal_class`` of the usual single literal, without the call
        else:
            classes = "".join(map(_literal_class, literals))
        skey = (shape_sql + "\x00" + classes, version)
        shapes = self._shapes
        shape = shapes.get(skey, False)
        if shape is False:
            shape = self._learn(sql, shape_sql, literals, catalog, full)
            shapes[skey] = shape
            if len(shapes) > self._shape_size:
                shapes.popitem(last=False)
        else:
            shapes.move_to_end(skey)
        if shape is None:
            return None
        assert isinstance(shape, _Shape)
        return shape, literals

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
        kept = tuple(replace(t, param_oids=()) for t in templates)
        one = kept[0] if len(kept) == 1 else None
        fast = (one is not None and one.kind is Kind.QUERY and len(one.steps) == 1
                and not one.is_write and not one.off_loop and one.copy is None)
        bind = fast and all(_literal_class(lit) == "i" for lit in literals) and \
            _bindable(kept[0].steps[0], len(literals))
        write_bind = (one is not None and one.kind is Kind.COMMAND and len(one.steps) == 1
                      and one.is_write and not one.is_ddl and not one.off_loop and one.copy is None
                      and not one.columns and not one.after_rows and not one.count_last_step
                      and one.altered_table is None and not one.notices
                      and all(_literal_class(lit) in ("i", "-i") for lit in literals)
                      and _bindable_write(one.steps[0], len(literals)))
        return _Shape(kept, parts, fast, bind, write_bind)


_QUOTED_IDENT = re.compile(r'"(?:[^"]|"")*"')
_PLACEHOLDER = re.compile(r"\?(\d+)")
_COMPARED = re.compile(r"(?:=|<|>)\s*\?(\d+)(?!\d)")


def _bindable(step: str, count: int) -> bool:
    """Whether binding int4 literals to a template's ?1..?count runs the same query as writing
    them into its text: every placeholder is the right operand of a comparison (=, <, >, <=,
    >=, <>, !=: an integer literal and a bound integer both have no affinity there, so SQLite
    compares alike), none is in a string, comment or quoted name, and each literal is used.
    Elsewhere (ORDER BY 1, a select-list constant, IN lists) the text is used."""
    if "'" in step or "--" in step or "/*" in step:
        return False
    bare = _QUOTED_IDENT.sub('""', step)
    used = _PLACEHOLDER.findall(bare)
    compared = _COMPARED.findall(bare)
    return len(used) == len(compared) and set(used) == {str(i) for i in range(1, count + 1)}


# where an integer written into a DML statement and the same integer bound to ?N are one
# thing to SQLite: an operand of =, <, >, +, -, *, /, %, or a function argument / VALUES item
_WRITE_OPERAND = re.compile(r"(?:[=<>+\-*/%(,])\s*\?(\d+)(?!\d)")
# where an integer literal is not a value: a result column number, a frame bound; and where
# a write returns rows or names something by a literal
_WRITE_UNSAFE = re.compile(r"\b(?:ORDER|GROUP|LIMIT|OFFSET|PRECEDING|FOLLOWING|COLLATE|RETURNING|"
                           r"PRAGMA|WINDOW|OVER)\b", re.IGNORECASE)


def _bindable_write(step: str, count: int) -> bool:
    """Whether binding int4 literals to a DML template's ?1..?count runs the same statement as
    writing them into its text: each placeholder is an operand (``_WRITE_OPERAND``: a bound
    integer and an integer literal are the same value of no affinity there, so arithmetic,
    comparisons and the column's affinity on INSERT/UPDATE treat them alike), none is in a
    string, comment or quoted name, no ORDER BY / GROUP BY / LIMIT / window / RETURNING is
    around, and each literal is used."""
    if "'" in step or "--" in step or "/*" in step:
        return False
    bare = _QUOTED_IDENT.sub('""', step)
    if _WRITE_UNSAFE.search(bare):
        return False
    used = _PLACEHOLDER.findall(bare)
    operands = _WRITE_OPERAND.findall(bare)
    return len(used) == len(operands) and set(used) == {str(i) for i in range(1, count + 1)}


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


def lift(sql: str) -> tuple[str, list[str]] | None:
    """The text with its literals replaced by $1..$n, and the literals; None when it has no
    literal or anything that is not lifted safely (then it has no shape: ``fast_simple``)."""
    if "'" not in sql and '"' not in sql:
        return _lift_plain(sql)
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



def _lift_plain(sql: str) -> tuple[str, list[str]] | None:
    """``lift`` of a text without quotes (pgbench's statements, most ORM lookups): the same
    answer, with the scan done by re.split in C; a unary minus before a literal is part of it,
    as ``_unary_minus_start`` says."""
    if "$" in sql or "/*" in sql or "--" in sql or ("&" in sql and _UNSAFE.search(sql)):
        return None  # all _UNSAFE can find in such a text
    pieces = _NUMBER.split(sql)  # text, literal, text, ..., text
    if len(pieces) == 1:
        return None
    texts = pieces[::2]
    literals = pieces[1::2]
    if "-" in sql:
        for k, literal in enumerate(literals):
            text = texts[k]  # from the previous literal's end (the scan's floor) to this one
            stripped = text.rstrip(" ")
            if stripped.endswith("-"):
                before = stripped[:-1].rstrip(" ")
                if before and before[-1] in _UNARY_CONTEXT:
                    literals[k] = "-" + literal
                    texts[k] = stripped[:-1]
    if len(texts) == 2:  # one literal (a point lookup): no list to join
        return texts[0] + "$1" + texts[1], literals
    out = [texts[0]]
    for i in range(1, len(texts)):
        out.append(f"${i}")
        out.append(texts[i])
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
    if len(literal) < 10 and literal.isdigit():  # the usual case: at most 999,999,999
        return "i"
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


def _fill_step(step: tuple[str | int, ...], literals: list[str]) -> str:
    """One SQLite statement of a template with the literals put back (negatives in parentheses)."""
    return "".join(p if isinstance(p, str) else
                   (f"({literals[p]})" if literals[p].startswith("-") else literals[p]) for p in step)


def _fill(parts: tuple[tuple[str | int, ...], ...], literals: list[str]) -> tuple[str, ...]:
    return tuple(_fill_step(step, literals) for step in parts)


_SLOTS = Translation.__slots__


def _clone(template: Translation, steps: tuple[str, ...]) -> Translation:
    """``replace(template, steps=steps)`` at half the cost (no __init__ over 25 fields)."""
    new = object.__new__(Translation)
    for name in _SLOTS:
        object.__setattr__(new, name, getattr(template, name))
    object.__setattr__(new, "steps", steps)
    return new


def _fill_parts(template: Translation, parts: tuple[tuple[str | int, ...], ...],
                literals: list[str]) -> Translation:
    return _clone(template, _fill(parts, literals))
