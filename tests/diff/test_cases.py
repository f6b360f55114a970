"""Every case in tests/diff/cases/*.sql, run on PostgreSQL 15 and on Strata and compared.

``-- case`` entries must agree (column names, type OIDs, rows as text, command status,
SQLSTATE); ``-- refused`` entries must be refused by Strata with 0A000 (documented in
docs/compatibility.md) while PostgreSQL accepts them.

Cases listed in ``known_differences.txt`` (case name, tab, reason) are differences we know about
and document in docs/compatibility.md; for them the test asserts that the difference is still
there, so fixing one makes its test fail until the entry is removed (nothing is skipped).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.diff.harness import Case, Differ, all_cases, compare, has_top_level_order_by, run_case

CASES = all_cases()
KNOWN_FILE = Path(__file__).resolve().parent / "known_differences.txt"


def _known() -> dict[str, str]:
    out: dict[str, str] = {}
    for line in KNOWN_FILE.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, reason = line.partition("\t")
            out[name.strip()] = reason.strip()
    return out


KNOWN = _known()


def test_case_files_are_well_formed() -> None:
    assert len(CASES) >= 300
    names = {c.name for c in CASES}
    assert len(names) == len(CASES)
    assert not set(KNOWN) - names, "known_differences.txt names cases that do not exist"
    assert all(KNOWN.values()), "every known difference needs a reason"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(differ: Differ, case: Case) -> None:
    if case.name not in KNOWN:
        run_case(differ, case)
        return
    pg, st = differ.run_both(case.query, case.setup, case.params)
    ordered = has_top_level_order_by(case.query) if case.ordered is None else case.ordered
    problems = compare(pg, st, ordered=ordered, check_message=case.check_message)
    assert problems, (f"{case.name} now agrees with PostgreSQL: remove it from known_differences.txt "
                      f"(was: {KNOWN[case.name]})")
