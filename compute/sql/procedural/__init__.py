"""User functions, DO blocks, PL/pgSQL and triggers (docs/procedural.md).

catalog.py (records and the ``__strata_functions`` / ``__strata_triggers`` tables, a leaf the
Catalog loads), lexer.py + parser.py (PL/pgSQL text -> statement tree), interpreter.py (runs the
tree, every SQL fragment through the translator on the same connection), runtime.py (the SQLite
UDFs ``__strata_call``, ``__strata_do``, ``__strata_fire`` registered on every connection).
"""
