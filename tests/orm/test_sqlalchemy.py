"""SQLAlchemy 2 (psycopg and asyncpg dialects): create_all/drop_all, CRUD, relationships, joins,
aggregates on Strata give the same results as on PostgreSQL 15."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import (
    ForeignKey,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    create_engine,
    func,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from tests.support import PostgresOracle, StrataProcess


class Base(DeclarativeBase):
    pass


class Author(Base):
    __tablename__ = "orm_authors"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30), unique=True)
    email: Mapped[str | None] = mapped_column(String(100), index=True)
    books: Mapped[list[Book]] = relationship(back_populates="author", cascade="all, delete-orphan",
                                             order_by="Book.id")


class Book(Base):
    __tablename__ = "orm_books"
    __table_args__ = (UniqueConstraint("author_id", "title", name="orm_uq_author_title"),
                      Index("orm_ix_price_title", "price", "title"))
    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("orm_authors.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    price: Mapped[Decimal] = mapped_column(Numeric(10, 2), server_default=text("0"))
    author: Mapped[Author] = relationship(back_populates="books")


def _url(dsn: str, driver: str) -> str:
    return dsn.replace("postgresql://", f"postgresql+{driver}://")


def scenario(url: str) -> dict[str, Any]:
    engine = create_engine(url)
    try:
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        out: dict[str, Any] = {}
        with Session(engine) as session:
            ann = Author(name="ann", email="ann@example.com")
            ann.books = [Book(title="One", price=Decimal("10.50")), Book(title="Two")]
            bob = Author(name="bob")
            bob.books = [Book(title="Three", price=Decimal("7.25"))]
            session.add_all([ann, bob])
            session.commit()
            out["join"] = session.execute(
                select(Author.name, func.count(Book.id), func.sum(Book.price))
                .join(Book).group_by(Author.name).order_by(Author.name)).all()
            out["defaults"] = session.scalars(select(Book.price).where(Book.title == "Two")).all()
            loaded = session.scalars(select(Author).where(Author.name == "ann")).one()
            out["relationship"] = [b.title for b in loaded.books]
            loaded.books[0].price = Decimal("11.00")
            session.commit()
            out["updated"] = session.scalar(select(Book.price).where(Book.title == "One"))
            session.add(Author(name="ann"))
            with pytest.raises(IntegrityError) as info:
                session.commit()
            out["unique_sqlstate"] = getattr(info.value.orig, "sqlstate", None)
            session.rollback()
            session.delete(session.scalars(select(Author).where(Author.name == "ann")).one())
            session.commit()
            out["after_delete"] = session.scalar(select(func.count()).select_from(Book))
        with engine.begin() as conn:
            # ON DELETE CASCADE is enforced by the database, not only by the ORM
            conn.execute(text("DELETE FROM orm_authors WHERE name = 'bob'"))
            out["db_cascade"] = conn.execute(text("SELECT count(*) FROM orm_books")).scalar()
        Base.metadata.drop_all(engine)
        return out
    finally:
        engine.dispose()


def test_psycopg_crud_matches_postgres(strata_shared: StrataProcess, pg_oracle: PostgresOracle) -> None:
    expected = scenario(_url(pg_oracle.dsn, "psycopg"))
    assert expected["join"] == [("ann", 2, Decimal("10.50")), ("bob", 1, Decimal("7.25"))]
    assert scenario(_url(strata_shared.dsn, "psycopg")) == expected


def test_asyncpg_crud_matches_postgres(strata_shared: StrataProcess, pg_oracle: PostgresOracle) -> None:
    async def run(url: str) -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(Base.metadata.drop_all)
                await conn.run_sync(Base.metadata.create_all)
                await conn.execute(Author.__table__.insert(), [{"name": "a"}, {"name": "b"}])
                await conn.execute(Book.__table__.insert(), [
                    {"author_id": 1, "title": "x", "price": Decimal("1.25")},
                    {"author_id": 1, "title": "y", "price": Decimal("2.50")}])
                rows = (await conn.execute(
                    select(Author.name, func.coalesce(func.sum(Book.price), 0))
                    .outerjoin(Book).group_by(Author.name).order_by(Author.name))).all()
                await conn.run_sync(Base.metadata.drop_all)
            return [tuple(r) for r in rows]
        finally:
            await engine.dispose()

    expected = asyncio.run(run(_url(pg_oracle.dsn, "asyncpg")))
    assert asyncio.run(run(_url(strata_shared.dsn, "asyncpg"))) == expected
