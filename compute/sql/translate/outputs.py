"""What a Translation reports besides its SQL: the row description of its result columns and the
statement-level facts the session needs (shared by the statement dispatch and COPY)."""

from __future__ import annotations

from typing import TypedDict

from compute import pgtypes as T
from compute.sql.api import ColumnDesc
from compute.sql.catalog.catalog import Catalog
from compute.sql.translate.query import OutColumn
from compute.sql.translate.scope import State


def column_descs(cols: list[OutColumn], catalog: Catalog | None = None) -> tuple[ColumnDesc, ...]:
    def elem(oid: int) -> int:
        enum = catalog.enum_of_array(oid) if catalog is not None else None
        return enum.oid if enum is not None else 0

    return tuple(ColumnDesc(c.name, c.ty.oid if c.ty.oid != T.UNKNOWN else T.TEXT, c.ty.typmod, c.table_oid,
                            c.attnum, elem(c.ty.oid)) for c in cols)


class StateFields(TypedDict):
    write_command: str | None
    off_loop: bool


def state_fields(state: State) -> StateFields:
    """What the session needs to know beyond the SQL: how PostgreSQL names a write in a 25006
    refusal, and whether the statement calls the node (then it never runs on the event loop)."""
    return {"write_command": state.write_command or None, "off_loop": bool(state.off_loop)}
