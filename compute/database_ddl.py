"""CREATE, ALTER and DROP DATABASE for a session (translated in
compute/sql/translate/database_ddl.py; the registry is compute/engine.py's).

CREATE DATABASE … OWNER: the role must exist where the statement runs (42704 otherwise, as
PostgreSQL): the session user, or a row of this database's roles. Roles are per database
here, so the owner's row (attributes and password verifier) is copied into the new database:
``CREATE ROLE app LOGIN PASSWORD …; CREATE DATABASE appdb OWNER app`` lets ``app`` log in to
``appdb``. Later changes to the role in one database do not reach the other (docs/compute.md).
ALTER DATABASE … OWNER TO does the same for an existing database (outside a transaction
block: the row is written to the other database at once, so a ROLLBACK could not undo it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from compute.engine import read_only_error
from compute.sql import ROLES
from compute.sql.api import Kind, SqlError, Translation
from compute.transaction import Result

if TYPE_CHECKING:
    from compute.session import Session

async def run(session: Session, tr: Translation) -> Result:
    if session.engine.read_only:
        raise read_only_error(tr.tag)
    if session.txn is not None and (tr.kind is not Kind.ALTER_DATABASE or tr.owner is not None):
        what = "ALTER DATABASE … OWNER TO" if tr.kind is Kind.ALTER_DATABASE else tr.tag
        raise SqlError("25001", f"{what} cannot run inside a transaction block")
    if tr.kind is Kind.CREATE_DATABASE:
        owner = None if tr.owner is None else owner_row(session, tr.owner)
        await session.engine.create_database(tr.name, tr.template, owner)
        return Result("CREATE DATABASE")
    if tr.kind is Kind.ALTER_DATABASE:
        engine = session.engine
        if tr.name not in engine.registry.ids and tr.name not in ("template0", "template1"):
            raise SqlError("3D000", f'database "{tr.name}" does not exist')
        owner = None if tr.owner is None else owner_row(session, tr.owner)
        if owner is not None and tr.name != session.db.name and tr.name in engine.registry.ids:
            await engine.add_role(tr.name, owner)
        return Result("ALTER DATABASE", notices=[("00000", n) for n in tr.notices])
    notice = await session.engine.drop_database_from(session.db.name, tr.name, tr.if_exists)
    return Result("DROP DATABASE", notices=[("00000", notice)] if notice else [])


def owner_row(session: Session, name: str) -> dict[str, object] | None:
    """The owner's row of roles, or None when the owner is the session user without one;
    42704 when no such role exists here."""
    cur = session.db.catalog_conn.execute(f"SELECT * FROM {ROLES} WHERE name = ?", (name,))
    for row in cur:  # the description is there only while a row is
        return dict(zip((d[0] for d in cur.getdescription()), row, strict=True))
    if name == session.user:
        return None
    raise SqlError("42704", f'role "{name}" does not exist')
