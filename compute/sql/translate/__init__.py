"""Statement translation: ``dispatch`` (one statement -> one Translation) over ``split``, ``parse``,
``tokens`` and ``rewrite``; ``statements`` (transaction control, SET/SHOW, ...), ``copy``, ``query``
(+ ``query_from``, ``query_dml``), ``ddl`` (+ ``ddl_alter``, ``ddl_sql``), ``enums``; the
expression compiler (``scope``, ``expressions*``).

Nothing is imported here (``compute.sql.translate`` the function is defined in compute/sql/__init__.py).
"""
