"""now() / CURRENT_TIMESTAMP's short cuts (compute/sql/functions/datetime.py) give exactly what
the general formatting and parsing give: ``naive_text`` is ``format_timestamp``, and
``pg_tstz_to_ts(pg_now())`` (CURRENT_TIMESTAMP into a timestamp column) converts the
transaction's instant without parsing its text back, in every time zone."""

from __future__ import annotations

import datetime as dt
import random

import apsw

from compute.pgtypes import format_timestamp, get_zone
from compute.sql.functions.datetime import naive_text, register_udfs, tstz_to_ts, utc_text
from compute.sql.functions.session import SessionContext

ZONES = ("UTC", "Europe/Berlin", "America/St_Johns", "Asia/Kathmandu", "Australia/Lord_Howe",
         "+05:30", "-3", "America/New_York")


def test_naive_text_is_format_timestamp() -> None:
    rnd = random.Random(16)
    for _ in range(20_000):
        micro = rnd.choice([0, 500_000, 10, rnd.randrange(1_000_000), rnd.randrange(100) * 10_000])
        value = dt.datetime(rnd.randint(1, 9999), rnd.randint(1, 12), rnd.randint(1, 28),
                            rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59), micro)
        assert naive_text(value) == format_timestamp(value)
        assert utc_text(value.replace(tzinfo=dt.UTC)) == format_timestamp(value) + "+00"
        east = value.replace(tzinfo=dt.timezone(dt.timedelta(hours=3)))
        if value.year > 1:
            assert utc_text(east) == format_timestamp(value - dt.timedelta(hours=3)) + "+00"


def test_current_timestamp_as_timestamp_matches_the_general_path() -> None:
    ctx = SessionContext()
    conn = apsw.Connection(":memory:")
    register_udfs(conn, ctx)
    rnd = random.Random(5)
    # instants around DST changes and at whole seconds (no fraction)
    starts = [dt.datetime(2026, 3, 29, 0, 59, 59, 999_999, dt.UTC),
              dt.datetime(2026, 3, 29, 1, 0, 0, 0, dt.UTC),
              dt.datetime(2026, 10, 25, 0, 30, 0, 120_000, dt.UTC),
              dt.datetime(2026, 11, 1, 6, 0, 0, 0, dt.UTC)]
    starts += [dt.datetime.fromtimestamp(rnd.uniform(0, 2e9), dt.UTC) for _ in range(200)]
    for start in starts:
        ctx.txn_start = start
        for zone in ZONES:
            ctx.timezone = zone  # SET TIME ZONE inside the transaction: same instant, new zone
            (fast, now), = conn.execute("SELECT pg_tstz_to_ts(pg_now()), pg_now()")
            assert now == utc_text(start)
            assert fast == tstz_to_ts(ctx, now)
            # a text that is not now()'s goes the general way
            (other,), = conn.execute("SELECT pg_tstz_to_ts(?)", ("2001-02-03 04:05:06.5+02",))
            assert other == tstz_to_ts(ctx, "2001-02-03 04:05:06.5+02")
            (again,), = conn.execute("SELECT pg_tstz_to_ts(?)", (now,))
            assert again == fast
    # outside a transaction now() is the clock at each call: not a stale cached instant
    ctx.txn_start = None
    ctx.timezone = "Europe/Berlin"
    for _ in range(3):
        (fast,), = conn.execute("SELECT pg_tstz_to_ts(pg_now())")
        berlin = dt.datetime.now(dt.UTC).astimezone(get_zone("Europe/Berlin")).replace(tzinfo=None)
        assert abs(dt.datetime.fromisoformat(fast) - berlin) < dt.timedelta(seconds=5)
