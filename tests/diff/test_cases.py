"""Every case in tests/diff/cases/*.sql, run on PostgreSQL 15 and on Strata and compared.

``-- case`` entries must agree (column names, type OIDs, rows as text, command status,
SQLSTATE); ``-- refused`` entries must be refused by Strata with 0A000 (documented in
docs/compatibility.md) while PostgreSQL accepts them.
"""

from __future__ import annotations

import pytest

from tests.diff.harness import Case, Differ, all_cases, run_case

CASES = all_cases()


def test_case_files_are_well_formed() -> None:
    assert len(CASES) >= 300
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(differ: Differ, case: Case) -> None:
    run_case(differ, case)
