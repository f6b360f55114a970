"""A session's settings: SET / RESET / SHOW, SET TRANSACTION and SET SESSION CHARACTERISTICS,
and the transaction-scoped bookkeeping that lets ROLLBACK and SET LOCAL restore them.

A mixin of Session (compute/session.py), kept apart so the session module holds the
transaction and execution logic only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from compute import settings as guc
from compute.sql.api import SqlError, Translation
from compute.transaction import Result, Transaction, read_write_during_recovery

if TYPE_CHECKING:
    from compute.engine import Engine


class SessionSettings:
    """SET / SHOW for one session (a mixin of Session, which owns these attributes)."""

    engine: Engine
    settings: dict[str, str]
    startup_settings: dict[str, str]
    txn: Transaction | None
    changed_settings: list[str]

    def _restore_setting(self, name: str, value: str | None) -> None:
        if self.settings.get(name) == value:
            return
        if value is None:
            self.settings.pop(name, None)
        else:
            self.settings[name] = value
        if guc.reported_name(name):
            self.changed_settings.append(name)

    def _set(self, tr: Translation) -> Result:
        name = tr.name.lower()
        if name == "session_characteristics":
            return self._set_characteristics(tr)
        if name in ("transaction", "transaction_isolation", "transaction_read_only"):
            return self._set_transaction(tr)
        tag = "RESET" if tr.value is None and tr.tag == "RESET" else "SET"
        if name == "all" and tr.value is None:
            for key in list(self.settings):
                if key in guc.DEFAULTS and key not in guc.READ_ONLY:
                    self._assign(key, self.startup_settings.get(key, guc.DEFAULTS[key]), tr.is_local)
            return Result(tag)
        if tr.value is None:  # RESET / SET ... TO DEFAULT: the value the session started with
            value = guc.reset_value(tr.name)
            value = self.startup_settings.get(name, value)
        else:
            value = guc.normalize(name, tr.value, self.settings.get(name))
        self._assign(name, value, tr.is_local)
        return Result(tag)

    def _set_transaction(self, tr: Translation) -> Result:
        """SET TRANSACTION ... and SET transaction_isolation / transaction_read_only = value."""
        txn = self.txn
        isolation, read_only = tr.isolation, tr.read_only
        name = tr.name.lower()
        if name == "transaction_isolation" and tr.value is not None:
            isolation = guc.normalize("default_transaction_isolation", tr.value)
        elif name == "transaction_read_only" and tr.value is not None:
            read_only = guc.normalize("default_transaction_read_only", tr.value) == "on"
        if txn is None:
            return Result("SET", notices=[("25P01", "SET TRANSACTION can only be used in "
                                                     "transaction blocks")])
        if isolation:
            if txn.queried:
                raise SqlError("25001", "SET TRANSACTION ISOLATION LEVEL must be called before "
                                        "any query")
            txn.isolation = isolation.lower()
        if read_only is not None:
            if read_only is False and self.engine.read_only:
                raise read_write_during_recovery()
            if read_only is False and txn.read_only and txn.queried:
                raise SqlError("25001", "transaction read-write mode must be set before any query")
            txn.read_only = read_only
        return Result("SET")

    def _set_characteristics(self, tr: Translation) -> Result:
        """SET SESSION CHARACTERISTICS AS TRANSACTION ...: the defaults of later transactions."""
        if tr.isolation:
            self._assign("default_transaction_isolation", tr.isolation.lower(), False)
        if tr.read_only is not None:
            self._assign("default_transaction_read_only", "on" if tr.read_only else "off", False)
        return Result("SET")

    def _assign(self, name: str, value: str, local: bool, before: tuple[str | None] | None = None) -> None:
        """Set ``name`` for the session (or the transaction, ``local``), remembering what ROLLBACK
        and the end of SET LOCAL restore; ``before`` is the value before the statement when the
        statement itself already changed it (set_config() writes the shared settings at once)."""
        prior = self.settings.get(name) if before is None else before[0]
        if self.txn is not None:
            self.txn.settings_before.setdefault(name, prior)
        if local:
            if self.txn is None:
                if before is not None:  # set_config(..., true) outside a block: gone with the statement
                    self._restore_setting(name, prior)
                return  # PostgreSQL warns and ignores SET LOCAL outside a transaction
            self.txn.saved_settings.setdefault(name, prior if prior is not None else "")
        elif self.txn is not None:
            self.txn.saved_settings.pop(name, None)
        self.settings[name] = value
        if guc.reported_name(name):
            self.changed_settings.append(name)

    def _apply_set_config(self, changed: dict[str, tuple[str, bool, str | None]]) -> None:
        """The settings a statement changed with set_config(): scoped as SET would scope them."""
        for name, (value, local, before) in changed.items():
            self._assign(name.lower(), value, local, before=(before,))

    def _isolation_now(self) -> str:
        """The current transaction's isolation level, else the session default."""
        if self.txn is not None:
            return self.txn.isolation
        return self.settings.get("default_transaction_isolation", "read committed")

    def _read_only_now(self) -> bool:
        """Whether the statement runs read-only: the transaction's mode, else the session default
        (a statement outside a block is its own transaction)."""
        if self.engine.read_only:
            return True
        if self.txn is not None:
            return self.txn.read_only
        return self.settings.get("default_transaction_read_only", "off") == "on"

    def _show(self, tr: Translation) -> Result:
        name = tr.name.lower()
        if name == "all":
            rows = [(k, v, "") for k, v in sorted(self.settings.items())]
            return Result("SHOW", rows=rows, translation=tr)
        if name == "transaction_isolation":
            value = self._isolation_now()
        elif name == "transaction_read_only":
            value = "on" if self._read_only_now() else "off"
        elif name == "in_hot_standby":
            value = self.engine.in_hot_standby()
        else:
            value = guc.current_value(self.settings, tr.name)
        return Result("SHOW", rows=[(value,)], translation=tr)
