"""Django scenarios run in a subprocess (Django settings are process-global).

Usage: ``python -m tests.orm.django_scenarios DSN SCENARIO`` prints the scenario's result as JSON
on stdout, so the same code runs against PostgreSQL 15 and Strata and the outputs are compared.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import django
from django.conf import settings


def configure(dsn: str) -> None:
    url = urlparse(dsn)
    settings.configure(
        DEBUG=False,
        USE_TZ=True,
        TIME_ZONE="UTC",
        SECRET_KEY="strata-tests",
        INSTALLED_APPS=[
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.admin",
            "django.contrib.messages",
            "tests.orm.django_app.apps.DjangoAppConfig",
        ],
        DATABASES={"default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": url.path.lstrip("/") or "postgres",
            "USER": url.username or "postgres",
            "HOST": url.hostname or "127.0.0.1",
            "PORT": str(url.port or 5432),
        }},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


def scenario_migrate() -> Any:
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    with connection.cursor() as cur:
        cur.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
        applied = [list(r) for r in cur.fetchall()]
    tables = sorted(connection.introspection.table_names())
    return {"applied": applied, "tables": tables}


def scenario_crud() -> Any:
    """ORM reads and writes; returns plain data to compare between PostgreSQL and Strata."""
    import datetime
    from decimal import Decimal

    from django.contrib.auth.models import User
    from django.db import IntegrityError, connection, transaction
    from django.db.models import Avg, Count, F, Max, Q, Sum
    from django.db.models.functions import Lower

    from tests.orm.django_app.models import Author, Book, Publisher, Review, Tag

    out: dict[str, Any] = {}
    utc = datetime.UTC
    acme = Publisher.objects.create(name="Acme", country="US", founded=datetime.date(1990, 5, 1))
    orbit = Publisher.objects.create(name="Orbit")
    ann = Author.objects.create(first_name="Ann", last_name="Lee", email="ann@example.com", age=41,
                                followers=10**12, joined=datetime.datetime(2020, 1, 2, 3, 4, 5, tzinfo=utc))
    bob = Author.objects.create(first_name="Bob", last_name="Stone", age=None, active=False,
                                joined=datetime.datetime(2021, 6, 7, 8, 9, 10, tzinfo=utc))
    tags = Tag.objects.bulk_create([Tag(label="scifi"), Tag(label="poetry"), Tag(label="classic")])
    out["bulk_ids"] = [t.pk for t in tags]
    books = Book.objects.bulk_create([
        Book(title="Dune Notes", author=ann, publisher=acme, price=Decimal("12.50"), pages=300,
             published=datetime.date(2001, 3, 4), metadata={"isbn": "1", "tags": ["a", "b"]}, in_print=True),
        Book(title="Sonnets", author=ann, publisher=orbit, price=Decimal("7.25"), pages=80,
             published=datetime.date(1999, 12, 31), metadata={"isbn": "2"}),
        Book(title="Stone Age", author=bob, publisher=None, price=Decimal("20.00"), pages=512,
             published=None, in_print=False),
    ])
    books[0].tags.add(tags[0], tags[2])
    books[1].tags.add(tags[1], tags[2])
    user = User.objects.create_user("reader", "r@example.com", "pw")
    Review.objects.create(book=books[0], reviewer=user, rating=5, body="great", stars=4.5)
    Review.objects.create(book=books[0], rating=3, body="ok")

    out["get"] = Author.objects.get(last_name="Lee").followers
    out["select_related"] = [(b.title, b.author.last_name, b.publisher.name if b.publisher else None)
                             for b in Book.objects.select_related("author", "publisher").order_by("title")]
    out["prefetch"] = [(a.last_name, [b.title for b in a.books.all()])
                       for a in Author.objects.prefetch_related("books").order_by("last_name")]
    out["m2m"] = [(b.title, sorted(t.label for t in b.tags.all()))
                  for b in Book.objects.prefetch_related("tags").order_by("id")]
    out["icontains"] = list(Book.objects.filter(title__icontains="STONE").values_list("title", flat=True))
    out["in"] = list(Book.objects.filter(pages__in=[80, 512]).order_by("pages").values_list("pages", flat=True))
    out["range"] = list(Book.objects.filter(price__range=(Decimal("7"), Decimal("13"))).order_by("price")
                        .values_list("title", flat=True))
    out["gt"] = Book.objects.filter(pages__gt=100).count()
    out["isnull"] = list(Book.objects.filter(published__isnull=True).values_list("title", flat=True))
    out["year"] = list(Book.objects.filter(published__year=2001).values_list("title", flat=True))
    out["date_lookups"] = [
        Book.objects.filter(published__month=12, published__day=31).count(),
        Book.objects.filter(published__lt=datetime.date(2000, 1, 1)).count(),
        Author.objects.filter(joined__date=datetime.date(2021, 6, 7)).count(),
        Author.objects.filter(joined__year__gte=2021).count(),
        Author.objects.filter(joined__week_day=5).count(),
        Author.objects.filter(joined__quarter=1).count(),
        Book.objects.filter(published__iso_year=2001).count(),
    ]
    out["json"] = list(Book.objects.filter(metadata__isbn="1").values_list("title", flat=True))
    out["json_has_key"] = Book.objects.filter(metadata__has_key="tags").count()
    out["json_contains"] = Book.objects.filter(metadata__contains={"isbn": "2"}).count()
    out["q_objects"] = list(Book.objects.filter(Q(pages__lt=100) | Q(publisher__isnull=True))
                            .order_by("-pages").values_list("title", flat=True))
    out["startswith"] = list(Author.objects.filter(last_name__startswith="St").values_list("first_name", flat=True))
    out["annotate"] = list(Author.objects.annotate(n=Count("books"), total=Sum("books__price"))
                           .order_by("last_name").values_list("last_name", "n", "total"))
    out["aggregate"] = Book.objects.aggregate(n=Count("id"), s=Sum("pages"), a=Avg("price"), m=Max("published"))
    out["values"] = list(Book.objects.order_by("title").values("title", "author__first_name", "price"))
    out["values_list"] = list(Book.objects.annotate(low=Lower("title")).order_by("-low").values_list("low", "pages"))
    out["group_by"] = list(Book.objects.values("author__last_name").annotate(c=Count("id"), avg=Avg("pages"))
                           .order_by("author__last_name"))
    out["review_avg"] = Review.objects.aggregate(avg=Avg("rating"), maxs=Max("stars"))
    out["distinct"] = list(Tag.objects.filter(books__author=ann).distinct().order_by("label")
                           .values_list("label", flat=True))
    out["exists"] = Author.objects.filter(books__reviews__rating__gte=5).exists()
    out["slice"] = list(Book.objects.order_by("pages").values_list("pages", flat=True)[1:3])

    out["update"] = Book.objects.filter(author=ann).update(price=F("price") + 1)
    out["after_update"] = [str(p) for p in Book.objects.order_by("id").values_list("price", flat=True)]
    goc1 = Publisher.objects.get_or_create(name="Acme", defaults={"country": "XX"})
    goc2 = Publisher.objects.get_or_create(name="Tor", defaults={"country": "UK"})
    out["get_or_create"] = [(goc1[0].country, goc1[1]), (goc2[0].country, goc2[1])]
    uoc = Publisher.objects.update_or_create(name="Tor", defaults={"country": "CA"})
    out["update_or_create"] = (uoc[0].country, uoc[1])

    with transaction.atomic():
        Tag.objects.create(label="kept")
        try:
            with transaction.atomic():  # a savepoint
                Tag.objects.create(label="dropped")
                raise RuntimeError("roll back the savepoint")
        except RuntimeError:
            pass
    try:
        with transaction.atomic():
            Tag.objects.create(label="outer-dropped")
            raise RuntimeError("roll back everything")
    except RuntimeError:
        pass
    out["atomic"] = sorted(Tag.objects.filter(label__contains="e").values_list("label", flat=True))

    try:
        with transaction.atomic():
            Author.objects.create(first_name="Ann", last_name="Lee", joined=datetime.datetime(2022, 1, 1, tzinfo=utc))
        out["unique"] = "no error"
    except IntegrityError as exc:
        out["unique"] = getattr(exc.__cause__, "sqlstate", None)
    try:
        with transaction.atomic():
            Book.objects.create(title="Bad", author=ann, price=Decimal("-1"))
        out["check"] = "no error"
    except IntegrityError as exc:
        out["check"] = getattr(exc.__cause__, "sqlstate", None)
    try:
        with transaction.atomic():
            Book.objects.create(title="Orphan", author_id=999999)
        out["deferred_fk"] = "no error"
    except IntegrityError as exc:  # raised at COMMIT: Django's foreign keys are deferred
        out["deferred_fk"] = getattr(exc.__cause__, "sqlstate", None)
    with transaction.atomic():
        # a row may point at a parent created later in the same transaction
        orphan = Book.objects.create(title="Early", author_id=ann.pk + 100)
        late = Author.objects.create(id=ann.pk + 100, first_name="Late", last_name="Comer",
                                     joined=datetime.datetime(2023, 1, 1, tzinfo=utc))
        out["deferred_ok"] = orphan.author_id == late.pk
    try:
        with transaction.atomic():
            Book.objects.create(title="Checked", author_id=ann.pk + 200)
            connection.check_constraints()  # SET CONSTRAINTS ALL IMMEDIATE, as Django's TestCase does
        out["check_constraints"] = "no error"
    except IntegrityError as exc:
        out["check_constraints"] = getattr(exc.__cause__, "sqlstate", None)
    with transaction.atomic():
        Book.objects.create(title="Fixed later", author_id=ann.pk + 300)
        sid = transaction.savepoint()
        Book.objects.create(title="Rolled back", author_id=ann.pk + 400)
        transaction.savepoint_rollback(sid)  # forgets the queued check of the rolled-back row
        Author.objects.create(id=ann.pk + 300, first_name="Fix", last_name="Er",
                              joined=datetime.datetime(2023, 2, 1, tzinfo=utc))
        connection.check_constraints()
    out["fixed_later"] = Book.objects.filter(title__in=["Fixed later", "Rolled back"]).count()
    with connection.cursor() as cur:
        cur.execute("SELECT setval(pg_get_serial_sequence('strata_app_author', 'id'), "
                    "(SELECT max(id) FROM strata_app_author))")
    out["protect"] = None
    from django.db.models import ProtectedError
    try:
        books[0].delete()
    except ProtectedError:
        out["protect"] = "protected"
    Review.objects.all().delete()
    deleted = ann.delete()
    out["delete"] = deleted
    out["remaining"] = list(Book.objects.order_by("title").values_list("title", "author__last_name"))
    out["set_null"] = Publisher.objects.filter(name="Orbit").delete()
    out["counts"] = [Author.objects.count(), Book.objects.count(), Tag.objects.count(), Publisher.objects.count()]
    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM strata_app_book_tags")
        out["m2m_rows"] = cur.fetchone()[0]
    return out


def scenario_inspectdb() -> Any:
    from django.core.management import call_command

    out = io.StringIO()
    call_command("inspectdb", stdout=out)
    return out.getvalue()


SCENARIOS: dict[str, Callable[[], Any]] = {
    "migrate": scenario_migrate,
    "inspectdb": scenario_inspectdb,
    "crud": scenario_crud,
}


def main() -> None:
    dsn, name = sys.argv[1], sys.argv[2]
    configure(dsn)
    result = SCENARIOS[name]()
    json.dump(result, sys.stdout, default=str, sort_keys=True)


if __name__ == "__main__":
    main()
