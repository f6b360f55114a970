"""Run-time values of PL/pgSQL: typed variables and records (storage values, as SQLite holds them),
PostgreSQL's condition names, and the text form RAISE prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compute import pgtypes as T
from compute.sql.api import SqlError


@dataclass
class Var:
    oid: int  # PostgreSQL type
    value: Any  # storage value (None = NULL)
    type_text: str = ""  # as declared (keeps typmods for the assignment cast)
    constant: bool = False
    not_null: bool = False


@dataclass
class Rec:
    """A record variable (NEW, OLD, FOR r IN query, SELECT INTO r): None until assigned."""

    fields: dict[str, tuple[int, Any]] | None = None
    types: dict[str, str] = field(default_factory=dict)  # field -> type text (NEW/OLD: column types)
    null: bool = False  # OLD in an INSERT trigger, NEW in a DELETE one: fields read as NULL

    @property
    def is_null(self) -> bool:
        return self.fields is None or self.null

    def text(self) -> str:
        if self.fields is None:
            return ""
        return "(" + ",".join(_record_field(oid, v) for oid, v in self.fields.values()) + ")"


def _record_field(oid: int, value: Any) -> str:
    if value is None:
        return ""
    text = value_text(oid, value)
    if text == "" or any(c in text for c in ' ,()"\\'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def value_text(oid: int, value: Any) -> str:
    """PostgreSQL's output form of a storage value (RAISE's %, SQLERRM, EXECUTE strings)."""
    if value is None:
        return ""
    try:
        return T.encode_text(oid, value).decode("utf-8", "replace")
    except Exception:  # an unexpected storage form: print it as SQLite holds it
        return str(value)


# PostgreSQL's condition names (errcodes.txt) that PL/pgSQL handlers commonly name; a name ending
# in 000 is a class and matches every code of the class.
CONDITIONS: dict[str, str] = {
    "successful_completion": "00000", "warning": "01000", "no_data": "02000",
    "sql_statement_not_yet_complete": "03000", "connection_exception": "08000",
    "feature_not_supported": "0A000", "invalid_transaction_state": "25000",
    "cardinality_violation": "21000", "data_exception": "22000", "string_data_right_truncation": "22001",
    "null_value_not_allowed": "22004", "numeric_value_out_of_range": "22003",
    "invalid_datetime_format": "22007", "datetime_field_overflow": "22008", "division_by_zero": "22012",
    "invalid_parameter_value": "22023", "invalid_text_representation": "22P02",
    "invalid_escape_sequence": "22025", "character_not_in_repertoire": "22021",
    "integrity_constraint_violation": "23000", "restrict_violation": "23001", "not_null_violation": "23502",
    "foreign_key_violation": "23503", "unique_violation": "23505", "check_violation": "23514",
    "exclusion_violation": "23P01", "invalid_cursor_state": "24000", "read_only_sql_transaction": "25006",
    "serialization_failure": "40001", "deadlock_detected": "40P01", "syntax_error_or_access_rule_violation": "42000",
    "syntax_error": "42601", "insufficient_privilege": "42501", "undefined_column": "42703",
    "undefined_function": "42883", "undefined_table": "42P01", "undefined_object": "42704",
    "duplicate_table": "42P07", "duplicate_object": "42710", "duplicate_column": "42701",
    "datatype_mismatch": "42804", "wrong_object_type": "42809", "invalid_column_reference": "42P10",
    "ambiguous_column": "42702", "object_not_in_prerequisite_state": "55000", "lock_not_available": "55P03",
    "query_canceled": "57014", "plpgsql_error": "P0000", "raise_exception": "P0001",
    "no_data_found": "P0002", "too_many_rows": "P0003", "assert_failure": "P0004",
    "internal_error": "XX000", "program_limit_exceeded": "54000", "insufficient_resources": "53000",
    "invalid_authorization_specification": "28000", "dependent_objects_still_exist": "2BP01",
}


def condition_matches(condition: str, sqlstate: str) -> bool:
    """WHEN condition: a name, ``sqlstate:xxxxx`` or OTHERS (all but cancel and assert)."""
    if condition == "others":
        return sqlstate not in ("57014", "P0004")
    code = condition[9:] if condition.startswith("sqlstate:") else CONDITIONS.get(condition)
    if code is None:
        raise SqlError("42704", f'unrecognized exception condition "{condition}"')
    if code.endswith("000"):
        return sqlstate[:2] == code[:2]
    return sqlstate == code
