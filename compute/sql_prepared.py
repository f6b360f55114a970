"""SQL-level PREPARE / EXECUTE / DEALLOCATE: a session's statements prepared by name in SQL
(pg_dump prepares its per-table catalog queries this way).

PREPARE checks the statement by translating it with its parameters (errors are reported then,
as PostgreSQL does) and keeps its text and declared parameter types. EXECUTE is replaced, when
the session translates it, by the prepared statement with each ``$n`` bound to its argument
(cast to the declared type), so the result columns and command tag are the statement's own.
Arguments must be constant expressions: PostgreSQL evaluates each once, and a textual binding
could evaluate a volatile one (``nextval()``) once per use, so anything else is refused (0A000).
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from compute import pgtypes
from compute.sql.api import Kind, SqlError, Translation
from compute.transaction import Result

MAX_SQL_PREPARED = 1000  # statements one session may hold prepared in SQL
_PARAM_OR_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|\$(\d+)")
# a call (name followed by "(") or a subquery makes an argument non-constant; CAST/ARRAY are fine
_CALL = re.compile(r"([A-Za-z_][A-Za-z0-9_$.]*)\s*\(")
_QUOTED = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"")
_CONSTANT_CALLS = frozenset({"cast", "array", "row", "numeric", "decimal", "varchar", "char",
                             "character", "bit", "varbit", "timestamp", "time", "interval"})


@dataclass(frozen=True, slots=True)
class PreparedSql:
    text: str  # the statement, with $1..$n
    param_oids: tuple[int, ...]  # each parameter's type: declared, else as the statement infers it
    params: int  # how many parameters EXECUTE must supply
    source: str = ""  # the PREPARE statement as the client wrote it (pg_prepared_statements)
    created: float = 0.0  # when it was prepared (epoch seconds)


def _params_used(text: str) -> int:
    return max((int(m.group(1)) for m in _PARAM_OR_QUOTED.finditer(text) if m.group(1)), default=0)


def _check_constant(arg: str) -> None:
    bare = _QUOTED.sub("''", arg)
    calls = [m.group(1).lower() for m in _CALL.finditer(bare)]
    if any(c.split(".")[-1] not in _CONSTANT_CALLS for c in calls) or re.search(r"\(\s*select\b", bare, re.I):
        raise SqlError("0A000", "EXECUTE arguments other than constant expressions are not supported",
                       detail=f"argument: {arg}")


def bind_arguments(name: str, prepared: PreparedSql, args: list[str]) -> str:
    """The prepared statement's text with each $n replaced by its argument."""
    if len(args) != prepared.params:
        raise SqlError("42601", f'wrong number of parameters for prepared statement "{name}"',
                       detail=f"Expected {prepared.params} parameters but got {len(args)}.")
    for arg in args:
        _check_constant(arg)

    def bound(m: re.Match[str]) -> str:
        if m.group(1) is None:
            return m.group(0)
        index = int(m.group(1)) - 1
        if index < len(prepared.param_oids):
            return f"(({args[index]})::{pgtypes.format_type(prepared.param_oids[index])})"
        return f"({args[index]})"

    return _PARAM_OR_QUOTED.sub(bound, prepared.text)


class SqlPrepared:
    """The session's SQL-prepared statements (a mixin of Session, which translates)."""

    _sql_prepared: dict[str, PreparedSql] | None = None  # made at the first PREPARE
    # the wire connection's Parse statements (name -> object with sql, param_oids, created)
    protocol_prepared: Mapping[str, Any] = MappingProxyType({})
    query_text = ""  # the client's query string being translated (PREPARE keeps it, as PostgreSQL)

    def translate(self, sql: str, param_types: tuple[int, ...] = ()) -> list[Translation]:
        raise NotImplementedError  # Session.translate

    def expand_execute(self, translations: list[Translation]) -> list[Translation]:
        """EXECUTE statements replaced by the prepared statement they run (no work while the
        session has prepared nothing in SQL; an EXECUTE then fails with 26000 when it runs)."""
        if not self._sql_prepared or not any(t.kind is Kind.EXECUTE for t in translations):
            return translations
        return [self._bound(t) if t.kind is Kind.EXECUTE else t for t in translations]

    def _bound(self, tr: Translation) -> Translation:
        prepared = (self._sql_prepared or {}).get(tr.name)
        if prepared is None:
            raise SqlError("26000", f'prepared statement "{tr.name}" does not exist')
        text = bind_arguments(tr.name, prepared, json.loads(tr.value or "[]"))
        query_text = self.query_text
        inner = self.translate(text)
        self.query_text = query_text
        if len(inner) != 1:
            raise SqlError("42601", "cannot insert multiple commands into a prepared statement")
        bound = inner[0]
        if bound.columns:  # result columns are named as the statement names them ($1 is ?column?)
            named = self.translate(prepared.text, prepared.param_oids)[0].columns
            if len(named) == len(bound.columns):
                bound = replace(bound, columns=tuple(replace(c, name=n.name)
                                                     for c, n in zip(bound.columns, named, strict=True)))
        return bound

    def run_prepared(self, tr: Translation) -> Result:
        """PREPARE, an EXECUTE left unexpanded (its statement does not exist), DEALLOCATE (the
        protocol-level statements are the caller's), DISCARD (ALL forgets them all), no-ops."""
        store = self._sql_prepared
        if tr.kind is Kind.PREPARE:
            if store is not None and tr.name in store:
                raise SqlError("42P05", f'prepared statement "{tr.name}" already exists')
            if store is not None and len(store) >= MAX_SQL_PREPARED:
                raise SqlError("54000", f"too many prepared statements in this session (at most "
                                        f"{MAX_SQL_PREPARED})", hint="DEALLOCATE statements no longer used.")
            spec = json.loads(tr.value or "{}")
            text, types = str(spec["text"]), tuple(int(t) for t in spec["types"])
            source = self.query_text or text
            try:
                checked = self.translate(text, types)
            except SqlError as err:  # positions count from the start of PREPARE
                if err.position is not None:
                    err.position += int(spec.get("offset", 0))
                raise
            finally:
                self.query_text = source  # the next PREPARE of the same query string keeps it too
            if len(checked) != 1:
                raise SqlError("42601", "cannot insert multiple commands into a prepared statement")
            params = max(_params_used(text), len(types))
            # every parameter gets the type PostgreSQL gives it: declared, else inferred
            inferred = checked[0].param_oids
            types = tuple(types[i] if i < len(types) else (inferred[i] if i < len(inferred) else pgtypes.TEXT)
                          for i in range(params))
            if self._sql_prepared is None:
                self._sql_prepared = {}
            self._sql_prepared[tr.name] = PreparedSql(text, types, params, source,
                                                      time.time())
        elif tr.kind is Kind.EXECUTE:
            raise SqlError("26000", f'prepared statement "{tr.name}" does not exist')
        elif store is not None and (tr.kind is Kind.DEALLOCATE and not tr.name
                                    or tr.kind is Kind.DISCARD and tr.name == "all"):
            store.clear()
        return Result(tr.tag)

    def prepared_view_json(self) -> str:
        """pg_prepared_statements' rows: named protocol statements, then those made by PREPARE
        (the plan counters are 0: SQLite plans are not counted)."""
        def row(name: str, statement: str, created: float, oids: Iterable[int], from_sql: bool) -> dict[str, Any]:
            stamp = datetime.datetime.fromtimestamp(created, datetime.UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
            return {"name": name, "statement": statement, "prepare_time": stamp,
                    "parameter_types": [int(o) for o in oids], "from_sql": from_sql}

        rows = [row(name, p.sql, p.created, p.param_oids, False)
                for name, p in self.protocol_prepared.items() if name]
        rows += [row(name, p.source, p.created, p.param_oids, True)
                 for name, p in (self._sql_prepared or {}).items()]
        return json.dumps(rows)

    def deallocate_sql(self, name: str) -> bool:
        """DEALLOCATE name of a statement prepared in SQL: whether there was one."""
        return self._sql_prepared is not None and self._sql_prepared.pop(name, None) is not None
