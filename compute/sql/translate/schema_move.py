"""Moving objects between schemas: ALTER SCHEMA ... RENAME TO of a schema holding objects, and
ALTER TABLE | VIEW | SEQUENCE | TYPE ... SET SCHEMA.

An object outside public is stored under the key ``schema.name`` (translate/schemas.py), so a
move renames every key the object has: the SQLite table (SQLite rewrites the FK triggers and
views that name it), the ``__strata_tables``/``__strata_types`` rows (they hold the bare name and
the schema), the CHECK triggers (named after constraint keys: dropped and made again), views of
the moved set (SQLite cannot rename a view: dropped and compiled again from their definition),
the stored text of every view and default that names a moved object (``s.t`` in a view's
definition, ``nextval('s.seq'::regclass)``, ``'x'::s.mood``, ``s.f()``). PostgreSQL binds views and
defaults by OID, so they keep working there; rewriting the text is how they keep working here.
Functions of a renamed schema change key in ``__strata_functions`` and in the triggers that
execute them; compiled SQL calls a user function by OID, so nothing compiled changes (function
bodies are text, as in PostgreSQL: a body naming the old schema fails when it runs, there too).
What cannot be moved that way is refused (0A000). See docs/sql-translation.md, "Schemas".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace

from sqlglot import exp
from sqlglot.tokens import Token

from compute.sql.api import Kind, SqlError, Translation
from compute.sql.catalog import catalog as C
from compute.sql.catalog.catalog import (
    Catalog,
    Column,
    EnumType,
    Schema,
    Sequence,
    Table,
    quote_literal,
)
from compute.sql.procedural.catalog import FUNCTIONS, TRIGGERS
from compute.sql.translate.ddl import DdlCompiler
from compute.sql.translate.ddl_identity import regclass_text
from compute.sql.translate.ddl_sql import (
    FK_TRIGGER_SUFFIXES,
    _q,
    drop_triggers_sql,
    fk_trigger_prefix,
    fk_trigger_sql,
)
from compute.sql.translate.functions_ddl import moved_trigger_steps, table_trigger_steps
from compute.sql.translate.parse import parse
from compute.sql.translate.scope import Scope, State
from compute.sql.translate.tokens import Tokens, ident_value, is_quoted


@dataclass
class Moves:
    """What moves to schema ``target``: relation keys (tables and views), sequence keys, enum
    keys and function keys (a renamed schema's functions), each to its new key."""

    target: str
    relations: dict[str, str] = field(default_factory=dict)
    sequences: dict[str, str] = field(default_factory=dict)
    enums: dict[str, str] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)

    def add_relation(self, key: str) -> None:
        self.relations[key] = C.relation_key(self.target, C.bare_name(key))

    def add_sequence(self, key: str) -> None:
        self.sequences[key] = C.relation_key(self.target, C.bare_name(key))

    def add_enum(self, key: str) -> None:
        self.enums[key] = C.relation_key(self.target, C.bare_name(key))


def schema_moves(catalog: Catalog, schema: str, target: str) -> Moves:
    """Everything schema ``schema`` holds, bound for ``target`` (ALTER SCHEMA ... RENAME TO)."""
    moves = Moves(target)
    for table in catalog.tables.values():
        if C.split_key(table.name)[0] == schema:
            moves.add_relation(table.name)
    for key in catalog.sequences:
        if C.split_key(key)[0] == schema:
            moves.add_sequence(key)
    for key in catalog.enums:
        if C.split_key(key)[0] == schema:
            moves.add_enum(key)
    for fn in catalog.routines.functions:
        if C.split_key(fn.name)[0] == schema:
            moves.functions[fn.name] = C.relation_key(target, C.bare_name(fn.name))
    return moves


def move_steps(catalog: Catalog, moves: Moves) -> tuple[list[str], Catalog]:
    """The steps that move ``moves`` and the catalog after them (the schema rows are the caller's)."""
    function_rows, catalog = _moved_functions(catalog, moves)
    steps, trigger_rows, catalog = moved_trigger_steps(catalog, moves.relations)
    steps.extend(function_rows)
    rebuilt = _rebuilt_views(catalog, moves)
    for view in reversed(rebuilt):  # SQLite cannot rename a view: made again below
        steps.append(f"DROP VIEW {_q(view.name)}")
    for key, new in moves.relations.items():
        if catalog.tables[key].kind != "v":
            steps.append(f"ALTER TABLE {_q(key)} RENAME TO {_q(new)}")
    steps.extend(_row_updates(catalog, moves))
    more, after = _text_updates(_moved_catalog(catalog, moves), moves)
    steps.extend(more)
    ddl = DdlCompiler(State(after))
    for key, new in moves.relations.items():
        old_table, table = catalog.tables[key], after.tables[new]
        for old_con, con in zip(old_table.constraints, table.constraints, strict=True):
            if con.type == "c" and con.index_oid == 0:  # their trigger names hold the constraint key
                steps.extend(ddl._drop_check_triggers(old_table, old_con.name))
                steps.extend(ddl._check_triggers(table, con.name))
    more, after = _foreign_key_triggers(after, moves)
    steps.extend(more)
    steps.extend(trigger_rows)
    for new in sorted({t.table for t in after.routines.triggers if t.table in moves.relations.values()}):
        steps.extend(table_trigger_steps(new, after))
    for view in rebuilt:
        steps.append(_create_view_sql(after, after.tables[moves.relations.get(view.name, view.name)]))
    steps.extend(C.BUMP_SCHEMA_VERSION)
    return steps, after


def _moved_functions(catalog: Catalog, moves: Moves) -> tuple[list[str], Catalog]:
    """The renamed schema's functions under their new keys, and the triggers executing them."""
    if not moves.functions:
        return [], catalog
    routines = catalog.routines
    steps = []
    functions = []
    for fn in routines.functions:
        new = moves.functions.get(fn.name)
        if new is not None:
            steps.append(f"UPDATE {FUNCTIONS} SET name = {quote_literal(new)} WHERE oid = {fn.oid}")
            fn = replace(fn, name=new)
        functions.append(fn)
    triggers = []
    for trg in routines.triggers:
        new = moves.functions.get(trg.function)
        if new is not None:
            steps.append(f"UPDATE {TRIGGERS} SET function = {quote_literal(new)} WHERE oid = {trg.oid}")
            trg = replace(trg, function=new)
        triggers.append(trg)
    return steps, replace(catalog, routines=replace(routines, functions=tuple(functions), triggers=tuple(triggers)))


def _rebuilt_views(catalog: Catalog, moves: Moves) -> list[Table]:
    """The views to drop and make again, in creation order: the moved ones and, transitively,
    every view that reads one (its SQLite view names the old key)."""
    views = sorted((t for t in catalog.tables.values() if t.kind == "v"), key=lambda t: (t.oid == 0, t.oid))
    chosen = {k for k in moves.relations if catalog.tables[k].kind == "v"}
    grew = bool(chosen)
    while grew:
        grew = False
        for view in views:
            if view.name not in chosen and _relations_named(view.definition or "") & chosen:
                chosen.add(view.name)
                grew = True
    return [v for v in views if v.name in chosen]


def _foreign_key_triggers(catalog: Catalog, moves: Moves) -> tuple[list[str], Catalog]:
    """The triggers of the foreign keys of moved tables are named after the child's key: made
    again under the new key (so the old name is free for a table made later in the old schema)."""
    steps: list[str] = []
    for new in moves.relations.values():
        table = catalog.tables[new]
        constraints = []
        for con in table.constraints:
            info = json.loads(con.definition or "{}") if con.type == "f" else {}
            parent = catalog.table_by_oid(con.ref_table) if con.ref_table else None
            if not info.get("trigger") or parent is None:
                constraints.append(con)
                continue
            steps.extend(drop_triggers_sql(str(info["trigger"]), FK_TRIGGER_SUFFIXES))
            info["trigger"] = fk_trigger_prefix(table.name, con.name)
            ccols = [c for name in con.columns for c in table.columns if c.name == name]
            pcols = [c for name in con.ref_columns for c in parent.columns if c.name == name]
            steps.extend(fk_trigger_sql(str(info["trigger"]), con.name, table.name, ccols, parent.name, pcols, info))
            definition = json.dumps(info)
            steps.append(f"UPDATE {C.CONSTRAINTS} SET definition = {quote_literal(definition)} WHERE table_oid = "
                         f"{C.oid_of_sql(table.name)} AND name = {quote_literal(C.bare_name(con.name))}")
            constraints.append(replace(con, definition=definition))
        catalog = catalog.with_table(replace(table, constraints=tuple(constraints)))
    return steps, catalog


def _relations_named(definition: str) -> set[str]:
    """The relation keys a view definition names (unqualified names are public: the stored text
    qualifies everything else)."""
    names: set[str] = set()
    try:
        tree = parse(definition)
    except SqlError:
        return names
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    for table in tree.find_all(exp.Table):
        if isinstance(table.this, exp.Identifier) and not (not table.db and table.name in ctes):
            names.add(C.relation_key(table.db or "public", table.name))
    return names


def _row_updates(catalog: Catalog, moves: Moves) -> list[str]:
    """``__strata_tables`` / ``__strata_types`` rows: the schema column (names stay bare)."""
    target = quote_literal(moves.target)
    keys: list[str] = []
    for key in moves.relations:
        table = catalog.tables[key]
        keys.append(key)
        keys.extend(index.name for index in table.indexes)
    keys.extend(moves.sequences)
    steps = []
    for key in keys:
        schema, name = C.split_key(key)
        steps.append(f"UPDATE {C.TABLES} SET schema = {target} WHERE schema = {quote_literal(schema)} "
                     f"AND name = {quote_literal(name)}")
    for key in moves.enums:
        steps.append(f"UPDATE {C.TYPES} SET schema = {target} WHERE oid = {catalog.enums[key].oid}")
    return steps


def _moved_catalog(catalog: Catalog, moves: Moves) -> Catalog:
    target = moves.target
    sequences: dict[str, Sequence] = {moves.sequences.get(k, k): replace(s, name=moves.sequences.get(k, k))
                                      for k, s in catalog.sequences.items()}
    for key, new in moves.relations.items():
        table = catalog.tables[key]
        catalog = catalog.without_table(key).with_table(replace(
            table, name=new, schema=target,
            indexes=tuple(replace(i, name=C.relation_key(target, C.bare_name(i.name))) for i in table.indexes),
            constraints=tuple(replace(c, name=C.relation_key(target, C.bare_name(c.name)))
                              for c in table.constraints)))
    catalog = catalog._derive(sequences=sequences)  # without_table dropped the owned ones
    for key, new in moves.enums.items():
        enum: EnumType = catalog.enums[key]
        catalog = catalog.without_enum(key).with_enum(replace(enum, name=new, schema=target))
    return catalog


def _text_updates(catalog: Catalog, moves: Moves) -> tuple[list[str], Catalog]:
    """Defaults and view definitions that name a moved object by its text (``catalog`` is the
    one after the move; the result has the rewritten texts)."""
    pairs = [(f"'{regclass_text(old)}'", f"'{regclass_text(new)}'") for old, new in moves.sequences.items()]
    pairs += [(f"'{old}'", f"'{new}'") for old, new in moves.sequences.items()]
    pairs += [(_type_text(old), _type_text(new)) for old, new in moves.enums.items()]
    calls = [(_call_pattern(old), _call_text(new)) for old, new in moves.functions.items()]
    steps: list[str] = []
    for table in list(catalog.tables.values()):
        columns = []
        for col in table.columns:
            new_col = _rewritten_default(col, pairs, calls)
            if new_col is not col:
                steps.append(f"UPDATE {C.COLUMNS} SET default_expr = {_literal(new_col.default_expr)}, "
                             f"default_sql = {_literal(new_col.default_sql)} WHERE table_oid = "
                             f"{C.oid_of_sql(table.name)} AND attnum = {col.attnum}")
            columns.append(new_col)
        definition = table.definition
        if table.kind == "v" and definition:
            definition = _rewritten_definition(definition, moves)
            if definition != table.definition:
                steps.append(f"UPDATE {C.TABLES} SET definition = {quote_literal(definition)} "
                             f"WHERE oid = {C.oid_of_sql(table.name)}")
        if definition != table.definition or tuple(columns) != table.columns:
            catalog = catalog.with_table(replace(table, columns=tuple(columns), definition=definition))
    return steps, catalog


def _type_text(key: str) -> str:
    """How a default's cast names an enum type (qualified outside public)."""
    schema, name = C.split_key(key)
    return f"::{C.type_ident(schema)}.{C.type_ident(name)}" if schema != "public" else f"::{C.type_ident(name)}"


def _literal(text: str | None) -> str:
    return "NULL" if text is None else quote_literal(text)


def _call_pattern(key: str) -> re.Pattern[str]:
    """A call of function ``key`` written qualified in a default: ``s.f(`` or ``"s"."f"(``."""
    schema, name = C.split_key(key)
    return re.compile(rf'(?<![\w$."]){_word(schema)}\s*\.\s*{_word(name)}(?=\s*\()')


def _word(name: str) -> str:
    """A name as a default may write it: bare or double-quoted."""
    return f'(?:{re.escape(name)}|"{re.escape(name)}")'


def _call_text(key: str) -> str:
    schema, name = C.split_key(key)
    return f"{C.type_ident(schema)}.{C.type_ident(name)}"


def _rewritten_default(col: Column, pairs: list[tuple[str, str]],
                       calls: list[tuple[re.Pattern[str], str]]) -> Column:
    expr, sql = col.default_expr, col.default_sql
    for old, new in pairs:  # a whole name only ('::mood' is not '::mood2')
        pattern = re.escape(old) + r"(?![A-Za-z0-9_$])"
        replacement = new.replace("\\", "\\\\")
        expr = re.sub(pattern, replacement, expr) if expr else expr
        sql = re.sub(pattern, replacement, sql) if sql else sql
    for call, new in calls:  # the text only: compiled SQL calls a user function by OID
        expr = call.sub(new.replace("\\", "\\\\"), expr) if expr else expr
    if expr == col.default_expr and sql == col.default_sql:
        return col
    return replace(col, default_expr=expr, default_sql=sql)


def _rewritten_definition(definition: str, moves: Moves) -> str:
    """A view's stored text with moved relations and enum types named by their new schema
    (unqualified in public). Only those names change: the rest stays as written."""
    tree = parse(definition)
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    spans: list[tuple[int, int, str]] = []  # (start, end inclusive, new text)
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or (not table.db and table.name in ctes):
            continue
        new = moves.relations.get(C.relation_key(table.db or "public", table.name))
        if new is not None:
            first = table.args["db"] if table.db else table.this
            spans.append(_span(first, table.this, new))
    for dot in tree.find_all(exp.Dot):
        call = dot.expression
        if isinstance(dot.this, exp.Identifier) and isinstance(call, exp.Anonymous):
            new = moves.functions.get(C.relation_key(dot.this.name, call.name))
            if new is not None:
                spans.append(_call_span(definition, dot.this, new))
    for dtype in tree.find_all(exp.DataType):
        kind = dtype.args.get("kind")
        if dtype.this != exp.DataType.Type.USERDEFINED or not moves.enums:
            continue
        if isinstance(kind, exp.Dot) and C.relation_key(kind.this.name, kind.expression.name) in moves.enums:
            spans.append(_span(kind.this, kind.expression,
                               moves.enums[C.relation_key(kind.this.name, kind.expression.name)]))
        elif any(C.bare_name(k) == dtype.sql(dialect="postgres").split(".")[-1] for k in moves.enums):
            raise SqlError("0A000", "moving an enum type that a view's definition names without its schema is "
                                    "not supported")
    text = definition
    for start, end, new_text in sorted(spans, reverse=True):
        text = text[:start] + new_text + text[end + 1:]
    return text


def _span(first: exp.Expression, last: exp.Expression, key: str) -> tuple[int, int, str]:
    """Where a (possibly qualified) name is written, and the new key written as PostgreSQL would."""
    start, end = first.meta.get("start"), last.meta.get("end")
    if start is None or end is None:
        raise SqlError("0A000", "moving an object that a view's definition names is not supported here "
                                "(its position in the definition is unknown)")
    schema, name = C.split_key(key)
    written = C.type_ident(name) if schema == "public" else f"{C.type_ident(schema)}.{C.type_ident(name)}"
    return int(start), int(end), written


def _call_span(definition: str, schema: exp.Identifier, key: str) -> tuple[int, int, str]:
    """Where ``schema.f`` of a call is written (the parser marks only the schema's position)."""
    start = schema.meta.get("start")
    found = _QUALIFIED_CALL.match(definition, int(start)) if start is not None else None
    if found is None:
        raise SqlError("0A000", "renaming a schema whose function a view's definition calls is not supported here "
                                "(the call's position in the definition is unknown)")
    return found.start(), found.end() - 1, _call_text(key)


_QUALIFIED_CALL = re.compile(r'(?:"[^"]*"|[\w$]+)\s*\.\s*(?:"[^"]*"|[\w$]+)(?=\s*\()')


def _create_view_sql(catalog: Catalog, view: Table) -> str:
    """A moved view's SQLite view, compiled again from its (rewritten) definition."""
    ddl = DdlCompiler(State(catalog))
    node = parse(view.definition or "")
    ctes = {cte.alias for cte in node.find_all(exp.CTE)}
    for table in list(node.find_all(exp.Table)):  # the stored text qualifies all but public names
        if isinstance(table.this, exp.Identifier) and (table.db or table.name not in ctes) \
                and table.db not in ("pg_catalog", "information_schema"):
            table.set("this", exp.to_identifier(C.relation_key(table.db or "public", table.name), quoted=True))
            table.set("db", None)
    sql, cols = ddl.qc.subquery(node, Scope(), rename=[c.name for c in view.columns])
    if len(cols) != len(view.columns):
        raise SqlError("0A000", f'view "{view.relname}" cannot be moved: its definition no longer compiles the same')
    col_list = ", ".join(_q(c.name) for c in view.columns)
    return f"CREATE VIEW {_q(view.name)} ({col_list}) AS {sql}"


# ---------------------------------------------------------------------- ALTER ... SET SCHEMA

_SET_SCHEMA_NOUNS = {"table": "TABLE", "view": "VIEW", "sequence": "SEQUENCE", "type": "TYPE"}


def set_schema_statement(tokens: tuple[Token, ...], text: str, catalog: Catalog) -> tuple[Translation, Catalog] | None:
    """ALTER TABLE | VIEW | SEQUENCE | TYPE [IF EXISTS] name SET SCHEMA target; None for any
    other ALTER."""
    words = [t.text.lower() for t in tokens]
    if len(words) < 5 or words[1] not in _SET_SCHEMA_NOUNS or words[-3:-1] != ["set", "schema"] \
            or is_quoted(tokens[-2], text):
        return None
    noun = _SET_SCHEMA_NOUNS[words[1]]
    ts = Tokens(tokens, text)
    ts.next()
    ts.next()
    if_exists = ts.accept("if", "exists")
    first = ts.next()
    schema: str | None = None
    name = ident_value(first, text)
    if ts.accept("."):
        schema, name = name, ident_value(ts.next(), text)
    ts.expect("set", "schema")
    target = ident_value(ts.next(), text)
    if not ts.at_end():
        raise ts.error()
    tag = f"ALTER {noun}"
    if noun == "TYPE":
        return _set_schema_type(catalog, schema, name, target)
    kind = "seq" if noun == "SEQUENCE" else "rel"
    key = catalog.qualify(schema, name, kind, missing_schema_ok=if_exists)
    table = catalog.tables.get(key)
    seq = catalog.sequences.get(key)
    if table is None and seq is None:
        if if_exists:
            return Translation(Kind.COMMAND, tag, notices=(f'relation "{key}" does not exist, skipping',)), catalog
        raise SqlError("42P01", f'relation "{C.bare_name(key) if schema is None else key}" does not exist')
    if noun == "VIEW" and (table is None or table.kind != "v"):
        raise SqlError("42809", f'"{C.bare_name(key)}" is not a view')
    if noun == "SEQUENCE" and seq is None:
        raise SqlError("42809", f'"{C.bare_name(key)}" is not a sequence')
    if seq is not None and seq.owner_table:
        owner = catalog.table_by_oid(seq.owner_table)
        raise SqlError("0A000", "cannot move an owned sequence into another schema",
                       detail=f'Sequence "{C.bare_name(key)}" is linked to table '
                              f'"{C.bare_name(owner.name) if owner else seq.owner_table}".')
    _check_target(catalog, C.split_key(key)[0], target)
    moves = Moves(target)
    if table is not None:
        moves.add_relation(key)
        for s_key, s in catalog.sequences.items():  # owned sequences move with their table
            if s.owner_table == table.oid and table.oid and C.split_key(s_key)[0] == C.split_key(key)[0]:
                moves.add_sequence(s_key)
    else:
        moves.add_sequence(key)
    if C.split_key(key)[0] == target:
        return Translation(Kind.COMMAND, tag), catalog  # PostgreSQL: nothing to do
    _check_free(catalog, moves)
    steps, after = move_steps(catalog, moves)
    return Translation(Kind.COMMAND, tag, tuple(steps), is_write=True, is_ddl=True), after


def _check_target(catalog: Catalog, source: str, target: str) -> None:
    if not catalog.schema_exists(target):
        raise SqlError("3F000", f'schema "{target}" does not exist')
    if source.startswith(C.TEMP_SCHEMA_PREFIX) or target.startswith(C.TEMP_SCHEMA_PREFIX):
        raise SqlError("0A000", "cannot move objects into or out of temporary schemas")


def _check_free(catalog: Catalog, moves: Moves) -> None:
    """42P07 when a moved relation (or its index or sequence) exists in the target schema."""
    names = list(moves.relations.values()) + list(moves.sequences.values())
    for key in moves.relations:
        names.extend(C.relation_key(moves.target, C.bare_name(i.name)) for i in catalog.tables[key].indexes)
    for new in names:
        if catalog.relation_exists(new):
            raise SqlError("42P07", f'relation "{C.bare_name(new)}" already exists in schema "{moves.target}"')
    for new in moves.enums.values():
        if new in catalog.enums:
            raise SqlError("42710", f'type "{C.bare_name(new)}" already exists in schema "{moves.target}"')


def _set_schema_type(catalog: Catalog, schema: str | None, name: str, target: str) -> tuple[Translation, Catalog]:
    """ALTER TYPE enum SET SCHEMA target (its array type goes with it)."""
    key = catalog.qualify(schema, name, "type")
    if key not in catalog.enums:
        raise SqlError("42704", f'type "{name if schema is None else key}" does not exist')
    _check_target(catalog, C.split_key(key)[0], target)
    if C.split_key(key)[0] == target:
        return Translation(Kind.COMMAND, "ALTER TYPE"), catalog
    moves = Moves(target)
    moves.add_enum(key)
    _check_free(catalog, moves)
    steps, after = move_steps(catalog, moves)
    return Translation(Kind.COMMAND, "ALTER TYPE", tuple(steps), is_write=True, is_ddl=True), after


def rename_schema(catalog: Catalog, name: str, new: str) -> tuple[list[str], Catalog]:
    """ALTER SCHEMA name RENAME TO new: the schema row and everything the schema holds."""
    old = catalog.schemas[name]
    with_new = catalog.with_schema(Schema(new, old.oid, old.owner))
    steps = [f"UPDATE {C.SCHEMAS} SET name = {quote_literal(new)} WHERE name = {quote_literal(name)}"]
    moves = schema_moves(catalog, name, new)
    if moves.relations or moves.sequences or moves.enums:
        more, with_new = move_steps(with_new, moves)
        steps.extend(more)
    else:
        steps.extend(C.BUMP_SCHEMA_VERSION)
    return steps, with_new.without_schema(name)

