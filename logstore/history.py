"""Term histories: which term wrote which LSN range, and where two logs stop agreeing.

A history is a list of (term, start LSN) with strictly increasing terms and non-decreasing
starts. Records in [start_i, start_{i+1}) were written by the proposer of term i, so two
logs whose histories share an entry hold identical records over the range both cover.
"""

from __future__ import annotations

from logstore.errors import InvalidRequestError

History = list[tuple[int, int]]


def validate(history: History) -> None:
    prev_term, prev_start = 0, 0
    for term, start in history:
        if term <= prev_term or start < prev_start:
            raise InvalidRequestError(f"term history is not increasing: {history}")
        prev_term, prev_start = term, start


def up_to(history: History, lsn: int) -> History:
    """The entries that describe records below ``lsn`` (or begin exactly at it)."""
    return [(t, s) for t, s in history if s <= lsn]


def last_term(history: History) -> int:
    return history[-1][0] if history else 0


def term_at(history: History, lsn: int) -> int:
    """The term that wrote (or will write) the record starting at ``lsn``."""
    term = 0
    for t, s in history:
        if s > lsn:
            break
        term = t
    return term


def common_end(acc: History, acc_flush: int, prop: History, prop_end: int) -> int:
    """The LSN up to which an acceptor's log (history ``acc`` up to ``acc_flush``) is a
    prefix of the proposer's log; the acceptor must be truncated there."""
    i = 0
    while i < min(len(acc), len(prop)) and acc[i] == prop[i]:
        i += 1
    if i == 0:
        return 0
    end_a = acc[i][1] if i < len(acc) else acc_flush
    end_p = prop[i][1] if i < len(prop) else prop_end
    return min(end_a, end_p, acc_flush)
