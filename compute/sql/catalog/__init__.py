"""The PostgreSQL catalog of a database: ``catalog`` (the Catalog snapshot and the SQL that
maintains the ``__strata_*`` tables), ``objects`` (the records it holds), ``system`` (the
pg_catalog / information_schema relations), ``pg_catalog`` (their UDFs and per-connection
install), ``ruleutils`` (deparsing stored expressions for pg_get_expr and friends).

Nothing is imported here: import the module you need.
"""
