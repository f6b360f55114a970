"""Differential testing: run the same SQL on PostgreSQL 15 and on Strata, compare the results.

API (kept small; other test folders import it)::

    from tests.diff.harness import Differ

    differ = Differ(pg_oracle.dsn, strata_shared.dsn)        # two psycopg connections
    pg, st = differ.run_both("select $1::int + 1", setup=["create table t (a int)"], params=[41])
    differ.assert_same("select a from t order by a", setup=[...])
    differ.close()

or the module-level helpers over a ``Differ`` (the ``differ`` fixture in tests/diff/conftest.py)::

    run_both(differ, sql, setup=(), params=None) -> (pg_result, strata_result)
    assert_same(differ, sql, setup=(), params=None, ordered=None)

Each case runs inside ``BEGIN ... ROLLBACK`` on both servers, so setups (tables, rows, types,
sequences) never leak into the next case and both servers see the same state. Setup statements run
one at a time; the query runs with the extended protocol (psycopg, text result format) with
``params`` as ``$1..$n`` (psycopg ``%s`` placeholders are also accepted). A ``Result`` holds the
column names, the column type OIDs from RowDescription, the rows as PostgreSQL text (``None`` for
NULL), the command status and, for a failure, the SQLSTATE and message. ``assert_same`` compares
names, OIDs, rows (in order when the query has a top-level ORDER BY, else as multisets), status and
SQLSTATE; messages are compared only with ``check_message=True``.

Case files (tests/diff/cases/*.sql) hold many cases; see ``load_cases``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

CASES_DIR = Path(__file__).resolve().parent / "cases"
QUERY_TIMEOUT_S = 20.0
# Settings both servers get at connect time and after a case that changed settings.
BASELINE_SETTINGS = ("SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, MDY'",
                     "SET IntervalStyle = 'postgres'", "SET extra_float_digits = 1")


@dataclass
class Result:
    """What one server answered to one query."""

    columns: list[str] = field(default_factory=list)
    type_oids: list[int] = field(default_factory=list)
    rows: list[tuple[str | None, ...]] = field(default_factory=list)
    status: str | None = None
    sqlstate: str | None = None
    message: str | None = None
    setup_error: str | None = None  # "SQLSTATE: message" of a failed setup statement

    @property
    def ok(self) -> bool:
        return self.sqlstate is None and self.setup_error is None

    def summary(self) -> str:
        if self.setup_error:
            return f"setup failed: {self.setup_error}"
        if self.sqlstate:
            return f"ERROR {self.sqlstate}: {self.message}"
        lines = [f"columns={self.columns} oids={self.type_oids} status={self.status!r}"]
        lines += [f"  {row!r}" for row in self.rows[:30]]
        if len(self.rows) > 30:
            lines.append(f"  ... {len(self.rows)} rows")
        return "\n".join(lines)


@dataclass
class Case:
    """One differential case: setup statements and one query (plus expectations)."""

    name: str
    query: str
    setup: tuple[str, ...] = ()
    params: list[Any] | None = None
    ordered: bool | None = None  # None: ordered iff the query has a top-level ORDER BY
    check_message: bool = False
    refused: bool = False  # Strata must answer 0A000 (PostgreSQL must succeed)
    source: str = ""


def _to_psycopg(sql: str, params: Sequence[Any] | None) -> str:
    """``$n`` placeholders -> psycopg's ``%s`` (in order); literal ``%`` doubled."""
    if not params:
        return sql
    if "%s" in sql:
        return sql
    order: list[int] = []

    def sub(m: re.Match[str]) -> str:
        order.append(int(m.group(1)))
        return "%s"

    out = re.sub(r"\$(\d+)", sub, sql.replace("%", "%%"))
    if order != list(range(1, len(order) + 1)):
        raise ValueError("harness: $n placeholders must appear once each, in order")
    return out


def has_top_level_order_by(sql: str) -> bool:
    depth = 0
    text = re.sub(r"'(?:[^']|'')*'", "''", sql.lower())
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and text.startswith("order by", i) and (i == 0 or not text[i - 1].isalnum()):
            return True
    return False


class Server:
    """One autocommit psycopg connection with a watchdog that cancels slow queries."""

    def __init__(self, name: str, dsn: str) -> None:
        self.name = name
        self.dsn = dsn
        self.conn = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10)
        for stmt in BASELINE_SETTINGS:
            conn.execute(stmt)
        return conn

    def reconnect(self) -> None:
        try:
            self.conn.close()
        finally:
            self.conn = self._connect()

    def _exec(self, sql: str, params: Sequence[Any] | None = None) -> psycopg.Cursor[Any]:
        cur = self.conn.cursor(binary=False)
        timer = threading.Timer(QUERY_TIMEOUT_S, self.conn.cancel)
        timer.start()
        try:
            if params:
                cur.execute(_to_psycopg(sql, params).encode(), list(params))  # type: ignore[call-overload]
            else:
                cur.execute(sql.encode())  # type: ignore[call-overload]
        finally:
            timer.cancel()
        return cur

    def run(self, sql: str, setup: Sequence[str] = (), params: Sequence[Any] | None = None) -> Result:
        result = Result()
        changes_settings = any(re.match(r"\s*(set|reset)\b", s, re.I) for s in [*setup, sql])
        try:
            self._exec("BEGIN")
            for stmt in setup:
                try:
                    self._exec(stmt)
                except psycopg.Error as exc:
                    result.setup_error = f"{exc.sqlstate}: {_message(exc)} [{stmt}]"
                    return result
            try:
                cur = self._exec(sql, params)
            except psycopg.Error as exc:
                # a client-side failure (lost connection, undecodable message) has no SQLSTATE
                result.sqlstate = exc.sqlstate or f"client:{type(exc).__name__}"
                result.message = _message(exc)
                return result
            result.status = cur.statusmessage
            pgres = cur.pgresult
            if pgres is not None and pgres.nfields:
                result.columns = [(pgres.fname(i) or b"").decode() for i in range(pgres.nfields)]
                result.type_oids = [pgres.ftype(i) for i in range(pgres.nfields)]
                result.rows = [
                    tuple(_text(pgres.get_value(r, c)) for c in range(pgres.nfields))
                    for r in range(pgres.ntuples)
                ]
            return result
        finally:
            self._end(changes_settings)

    def _end(self, reset_settings: bool) -> None:
        try:
            self._exec("ROLLBACK")
            if reset_settings:
                self._exec("RESET ALL")
                for stmt in BASELINE_SETTINGS:
                    self._exec(stmt)
        except (psycopg.Error, OSError):
            self.reconnect()

    def close(self) -> None:
        self.conn.close()


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "replace")


def _message(exc: psycopg.Error) -> str:
    return exc.diag.message_primary or str(exc)


class Differ:
    """A PostgreSQL 15 oracle connection and a Strata connection, driven in lockstep."""

    def __init__(self, pg_dsn: str, strata_dsn: str) -> None:
        self.pg = Server("postgres", pg_dsn)
        self.strata = Server("strata", strata_dsn)

    def run_both(self, sql: str, setup: Sequence[str] = (),
                 params: Sequence[Any] | None = None) -> tuple[Result, Result]:
        return self.pg.run(sql, setup, params), self.strata.run(sql, setup, params)

    def assert_same(self, sql: str, setup: Sequence[str] = (), params: Sequence[Any] | None = None,
                    *, ordered: bool | None = None, check_message: bool = False) -> Result:
        """Run on both and fail with a readable diff unless they agree. Returns PostgreSQL's result."""
        pg, st = self.run_both(sql, setup, params)
        problems = compare(pg, st, ordered=has_top_level_order_by(sql) if ordered is None else ordered,
                           check_message=check_message)
        if problems:
            raise AssertionError(_report(sql, setup, params, pg, st, problems))
        return pg

    def assert_refused(self, sql: str, setup: Sequence[str] = (),
                       params: Sequence[Any] | None = None) -> Result:
        """PostgreSQL accepts the query; Strata refuses it with 0A000 (feature_not_supported)."""
        pg, st = self.run_both(sql, setup, params)
        problems = []
        if not pg.ok:
            problems.append("PostgreSQL did not accept the query (fix the case)")
        if st.setup_error or st.sqlstate != "0A000":
            problems.append("Strata did not refuse with 0A000")
        if problems:
            raise AssertionError(_report(sql, setup, params, pg, st, problems))
        return st

    def close(self) -> None:
        self.pg.close()
        self.strata.close()


def compare(pg: Result, st: Result, *, ordered: bool, check_message: bool = False) -> list[str]:
    """The differences between two results (empty when they agree)."""
    problems: list[str] = []
    if pg.setup_error:
        return [f"setup failed on PostgreSQL (fix the case): {pg.setup_error}"]
    if st.setup_error:
        return [f"setup failed on Strata: {st.setup_error}"]
    if pg.sqlstate != st.sqlstate:
        problems.append(f"SQLSTATE {pg.sqlstate} != {st.sqlstate}")
        return problems
    if pg.sqlstate is not None:
        if check_message and pg.message != st.message:
            problems.append(f"message {pg.message!r} != {st.message!r}")
        return problems
    if pg.columns != st.columns:
        problems.append(f"column names {pg.columns} != {st.columns}")
    if [_oid_class(o) for o in pg.type_oids] != [_oid_class(o) for o in st.type_oids]:
        problems.append(f"type oids {pg.type_oids} != {st.type_oids}")
    if pg.status != st.status:
        problems.append(f"status {pg.status!r} != {st.status!r}")
    pg_rows, st_rows = pg.rows, st.rows
    if not ordered:
        pg_rows, st_rows = sorted(pg_rows, key=_sort_key), sorted(st_rows, key=_sort_key)
    if pg_rows != st_rows:
        problems.append("rows differ" + ("" if ordered else " (compared as multisets)"))
    return problems


def _oid_class(oid: int) -> int:
    """Built-in type OIDs must match exactly; user-defined types (enums: >= 16384) only as such."""
    return oid if oid < 16384 else 16384


def _sort_key(row: tuple[str | None, ...]) -> tuple[tuple[bool, str], ...]:
    return tuple((v is None, v or "") for v in row)


def _report(sql: str, setup: Sequence[str], params: Sequence[Any] | None, pg: Result, st: Result,
            problems: list[str]) -> str:
    parts = ["; ".join(problems), f"query: {sql}"]
    if setup:
        parts.append("setup: " + " | ".join(setup))
    if params:
        parts.append(f"params: {params!r}")
    parts += ["--- postgres:", pg.summary(), "--- strata:", st.summary()]
    return "\n".join(parts)


def run_both(differ: Differ, sql: str, setup: Sequence[str] = (),
             params: Sequence[Any] | None = None) -> tuple[Result, Result]:
    return differ.run_both(sql, setup, params)


def assert_same(differ: Differ, sql: str, setup: Sequence[str] = (),
                params: Sequence[Any] | None = None, *, ordered: bool | None = None,
                check_message: bool = False) -> Result:
    return differ.assert_same(sql, setup, params, ordered=ordered, check_message=check_message)


# --- case files --------------------------------------------------------------------------------

_HEADER = re.compile(r"^--\s*(case|refused)\s+(\S+)(.*)$")


def load_cases(path: Path) -> list[Case]:
    """Parse a case file.

    Format: optional file-level setup statements before the first header (run at the start of
    every case in the file), then cases::

        -- case name [ordered|unordered] [message]
        -- params: [1, "x"]            (optional, JSON list bound to $1..$n)
        setup statement;
        another setup statement;
        the query;

    A statement ends with ``;`` at the end of a line; the last statement of a case is its query.
    ``-- refused name`` declares a case Strata must refuse with 0A000 while PostgreSQL accepts it.
    Other ``--`` comment lines are ignored.
    """
    cases: list[Case] = []
    file_setup: list[str] = []
    current: dict[str, Any] | None = None
    stmts: list[str] = []
    buf: list[str] = []

    def finish() -> None:
        nonlocal current, stmts, buf
        if buf and "".join(buf).strip():
            raise ValueError(f"{path.name}: statement without trailing ';': {' '.join(buf)}")
        if current is None:
            file_setup.extend(stmts)
        else:
            if not stmts:
                raise ValueError(f"{path.name}: case {current['name']} has no query")
            cases.append(Case(query=stmts[-1], setup=(*file_setup, *stmts[:-1]), **current))
        stmts, buf = [], []

    for line in path.read_text().splitlines():
        header = _HEADER.match(line.strip())
        if header:
            finish()
            flags = header.group(3).split()
            current = {
                "name": f"{path.stem}:{header.group(2)}",
                "refused": header.group(1) == "refused",
                "ordered": True if "ordered" in flags else False if "unordered" in flags else None,
                "check_message": "message" in flags,
                "source": path.name,
            }
            continue
        stripped = line.strip()
        if stripped.startswith("-- params:") and current is not None:
            current["params"] = json.loads(stripped[len("-- params:"):])
            continue
        if not buf and (stripped.startswith("--") or not stripped):
            continue
        buf.append(line)
        if stripped.endswith(";"):
            stmts.append("\n".join(buf).strip().rstrip(";").strip())
            buf = []
    finish()
    names = [c.name for c in cases]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ValueError(f"{path.name}: duplicate case names {sorted(dupes)}")
    return cases


def all_cases(directory: Path = CASES_DIR) -> list[Case]:
    out: list[Case] = []
    for path in sorted(directory.glob("*.sql")):
        out.extend(load_cases(path))
    return out


def run_case(differ: Differ, case: Case) -> None:
    if case.refused:
        differ.assert_refused(case.query, case.setup, case.params)
    else:
        differ.assert_same(case.query, case.setup, case.params, ordered=case.ordered,
                           check_message=case.check_message)
