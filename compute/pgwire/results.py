"""Result rows on the wire: the row type a statement announces, and value encoders per format."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from compute import pgtypes
from compute.sql import canonical_setting_name
from compute.sql.api import ColumnDesc, Kind, SqlError, Translation
from strata.pgwire import messages as m

_TEXT = 25  # the text type's OID

Encoder = Callable[[Any], bytes | None]
"""A result value (as SQLite returns it) -> its PostgreSQL wire form (None: NULL)."""


_SHOW = Kind.SHOW  # (an enum class attribute is a slow lookup on 3.11: compute/transaction.py)


def result_shape(tr: Translation) -> tuple[tuple[str, int, int, int], ...] | None:
    """What the client was told at Describe: the row type (names, types, typmods), if any."""
    if tr.kind not in (Kind.QUERY, Kind.SHOW):
        return None
    return tuple((c.name, c.type_oid, c.typmod, c.elem_oid) for c in result_columns(tr))


def result_columns(tr: Translation) -> tuple[ColumnDesc, ...]:
    if tr.kind is _SHOW:
        if tr.name.lower() == "all":
            return (ColumnDesc("name", _TEXT), ColumnDesc("setting", _TEXT),
                    ColumnDesc("description", _TEXT))
        return (ColumnDesc(canonical_setting_name(tr.name), _TEXT),)  # SHOW timezone: "TimeZone"
    return tr.columns


def text_encoder(oid: int, elem_oid: int = 0) -> Callable[[Any], str]:
    """Value → PostgreSQL text output (str), for COPY (``elem_oid``: an array of that enum)."""
    enc = pgtypes.user_array_encoder(elem_oid, binary=False) if elem_oid else pgtypes.text_encoder(oid)

    def to_str(v: Any) -> str:
        out = enc(v)
        return out.decode() if isinstance(out, bytes | bytearray) else str(out)

    return to_str


def row_encoders(columns: tuple[ColumnDesc, ...], formats: list[int]
                 ) -> list[Callable[[Any], bytes | None]]:
    fmts = m.formats_for(formats, len(columns))
    out: list[Callable[[Any], bytes | None]] = []
    for col, fmt in zip(columns, fmts, strict=True):
        if col.elem_oid:
            enc = pgtypes.user_array_encoder(col.elem_oid, binary=fmt != 0)
        else:
            enc = pgtypes.text_encoder(col.type_oid) if fmt == 0 else \
                pgtypes.binary_encoder(col.type_oid)

        def encode(v: Any, enc: Callable[[Any], bytes] = enc) -> bytes | None:
            return None if v is None else enc(v)

        out.append(encode)
    return out


@functools.lru_cache(maxsize=1024)
def cached_row_encoders(columns: tuple[ColumnDesc, ...], formats: tuple[int, ...]
                        ) -> list[Callable[[Any], bytes | None]]:
    """Encoders for a result shape; simple-query results of one statement shape share them."""
    return row_encoders(columns, list(formats))


@functools.lru_cache(maxsize=1024)
def cached_row_description(columns: tuple[ColumnDesc, ...], formats: tuple[int, ...]) -> bytes:
    return m.row_description(columns, list(formats))


def send_rows(out: list[bytes], rows: list[tuple[Any, ...]], encoders: list[Encoder]) -> None:
    """DataRow messages of ``rows`` appended to ``out`` (a connection's queue); a value that
    cannot be encoded is 22000."""
    append = out.append
    data_row = m.data_row
    try:
        if len(encoders) == 1:  # one column (point lookups): no zip and list per row
            enc = encoders[0]
            for row in rows:
                append(data_row((enc(row[0]),) if row else ()))
            return
        for row in rows:
            append(data_row([enc(v) for enc, v in zip(encoders, row, strict=False)]))
    except SqlError:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise SqlError("22000", f"could not encode a result value: {exc}") from exc


MAX_KEPT_OUTPUTS = 1024  # result shapes (columns tuples) whose encoders and RowDescription are kept
_OUTPUTS: dict[int, tuple[tuple[ColumnDesc, ...], list[int], list[Encoder], bytes]] = {}


def row_output(columns: tuple[ColumnDesc, ...], formats: list[int]) -> tuple[list[Encoder], bytes]:
    """(encoders, RowDescription) of a result shape in a result-format list: those of
    ``cached_row_encoders`` and ``cached_row_description``, kept by the columns tuple's
    identity. A shape's template or a cached translation gives the same tuple object for every
    statement, and an id() and a dict lookup cost less than the lru caches' key, which hashes
    every ColumnDesc through the dataclass's Python ``__hash__``. An entry holds its tuple,
    so the id is not reused while the entry is kept; the tuple is immutable, so what was built
    from it is still its answer."""
    kept = _OUTPUTS.get(id(columns))
    if kept is not None and kept[0] is columns and kept[1] == formats:
        return kept[2], kept[3]
    key = tuple(formats)
    encoders = cached_row_encoders(columns, key)
    description = cached_row_description(columns, key)
    if len(_OUTPUTS) >= MAX_KEPT_OUTPUTS:
        _OUTPUTS.clear()
    _OUTPUTS[id(columns)] = (columns, list(formats), encoders, description)
    return encoders, description


MAX_CACHED_TAGS = 512  # CommandComplete messages kept built, by tag ("SELECT 1", "UPDATE 1", ...)
_COMPLETE: dict[str, bytes] = {}


def command_complete(tag: str) -> bytes:
    """CommandComplete for ``tag``, built once per tag (a point query's is always "SELECT 1")."""
    done = _COMPLETE.get(tag)
    if done is None:
        if len(_COMPLETE) >= MAX_CACHED_TAGS:
            _COMPLETE.clear()
        done = _COMPLETE[tag] = m.command_complete(tag)
    return done
