"""Client idioms the query compiler has no general support for, rewritten to equivalents before
parsing. Strata has no partitioned tables, so a relation's partition ancestors are itself.
"""

from __future__ import annotations

import re

_IDIOMS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"pg_partition_ancestors\(([^()]*)\)\s+WITH\s+ORDINALITY\s+AS\s+(\w+)\s*\(\s*(\w+)\s*,\s*(\w+)\s*\)",
                re.IGNORECASE),
     r"(SELECT (\1)::regclass AS \3, 1::int8 AS \4) AS \2"),
]


def rewrite_client_idioms(text: str) -> str:
    """Rewrite catalog-query idioms of psql and drivers (see ``_IDIOMS``)."""
    if "ordinality" not in text.lower():
        return text
    for pattern, replacement in _IDIOMS:
        text = pattern.sub(replacement, text)
    return text
