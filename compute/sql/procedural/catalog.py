"""User functions and triggers as catalog records, stored in replicated ``__strata_*`` tables.

A leaf module (stdlib only): ``compute.sql.catalog.catalog.Catalog`` loads a ``Routines``
snapshot with ``load_routines`` and folds ``Routines.digest()`` into its fingerprint, so a
CREATE FUNCTION invalidates cached translations that call (or inline) the function.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any

FUNCTIONS = "__strata_functions"
TRIGGERS = "__strata_triggers"
TRIGGER_OID = 2279  # pg_type "trigger": RETURNS trigger

FUNCTIONS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {FUNCTIONS} (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "arg_names TEXT NOT NULL, arg_types TEXT NOT NULL, arg_defaults TEXT NOT NULL, ret_type INTEGER NOT NULL, "
    "ret_set INTEGER NOT NULL, out_columns TEXT NOT NULL, language TEXT NOT NULL, body TEXT NOT NULL, "
    "volatility TEXT NOT NULL, strict INTEGER NOT NULL, definition TEXT NOT NULL)")
TRIGGERS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TRIGGERS} (oid INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "table_name TEXT NOT NULL, function TEXT NOT NULL, timing TEXT NOT NULL, events TEXT NOT NULL, "
    "level TEXT NOT NULL, when_sql TEXT, args TEXT NOT NULL, columns TEXT NOT NULL, definition TEXT NOT NULL)")
# A trigger is live while its SQLite trigger exists: SQLite drops it with the table (DROP TABLE) and
# moves it with the table (RENAME), so the row follows the table without the table DDL knowing.
LIVE_TRIGGERS = (f"{TRIGGERS} t JOIN main.sqlite_schema s ON s.type = 'trigger' "
                 "AND s.name = '__strata_ut_' || t.oid || '_' || lower(json_extract(t.events, '$[0]'))")


@dataclass(frozen=True)
class UserFunction:
    """One CREATE FUNCTION: types are PostgreSQL OIDs; defaults are SQL expression texts."""

    oid: int
    name: str
    arg_names: tuple[str, ...]
    arg_types: tuple[int, ...]
    arg_defaults: tuple[str | None, ...]
    ret_type: int  # 2279 = trigger, 2278 = void
    ret_set: bool
    out_columns: tuple[tuple[str, int], ...]  # RETURNS TABLE (name type, ...) or the OUT/INOUT parameters
    language: str  # "sql" | "plpgsql"
    body: str
    volatility: str  # "i" | "s" | "v" as pg_proc.provolatile
    strict: bool
    definition: str  # the CREATE statement as written
    arg_modes: str = ""  # with OUT parameters: every parameter's mode in order, "i" / "o" / "b" (INOUT)

    @property
    def modes(self) -> str:
        """pg_proc.proargmodes as a string ("" when all are IN): RETURNS TABLE columns are "t"."""
        if self.arg_modes:
            return self.arg_modes
        return "i" * len(self.arg_types) + "t" * len(self.out_columns) if self.out_columns else ""

    @property
    def required(self) -> int:
        """How many leading arguments have no default."""
        return sum(1 for d in self.arg_defaults if d is None)


@dataclass(frozen=True)
class UserTrigger:
    oid: int
    name: str
    table: str
    function: str
    timing: str  # "BEFORE" | "AFTER"
    events: tuple[str, ...]  # "INSERT" | "UPDATE" | "DELETE"
    level: str  # "ROW" | "STATEMENT"
    when_sql: str | None  # the WHEN condition as written (NEW./OLD. references)
    args: tuple[str, ...]
    columns: tuple[str, ...]  # UPDATE OF columns
    definition: str


@dataclass(frozen=True)
class Routines:
    functions: tuple[UserFunction, ...] = ()
    triggers: tuple[UserTrigger, ...] = ()

    def named(self, name: str) -> list[UserFunction]:
        return [f for f in self.functions if f.name == name]

    def by_oid(self, oid: int) -> UserFunction | None:
        return next((f for f in self.functions if f.oid == oid), None)

    def triggers_on(self, table: str) -> list[UserTrigger]:
        return sorted((t for t in self.triggers if t.table == table), key=lambda t: t.name)

    def trigger(self, name: str, table: str) -> UserTrigger | None:
        return next((t for t in self.triggers if t.name == name and t.table == table), None)

    def with_function(self, fn: UserFunction) -> Routines:
        kept = tuple(f for f in self.functions if not (f.name == fn.name and f.arg_types == fn.arg_types))
        return replace(self, functions=(*kept, fn))

    def without_function(self, fn: UserFunction) -> Routines:
        return replace(self, functions=tuple(f for f in self.functions if f.oid != fn.oid))

    def with_trigger(self, trg: UserTrigger) -> Routines:
        kept = tuple(t for t in self.triggers if not (t.name == trg.name and t.table == trg.table))
        return replace(self, triggers=(*kept, trg))

    def without_trigger(self, trg: UserTrigger) -> Routines:
        return replace(self, triggers=tuple(t for t in self.triggers if t.oid != trg.oid))

    def digest(self) -> str:
        """"" when there are none (fingerprints of databases without functions do not change)."""
        if not self.functions and not self.triggers:
            return ""
        return hashlib.blake2b(repr(self).encode(), digest_size=8).hexdigest()


EMPTY = Routines()


def load_routines(conn: Any, present: set[str]) -> Routines:
    """Read both tables (absent until the first CREATE FUNCTION)."""
    functions: list[UserFunction] = []
    triggers: list[UserTrigger] = []
    if FUNCTIONS in present:
        for row in conn.execute(
                f"SELECT oid, name, arg_names, arg_types, arg_defaults, ret_type, ret_set, out_columns, language, "
                f"body, volatility, strict, definition FROM {FUNCTIONS} ORDER BY oid"):
            out = json.loads(row[7])  # RETURNS TABLE: [[name, type], ...]; OUT parameters: {"modes", "columns"}
            columns = out["columns"] if isinstance(out, dict) else out
            functions.append(UserFunction(
                row[0], row[1], tuple(json.loads(row[2])), tuple(json.loads(row[3])), tuple(json.loads(row[4])),
                row[5], bool(row[6]), tuple((n, t) for n, t in columns), row[8], row[9], row[10],
                bool(row[11]), row[12], out["modes"] if isinstance(out, dict) else ""))
    if TRIGGERS in present:  # its table: where its SQLite trigger is (LIVE_TRIGGERS)
        for row in conn.execute(
                f"SELECT t.oid, t.name, s.tbl_name, t.function, t.timing, t.events, t.level, t.when_sql, t.args, "
                f"t.columns, t.definition FROM {LIVE_TRIGGERS} ORDER BY t.oid"):
            triggers.append(UserTrigger(row[0], row[1], row[2], row[3], row[4], tuple(json.loads(row[5])), row[6],
                                        row[7], tuple(json.loads(row[8])), tuple(json.loads(row[9])), row[10]))
    if not functions and not triggers:
        return EMPTY
    return Routines(tuple(functions), tuple(triggers))

