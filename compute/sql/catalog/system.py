"""The pg_catalog and information_schema relations: their PostgreSQL columns and the SQLite
TEMP view bodies over the ``__strata_*`` tables that implement them.

Clients (psql, pgbench, drivers, ORMs) discover the schema with ordinary queries against
pg_catalog. Rather than recognising those queries, we provide real (minimal) relations: each
is a TEMP view created on every connection (``view_statements``, run by
``compute.sql.catalog.pg_catalog.install``) and described here with its PostgreSQL column
types, so queries over them are translated and typed like any other.
"""

from __future__ import annotations

from compute import pgtypes as T
from compute.sql.catalog.objects import ACL as ACL_TABLE
from compute.sql.catalog.objects import (
    COLUMNS,
    COMMENTS,
    CONSTRAINTS,
    ENUMS,
    INDEXES,
    ROLES,
    SCHEMAS,
    SEQUENCES,
    TABLES,
    TYPES,
    Column,
    Table,
)
from compute.sql.procedural.catalog import FUNCTIONS as PROCEDURAL_FUNCTIONS
from compute.sql.procedural.catalog import LIVE_TRIGGERS as PROCEDURAL_LIVE_TRIGGERS

OID, NAME, BOOL, INT2, INT4, INT8, TEXT, CHAR = T.OID, T.NAME, T.BOOL, T.INT2, T.INT4, T.INT8, T.TEXT, T.CHAR
FLOAT4, REGPROC, INT2VEC, OIDVEC, XID, ACL = T.FLOAT4, T.REGPROC, T.INT2VECTOR, T.OIDVECTOR, T.XID, T.ACLITEM_ARRAY
TEXTARR, OIDARR, INT2ARR, NODE, CHARARR = T.TEXT_ARRAY, T.OID_ARRAY, T.INT2_ARRAY, T.PG_NODE_TREE, T.CHAR_ARRAY

# Relations: (name, PostgreSQL oid, [(column, type)], SELECT producing those columns in order)
_SPECS: list[tuple[str, int, list[tuple[str, int]], str]] = []


def _rel(name: str, oid: int, cols: str, body: str) -> None:
    parsed = []
    for item in cols.split(","):
        col, typ = item.split(":")
        type_oid = _TYPES[typ.strip()]
        if type_oid == TEXT and name.startswith("information_schema_"):
            # PostgreSQL's information_schema has no text column: its character_data and
            # yes_or_no domains are varchar, and RowDescription names the base type (1043)
            type_oid = T.VARCHAR
        parsed.append((col.strip(), type_oid))
    _SPECS.append((name, oid, parsed, body))


_TYPES = {
    "oid": OID, "name": NAME, "bool": BOOL, "int2": INT2, "int4": INT4, "int8": INT8, "text": TEXT,
    "char": CHAR, "float4": FLOAT4, "regproc": REGPROC, "int2vector": INT2VEC, "oidvector": OIDVEC,
    "xid": XID, "acl": ACL, "text[]": TEXTARR, "oid[]": OIDARR, "int2[]": INT2ARR, "node": NODE,
    "char[]": CHARARR, "float8": T.FLOAT8, "pg_lsn": T.PG_LSN, "timestamptz": T.TIMESTAMPTZ,
    "interval": T.INTERVAL, "inet": T.INET, "regtype[]": T.REGTYPE_ARRAY,
}

_ARRAY_OIDS = ", ".join(str(o) for o in sorted(T.ELEMENT_OF) if o not in T.VECTORS)
_KIND_AM = "CASE t.kind WHEN 'i' THEN 403 WHEN 'r' THEN 2 ELSE 0 END"


def _ns_of(schema: str) -> str:
    """The namespace OID of a schema name (an SQL expression): built in, or a CREATE SCHEMA row."""
    return (f"CASE {schema} WHEN 'public' THEN 2200 WHEN 'pg_catalog' THEN 11 ELSE coalesce("
            f"(SELECT n.oid FROM main.{SCHEMAS} n WHERE n.name = {schema}), 2200) END")


_NS = _ns_of("t.schema")
# A relation's owner (compute/sql/privileges.py): its __strata_acl row's role, else the bootstrap superuser
_OWNER_NAME = f"coalesce((SELECT a.owner FROM main.{ACL_TABLE} a WHERE a.oid = t.oid), __strata_superuser_name())"
_OWNER_OID = (f"coalesce((SELECT r.oid FROM main.{ROLES} r JOIN main.{ACL_TABLE} a ON r.name = a.owner "
              "WHERE a.oid = t.oid), 10)")

_rel(
    "pg_namespace", 2615, "oid:oid, nspname:name, nspowner:oid, nspacl:acl",
    "SELECT 11, 'pg_catalog', 10, NULL UNION ALL SELECT 2200, 'public', 6171, "
    "'[\"pg_database_owner=UC/pg_database_owner\",\"=U/pg_database_owner\"]' "
    "UNION ALL SELECT 99, 'pg_toast', 10, NULL UNION ALL SELECT 13000, 'information_schema', 10, NULL "
    f"UNION ALL SELECT n.oid, n.name, coalesce((SELECT r.oid FROM main.{ROLES} r WHERE r.name = n.owner), 10), "
    f"NULL FROM main.{SCHEMAS} n",
)
_rel(
    "pg_class", 1259,
    "oid:oid, relname:name, relnamespace:oid, reltype:oid, reloftype:oid, relowner:oid, relam:oid, "
    "relfilenode:oid, reltablespace:oid, relpages:int4, reltuples:float4, relallvisible:int4, "
    "reltoastrelid:oid, relhasindex:bool, relisshared:bool, relpersistence:char, relkind:char, "
    "relnatts:int2, relchecks:int2, relhasrules:bool, relhastriggers:bool, relhassubclass:bool, "
    "relrowsecurity:bool, relforcerowsecurity:bool, relispopulated:bool, relreplident:char, "
    "relispartition:bool, relrewrite:oid, relfrozenxid:xid, relminmxid:xid, relacl:acl, "
    "reloptions:text[], relpartbound:node",
    f"SELECT t.oid, t.name, {_NS}, 0, 0, {_OWNER_OID}, {_KIND_AM}, t.oid, 0, 0, -1.0, 0, 0, "
    f"EXISTS (SELECT 1 FROM main.{INDEXES} i WHERE i.table_oid = t.oid), 0, "
    f"CASE WHEN t.schema LIKE 'pg\\_temp\\_%' ESCAPE '\\' THEN 't' ELSE 'p' END, t.kind, "
    f"(SELECT count(*) FROM main.{COLUMNS} c WHERE c.table_oid = t.oid), "
    f"(SELECT count(*) FROM main.{CONSTRAINTS} k WHERE k.table_oid = t.oid AND k.type = 'c'), "
    f"0, EXISTS (SELECT 1 FROM main.{CONSTRAINTS} f WHERE f.type = 'f' AND t.oid IN (f.table_oid, f.ref_table)) "
    "OR EXISTS (SELECT 1 FROM main.sqlite_schema g WHERE g.type = 'trigger' AND g.tbl_name = (CASE t.schema WHEN 'public' THEN t.name ELSE t.schema || '.' || t.name END) "
    "AND substr(g.name, 1, 12) = '__strata_ut_'), "
    f"0, 0, 0, 1, 'd', 0, 0, 0, 0, (SELECT a.acl FROM main.{ACL_TABLE} a WHERE a.oid = t.oid), t.options, NULL "
    f"FROM main.{TABLES} t",
)
_rel(
    "pg_attribute", 1249,
    "attrelid:oid, attname:name, atttypid:oid, attstattarget:int4, attlen:int2, attnum:int2, "
    "attndims:int4, attcacheoff:int4, atttypmod:int4, attbyval:bool, attalign:char, attstorage:char, "
    "attcompression:char, attnotnull:bool, atthasdef:bool, atthasmissing:bool, attidentity:char, "
    "attgenerated:char, attisdropped:bool, attislocal:bool, attinhcount:int4, attcollation:oid, "
    "attacl:acl, attoptions:text[], attfdwoptions:text[], attmissingval:text",
    f"SELECT c.table_oid, c.name, c.type_oid, -1, coalesce(ty.typlen, -1), c.attnum, "
    f"CASE WHEN ty.typcategory = 'A' THEN 1 ELSE 0 END, -1, c.typmod, coalesce(ty.typbyval, 0), "
    f"coalesce(ty.typalign, 'i'), coalesce(ty.typstorage, 'x'), '', c.not_null, "
    f"c.default_expr IS NOT NULL AND c.identity IS NULL, 0, coalesce(c.identity, ''), '', 0, 1, 0, "
    f"CASE WHEN c.type_oid IN (25, 1042, 1043) THEN 100 WHEN c.type_oid = 19 THEN 950 ELSE 0 END, "
    f"NULL, NULL, NULL, NULL "
    f"FROM main.{COLUMNS} c LEFT JOIN pg_type ty ON ty.oid = c.type_oid "
    # index relations have one attribute per key (expressions are named expr, expr1, ...)
    f"UNION ALL SELECT i.oid, coalesce(c.name, CASE WHEN j.key = 0 THEN 'expr' ELSE 'expr' || j.key END), "
    f"coalesce(c.type_oid, json_extract(x.definition, '$.types[' || j.key || ']'), 25), -1, coalesce(ty.typlen, -1), j.key + 1, 0, -1, coalesce(c.typmod, -1), "
    f"coalesce(ty.typbyval, 0), coalesce(ty.typalign, 'i'), coalesce(ty.typstorage, 'x'), '', 0, 0, 0, '', '', "
    f"0, 1, 0, CASE WHEN c.type_oid IN (25, 1042, 1043) THEN 100 ELSE 0 END, NULL, NULL, NULL, NULL "
    f"FROM main.{INDEXES} i LEFT JOIN main.{TABLES} x ON x.oid = i.oid, json_each(i.columns) j "
    f"LEFT JOIN main.{COLUMNS} c ON c.table_oid = i.table_oid AND c.name = j.value "
    f"LEFT JOIN pg_type ty ON ty.oid = c.type_oid",
)
# Default btree operator classes of PostgreSQL 15: (opclass oid, name, opfamily, input type).
_OPCLASSES = [
    (10003, "bool_ops", 424, T.BOOL), (10006, "bytea_ops", 428, T.BYTEA), (10007, "char_ops", 429, T.CHAR),
    (10028, "name_ops", 1994, T.NAME), (3124, "int8_ops", 1976, T.INT8), (1979, "int2_ops", 1976, T.INT2),
    (1978, "int4_ops", 1976, T.INT4), (3126, "text_ops", 1994, T.TEXT), (1981, "oid_ops", 1989, T.OID),
    (10032, "oidvector_ops", 1991, T.OIDVECTOR), (10012, "float4_ops", 1970, T.FLOAT4),
    (3123, "float8_ops", 1970, T.FLOAT8), (10004, "bpchar_ops", 426, T.BPCHAR), (3122, "date_ops", 434, T.DATE),
    (10038, "time_ops", 1996, T.TIME), (3128, "timestamp_ops", 434, T.TIMESTAMP),
    (3127, "timestamptz_ops", 434, T.TIMESTAMPTZ), (10022, "interval_ops", 1982, T.INTERVAL),
    (10041, "timetz_ops", 2000, T.TIMETZ), (3125, "numeric_ops", 1988, T.NUMERIC),
    (10000, "array_ops", 397, 2277), (10065, "uuid_ops", 2968, T.UUID), (10088, "jsonb_ops", 4033, T.JSONB),
]
_rel(
    "pg_opclass", 2616,
    "oid:oid, opcmethod:oid, opcname:name, opcnamespace:oid, opcowner:oid, opcfamily:oid, opcintype:oid, "
    "opcdefault:bool, opckeytype:oid",
    " UNION ALL ".join(f"SELECT {oid}, 403, '{name}', 11, 10, {family}, {intype}, 1, {19 if name == 'name_ops' else 0}"
                       for oid, name, family, intype in _OPCLASSES),
)
# An index key's type: the column's, or the expression's as CREATE INDEX recorded it.
_KEY_TYPE = "coalesce(c.type_oid, json_extract(x.definition, '$.types[' || j.key || ']'), 25)"
_KEY_OPCLASS = ("CASE WHEN " + _KEY_TYPE + " IN (" + ", ".join(str(o) for o in T.ELEMENT_OF if o not in T.VECTORS)
                + ") THEN 10000 ELSE CASE " + _KEY_TYPE + " "
                + " ".join(f"WHEN {intype} THEN {oid}" for oid, _n, _f, intype in _OPCLASSES)
                + " ELSE 3126 END END")
_KEY_COLLATION = f"CASE WHEN {_KEY_TYPE} IN (25, 1042, 1043) THEN 100 WHEN {_KEY_TYPE} = 19 THEN 950 ELSE 0 END"
# indoption bits: 1 = DESC, 2 = NULLS FIRST (which DESC implies unless NULLS LAST was given)
_KEY_OPTION = ("CASE WHEN coalesce(json_extract(x.definition, '$.desc[' || j.key || ']'), 0) THEN 1 ELSE 0 END + "
               "CASE WHEN coalesce(json_extract(x.definition, '$.nulls[' || j.key || ']'), "
               "json_extract(x.definition, '$.desc[' || j.key || ']'), 0) THEN 2 ELSE 0 END")
_KEYS = f"FROM json_each(i.columns) j LEFT JOIN main.{COLUMNS} c ON c.table_oid = i.table_oid AND c.name = j.value"
_rel(
    "pg_index", 2610,
    "indexrelid:oid, indrelid:oid, indnatts:int2, indnkeyatts:int2, indisunique:bool, "
    "indnullsnotdistinct:bool, indisprimary:bool, indisexclusion:bool, indimmediate:bool, "
    "indisclustered:bool, indisvalid:bool, indcheckxmin:bool, indisready:bool, indislive:bool, "
    "indisreplident:bool, indkey:int2vector, indcollation:oidvector, indclass:oidvector, "
    "indoption:int2vector, indexprs:node, indpred:node",
    f"SELECT i.oid, i.table_oid, json_array_length(i.columns), json_array_length(i.columns), "
    f"i.is_unique, 0, i.is_primary, 0, 1, 0, 1, 0, 1, 1, 0, "
    f"(SELECT json_group_array(coalesce(c.attnum, 0)) {_KEYS}), "
    f"(SELECT json_group_array({_KEY_COLLATION}) {_KEYS}), "
    f"(SELECT json_group_array({_KEY_OPCLASS}) {_KEYS}), "
    f"(SELECT json_group_array({_KEY_OPTION}) FROM json_each(i.columns) j), "
    f"CASE WHEN EXISTS (SELECT 1 FROM json_each(i.columns) j WHERE NOT EXISTS (SELECT 1 FROM main.{COLUMNS} c "
    f" WHERE c.table_oid = i.table_oid AND c.name = j.value)) THEN 'X' || i.oid END, "
    f"CASE WHEN json_extract(x.definition, '$.where') IS NOT NULL "
    f" THEN 'C' || i.table_oid || ':' || json_extract(x.definition, '$.where') END "
    f"FROM main.{INDEXES} i LEFT JOIN main.{TABLES} x ON x.oid = i.oid",
)
_rel("pg_inherits", 2611, "inhrelid:oid, inhparent:oid, inhseqno:int4, inhdetachpending:bool",
     "SELECT 0, 0, 0, 0 WHERE 0")
_rel(
    "pg_partitioned_table", 3350,
    "partrelid:oid, partstrat:char, partnatts:int2, partdefid:oid, partattrs:int2vector, "
    "partclass:oidvector, partcollation:oidvector, partexprs:node",
    "SELECT 0, '', 0, 0, '', '', '', NULL WHERE 0",
)
_rel(
    "pg_attrdef", 2604, "oid:oid, adrelid:oid, adnum:int2, adbin:node",
    f"SELECT c.table_oid * 1000 + c.attnum, c.table_oid, c.attnum, "
    f"'D' || c.type_oid || ':' || c.typmod || ':' || c.default_expr "
    f"FROM main.{COLUMNS} c WHERE c.default_expr IS NOT NULL AND c.identity IS NULL",
)
# Foreign keys keep their actions as JSON in __strata_constraints.definition:
# {"upd": "a", "del": "c", "match": "s", "deferrable": false, "deferred": false, "triggers": [...]}.
_FK = "CASE WHEN k.type = 'f' THEN coalesce(json_extract(k.definition, '$.{key}'), '{dflt}') ELSE ' ' END"
_rel(
    "pg_constraint", 2606,
    "oid:oid, conname:name, connamespace:oid, contype:char, condeferrable:bool, condeferred:bool, "
    "convalidated:bool, conrelid:oid, contypid:oid, conindid:oid, conparentid:oid, confrelid:oid, "
    "confupdtype:char, confdeltype:char, confmatchtype:char, conislocal:bool, coninhcount:int4, "
    "connoinherit:bool, conkey:int2[], confkey:int2[], conpfeqop:oid[], conppeqop:oid[], conffeqop:oid[], "
    "confdelsetcols:int2[], conexclop:oid[], conbin:node",
    f"SELECT k.rowid + 100000, k.name, "
    f"{_ns_of(f'(SELECT kt.schema FROM main.{TABLES} kt WHERE kt.oid = k.table_oid)')}, k.type, "
    f"CASE WHEN k.type = 'f' THEN coalesce(json_extract(k.definition, '$.deferrable'), 0) ELSE 0 END, "
    f"CASE WHEN k.type = 'f' THEN coalesce(json_extract(k.definition, '$.deferred'), 0) ELSE 0 END, "
    f"1, k.table_oid, 0, "
    f"CASE WHEN k.type = 'f' THEN coalesce((SELECT r.oid FROM main.{INDEXES} r WHERE r.table_oid = k.ref_table "
    f" AND r.is_unique AND r.columns = k.ref_columns ORDER BY r.is_primary DESC LIMIT 1), 0) "
    f"ELSE coalesce(k.index_oid, 0) END, 0, "
    f"coalesce(k.ref_table, 0), {_FK.format(key='upd', dflt='a')}, {_FK.format(key='del', dflt='a')}, "
    f"{_FK.format(key='match', dflt='s')}, 1, 0, 0, "
    f"(SELECT json_group_array(c.attnum ORDER BY j.key) FROM json_each(k.columns) j "
    f" JOIN main.{COLUMNS} c ON c.table_oid = k.table_oid AND c.name = j.value), "
    f"CASE WHEN k.ref_columns IS NULL THEN NULL ELSE (SELECT json_group_array(c.attnum ORDER BY j.key) "
    f" FROM json_each(k.ref_columns) j JOIN main.{COLUMNS} c ON c.table_oid = k.ref_table "
    f" AND c.name = j.value) END, NULL, NULL, NULL, NULL, NULL, "
    f"CASE WHEN k.type = 'c' THEN 'C' || k.table_oid || ':' || k.definition END FROM main.{CONSTRAINTS} k",
)
_rel(
    "pg_sequence", 2224,
    "seqrelid:oid, seqtypid:oid, seqstart:int8, seqincrement:int8, seqmax:int8, seqmin:int8, "
    "seqcache:int8, seqcycle:bool",
    f"SELECT s.oid, s.type_oid, s.start_value, s.increment, s.max_value, s.min_value, 1, s.cycle "
    f"FROM main.{SEQUENCES} s",
)
_rel(
    "pg_database", 1262,
    "oid:oid, datname:name, datdba:oid, encoding:int4, datlocprovider:char, datistemplate:bool, "
    "datallowconn:bool, datconnlimit:int4, datfrozenxid:xid, datminmxid:xid, dattablespace:oid, "
    "datcollate:name, datctype:name, daticulocale:text, datcollversion:text, datacl:acl",
    "SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), 10, 6, 'c', 0, 1, -1, 0, 1, 1663, "
    "'C.UTF-8', 'C.UTF-8', NULL, NULL, NULL FROM json_each(pg_databases_json()) j "
    # template1/template0 are listed as PostgreSQL lists them (psql \l, tools that filter on
    # datistemplate); Strata has no template databases to connect to or copy from.
    "UNION ALL SELECT t.column1, t.column2, 10, 6, 'c', 1, t.column3, -1, 0, 1, 1663, 'C.UTF-8', "
    "'C.UTF-8', NULL, NULL, json_array('=c/' || pg_session_user(), pg_session_user() || '=CTc/' || "
    "pg_session_user()) FROM (VALUES (1, 'template1', 1), (4, 'template0', 0)) t",
)
# Roles: the session user (a superuser, OID 10, unless it has a row of its own) and the rows of
# __strata_roles (CREATE ROLE/USER, compute/sql/translate/roles.py); pg_authid/pg_shadow show verifiers.
_ROLE_ROWS = (
    "SELECT __strata_superuser_name() AS name, 10 AS oid, 1 AS super, 1 AS inherit, 1 AS createrole, "
    "1 AS createdb, 1 AS canlogin, 1 AS replication, 1 AS bypassrls, -1 AS connlimit, "
    "NULL AS password, NULL AS validuntil "
    f"WHERE NOT EXISTS (SELECT 1 FROM main.{ROLES} r WHERE r.name = __strata_superuser_name()) "
    "UNION ALL SELECT name, oid, super, inherit, createrole, createdb, canlogin, replication, bypassrls, "
    f"connlimit, password, validuntil FROM main.{ROLES}"
)
_rel(
    "pg_roles", 4096,
    "rolname:name, rolsuper:bool, rolinherit:bool, rolcreaterole:bool, rolcreatedb:bool, "
    "rolcanlogin:bool, rolreplication:bool, rolconnlimit:int4, rolpassword:text, rolvaliduntil:text, "
    "rolbypassrls:bool, rolconfig:text[], oid:oid",
    "SELECT name, super, inherit, createrole, createdb, canlogin, replication, connlimit, '********', "
    f"validuntil, bypassrls, NULL, oid FROM ({_ROLE_ROWS}) "
    # the predefined role owning the public schema (pg_dump looks its owner up)
    "UNION ALL SELECT 'pg_database_owner', 0, 1, 0, 0, 0, 0, -1, '********', NULL, 0, NULL, 6171",
)
_rel(
    "pg_authid", 1260,
    "oid:oid, rolname:name, rolsuper:bool, rolinherit:bool, rolcreaterole:bool, rolcreatedb:bool, "
    "rolcanlogin:bool, rolreplication:bool, rolbypassrls:bool, rolconnlimit:int4, rolpassword:text, "
    "rolvaliduntil:text",
    "SELECT oid, name, super, inherit, createrole, createdb, canlogin, replication, bypassrls, connlimit, "
    f"password, validuntil FROM ({_ROLE_ROWS})",
)
_rel(
    "pg_user", 4098,
    "usename:name, usesysid:oid, usecreatedb:bool, usesuper:bool, userepl:bool, usebypassrls:bool, "
    "passwd:text, valuntil:text, useconfig:text[]",
    "SELECT name, oid, createdb, super, replication, bypassrls, '********', validuntil, NULL "
    f"FROM ({_ROLE_ROWS}) WHERE canlogin",
)
_rel(
    "pg_shadow", 4097,
    "usename:name, usesysid:oid, usecreatedb:bool, usesuper:bool, userepl:bool, usebypassrls:bool, "
    "passwd:text, valuntil:text, useconfig:text[]",
    "SELECT name, oid, createdb, super, replication, bypassrls, password, validuntil, NULL "
    f"FROM ({_ROLE_ROWS}) WHERE canlogin",
)
_rel("pg_am", 2601, "oid:oid, amname:name, amhandler:regproc, amtype:char",
     "SELECT 2, 'heap', 3, 't' UNION ALL SELECT 403, 'btree', 330, 'i'")
_rel("pg_tablespace", 1213, "oid:oid, spcname:name, spcowner:oid, spcacl:acl, spcoptions:text[]",
     "SELECT 1663, 'pg_default', 10, NULL, NULL UNION ALL SELECT 1664, 'pg_global', 10, NULL, NULL")
_rel("pg_description", 2609, "objoid:oid, classoid:oid, objsubid:int4, description:text",
     f"SELECT objoid, classoid, objsubid, description FROM main.{COMMENTS} "
     "UNION ALL SELECT 2200, 2615, 0, 'standard public schema' "
     f"WHERE NOT EXISTS (SELECT 1 FROM main.{COMMENTS} WHERE classoid = 2615 AND objoid = 2200)")
_rel("pg_shdescription", 2396, "objoid:oid, classoid:oid, description:text",
     f"SELECT objoid, classoid, description FROM main.{COMMENTS} WHERE classoid = 1262")
_rel("pg_auth_members", 1261, "roleid:oid, member:oid, grantor:oid, admin_option:bool",
     "SELECT 0, 0, 0, 0 WHERE 0")
_rel("pg_extension", 3079,
     "oid:oid, extname:name, extowner:oid, extnamespace:oid, extrelocatable:bool, extversion:text, "
     "extconfig:oid[], extcondition:text[]",
     "SELECT 13500, 'plpgsql', 10, 11, 0, '1.0', NULL, NULL")
_rel("pg_range", 3541,
     "rngtypid:oid, rngsubtype:oid, rngmultitypid:oid, rngcollation:oid, rngsubopc:oid, "
     "rngcanonical:regproc, rngsubdiff:regproc",
     # the built-in range types (compute/pgtypes/ranges.py): type, subtype, multirange, btree opclass
     " UNION ALL ".join(f"SELECT {r}, {sub}, {multi}, 0, {opc}, 0, 0" for r, sub, multi, opc in (
         (3904, 23, 4451, 1978), (3906, 1700, 4532, 3125), (3908, 1114, 4533, 3128),
         (3910, 1184, 4534, 3127), (3912, 1082, 4535, 3122), (3926, 20, 4536, 3124))))
_rel("pg_collation", 3456,
     "oid:oid, collname:name, collnamespace:oid, collowner:oid, collprovider:char, collisdeterministic:bool, "
     "collencoding:int4, collcollate:text, collctype:text, colliculocale:text, collversion:text",
     "SELECT 100, 'default', 11, 10, 'd', 1, -1, NULL, NULL, NULL, NULL "
     "UNION ALL SELECT 950, 'C', 11, 10, 'c', 1, -1, 'C', 'C', NULL, NULL")
_rel("pg_trigger", 2620,
     "oid:oid, tgrelid:oid, tgparentid:oid, tgname:name, tgfoid:oid, tgtype:int2, tgenabled:char, "
     "tgisinternal:bool, tgconstrrelid:oid, tgconstrindid:oid, tgconstraint:oid, tgdeferrable:bool, "
     "tginitdeferred:bool, tgnargs:int2, tgattr:int2vector, tgargs:text, tgqual:node, tgoldtable:name, "
     "tgnewtable:name",
     # CREATE TRIGGER rows (compute/sql/procedural); tgtype bits: ROW 1, BEFORE 2, INSERT 4, DELETE 8, UPDATE 16, TRUNCATE 32
     "SELECT t.oid, r.oid, 0, t.name, (SELECT f.oid FROM main." + PROCEDURAL_FUNCTIONS + " f WHERE f.name = t.function "
     "AND f.ret_type = 2279), (t.level = 'ROW') + 2 * (t.timing = 'BEFORE') + 4 * (instr(t.events, 'INSERT') > 0) "
     "+ 8 * (instr(t.events, 'DELETE') > 0) + 16 * (instr(t.events, 'UPDATE') > 0) + 32 * (instr(t.events, 'TRUNCATE') > 0), 'O', 0, 0, 0, 0, 0, 0, "
     "json_array_length(t.args), (SELECT json_group_array(c.attnum) FROM json_each(t.columns) j JOIN main." + COLUMNS
     + " c ON c.table_oid = r.oid AND c.name = j.value), '', NULL, NULL, NULL FROM main." + PROCEDURAL_LIVE_TRIGGERS
     + " JOIN main." + TABLES + " r ON s.tbl_name = (CASE r.schema WHEN 'public' THEN r.name "
     "ELSE r.schema || '.' || r.name END) AND r.kind = 'r'")
# A view's _RETURN rule has the view's oid (pg_dump keys objects by catalog and oid).
_rel("pg_rewrite", 2618, "oid:oid, rulename:name, ev_class:oid, ev_type:char, ev_enabled:char, is_instead:bool, "
     "ev_qual:node, ev_action:node",
     f"SELECT v.oid, '_RETURN', v.oid, '1', 'O', 1, NULL, NULL FROM main.{TABLES} v WHERE v.kind = 'v'")
_rel("pg_depend", 2608,
     "classid:oid, objid:oid, objsubid:int4, refclassid:oid, refobjid:oid, refobjsubid:int4, deptype:char",
     f"SELECT 1259, s.oid, 0, 1259, s.owner_table, "
     f"(SELECT c.attnum FROM main.{COLUMNS} c WHERE c.table_oid = s.owner_table AND c.name = s.owner_column), "
     # an identity column's sequence is an internal ('i') dependency, a serial's an automatic one
     f"CASE WHEN (SELECT c.identity FROM main.{COLUMNS} c WHERE c.table_oid = s.owner_table "
     f"AND c.name = s.owner_column) IS NOT NULL THEN 'i' ELSE 'a' END "
     f"FROM main.{SEQUENCES} s WHERE s.owner_table IS NOT NULL "
     # a view's rule depends on the relations its query reads (pg_dump orders CREATEs by this)
     f"UNION ALL SELECT 2618, v.oid, 0, 1259, r.oid, 0, 'n' FROM main.{TABLES} v, "
     f"json_each(pg_view_relations_json(v.definition)) j JOIN main.{TABLES} r "
     f"ON (r.name = j.value AND r.schema = 'public' OR r.schema || '.' || r.name = j.value) "
     f"AND r.kind IN ('r', 'v') AND r.oid <> v.oid WHERE v.kind = 'v' "
     "UNION ALL SELECT 2618, v.oid, 0, 1259, v.oid, 0, 'i' "
     f"FROM main.{TABLES} v WHERE v.kind = 'v' "
     # a column default calling nextval('seq') depends on the sequence (pg_dump creates it first,
     # or moves the default to ALTER TABLE ... SET DEFAULT when the sequence is owned by the column)
     f"UNION ALL SELECT 2604, c.table_oid * 1000 + c.attnum, 0, 1259, q.oid, 0, 'n' "
     f"FROM main.{COLUMNS} c JOIN main.{TABLES} q ON q.kind = 'S' "
     "AND (instr(lower(c.default_expr), 'nextval(''' || q.name || '''') > 0 "
     "OR instr(lower(c.default_expr), 'nextval(''' || q.schema || '.' || q.name || '''') > 0) "
     "WHERE c.default_expr IS NOT NULL AND c.identity IS NULL "
     "UNION ALL SELECT 2604, c.table_oid * 1000 + c.attnum, 0, 1259, c.table_oid, c.attnum, 'a' "
     f"FROM main.{COLUMNS} c WHERE c.default_expr IS NOT NULL AND c.identity IS NULL")
_rel("pg_policy", 3256,
     "oid:oid, polname:name, polrelid:oid, polcmd:char, polpermissive:bool, polroles:oid[], polqual:node, "
     "polwithcheck:node", "SELECT 0, '', 0, '', 1, NULL, NULL, NULL WHERE 0")
_rel("pg_statistic_ext", 3381,
     "oid:oid, stxrelid:oid, stxname:name, stxnamespace:oid, stxowner:oid, stxstattarget:int4, "
     "stxkeys:int2vector, stxkind:char[], stxexprs:node", "SELECT 0, 0, '', 0, 0, -1, '', NULL, NULL WHERE 0")
_rel("pg_publication", 6104,
     "oid:oid, pubname:name, pubowner:oid, puballtables:bool, pubinsert:bool, pubupdate:bool, "
     "pubdelete:bool, pubtruncate:bool, pubviaroot:bool", "SELECT 0, '', 0, 0, 0, 0, 0, 0, 0 WHERE 0")
_rel("pg_publication_rel", 6106, "oid:oid, prpubid:oid, prrelid:oid, prqual:node, prattrs:int2vector",
     "SELECT 0, 0, 0, NULL, NULL WHERE 0")
_rel("pg_publication_namespace", 6237, "oid:oid, pnpubid:oid, pnnspid:oid", "SELECT 0, 0, 0 WHERE 0")
_rel("pg_foreign_table", 3118, "ftrelid:oid, ftserver:oid, ftoptions:text[]", "SELECT 0, 0, NULL WHERE 0")
_rel(
    "pg_tables", 0,
    "schemaname:name, tablename:name, tableowner:name, tablespace:name, hasindexes:bool, "
    "hasrules:bool, hastriggers:bool, rowsecurity:bool",
    f"SELECT t.schema, t.name, {_OWNER_NAME}, NULL, "
    f"EXISTS (SELECT 1 FROM main.{INDEXES} i WHERE i.table_oid = t.oid), 0, 0, 0 "
    f"FROM main.{TABLES} t WHERE t.kind = 'r'",
)
_rel(
    "pg_views", 0, "schemaname:name, viewname:name, viewowner:name, definition:text",
    f"SELECT t.schema, t.name, {_OWNER_NAME}, pg_get_viewdef(t.oid) FROM main.{TABLES} t WHERE t.kind = 'v'",
)
_rel(
    "pg_indexes", 0, "schemaname:name, tablename:name, indexname:name, tablespace:name, indexdef:text",
    f"SELECT t.schema, t.name, x.name, NULL, pg_get_indexdef(i.oid) "
    f"FROM main.{INDEXES} i JOIN main.{TABLES} x ON x.oid = i.oid JOIN main.{TABLES} t ON t.oid = i.table_oid",
)
_rel(
    "pg_sequences", 0,
    "schemaname:name, sequencename:name, sequenceowner:name, data_type:oid, start_value:int8, "
    "min_value:int8, max_value:int8, increment_by:int8, cycle:bool, cache_size:int8, last_value:int8",
    f"SELECT t.schema, t.name, pg_session_user(), s.type_oid, s.start_value, s.min_value, s.max_value, "
    f"s.increment, s.cycle, 1, CASE WHEN s.is_called THEN s.last_value END "
    f"FROM main.{SEQUENCES} s JOIN main.{TABLES} t ON t.oid = s.oid",
)
_rel(
    "pg_settings", 0,
    "name:text, setting:text, unit:text, category:text, short_desc:text, extra_desc:text, "
    "context:text, vartype:text, source:text, min_val:text, max_val:text, enumvals:text[], "
    "boot_val:text, reset_val:text, sourcefile:text, sourceline:int4, pending_restart:bool",
    "SELECT j.key, j.value, NULL, 'Ungrouped', '', NULL, 'user', 'string', 'session', NULL, NULL, "
    "NULL, j.value, j.value, NULL, NULL, 0 FROM json_each(pg_settings_json()) j",
)
_rel(  # every session of this node (compute/backend.py, functions/admin.py)
    "pg_stat_activity", 0,
    "datid:oid, datname:name, pid:int4, leader_pid:int4, usesysid:oid, usename:name, application_name:text, "
    "client_addr:inet, client_hostname:text, client_port:int4, backend_start:timestamptz, "
    "xact_start:timestamptz, query_start:timestamptz, state_change:timestamptz, wait_event_type:text, "
    "wait_event:text, state:text, backend_xid:xid, backend_xmin:xid, query_id:int8, query:text, "
    "backend_type:text",
    "SELECT (SELECT d.oid FROM pg_database d WHERE d.datname = j.value ->> '$.datname'), "
    "j.value ->> '$.datname', j.value ->> '$.pid', NULL, 10, j.value ->> '$.usename', "
    "j.value ->> '$.application_name', j.value ->> '$.client_addr', NULL, j.value ->> '$.client_port', "
    "j.value ->> '$.backend_start', j.value ->> '$.xact_start', j.value ->> '$.query_start', "
    "j.value ->> '$.query_start', j.value ->> '$.wait_event_type', j.value ->> '$.wait_event', "
    "j.value ->> '$.state', NULL, NULL, NULL, "
    "j.value ->> '$.query', 'client backend' FROM json_each(strata_activity_json()) j",
)
_rel(  # the session's open cursors (compute/cursors.py)
    "pg_cursors", 0,
    "name:text, statement:text, is_holdable:bool, is_binary:bool, is_scrollable:bool, creation_time:timestamptz",
    "SELECT j.value ->> '$.name', j.value ->> '$.statement', j.value ->> '$.is_holdable', "
    "j.value ->> '$.is_binary', "
    "j.value ->> '$.is_scrollable', j.value ->> '$.creation_time' FROM json_each(strata_cursors_json()) j",
)
_rel(  # the session's prepared statements (compute/sql_prepared.py prepared_view_json)
    "pg_prepared_statements", 0,
    "name:text, statement:text, prepare_time:timestamptz, parameter_types:regtype[], from_sql:bool, "
    "generic_plans:int8, custom_plans:int8",
    "SELECT j.value ->> '$.name', j.value ->> '$.statement', j.value ->> '$.prepare_time', "
    "j.value ->> '$.parameter_types', j.value ->> '$.from_sql', 0, 0 FROM json_each(strata_prepared_json()) j",
)
_rel(  # advisory locks of this database (compute/advisory.py)
    "pg_locks", 0,
    "locktype:text, database:oid, relation:oid, page:int4, tuple:int2, virtualxid:text, "
    "transactionid:xid, classid:oid, objid:oid, objsubid:int2, virtualtransaction:text, pid:int4, "
    "mode:text, granted:bool, fastpath:bool, waitstart:timestamptz",
    "SELECT 'advisory', (SELECT d.oid FROM pg_database d WHERE d.datname = current_database()), "
    "NULL, NULL, NULL, NULL, NULL, j.value ->> '$.classid', j.value ->> '$.objid', "
    "j.value ->> '$.objsubid', NULL, j.value ->> '$.pid', j.value ->> '$.mode', "
    "j.value ->> '$.granted', 0, NULL FROM json_each(strata_locks_json()) j",
)
_rel(  # the node's log readers (compute/sql/node_functions.py)
    "pg_stat_replication", 0,
    "pid:int4, usesysid:oid, usename:name, application_name:text, client_addr:inet, "
    "client_hostname:text, client_port:int4, backend_start:timestamptz, backend_xmin:xid, state:text, "
    "sent_lsn:pg_lsn, write_lsn:pg_lsn, flush_lsn:pg_lsn, replay_lsn:pg_lsn, write_lag:interval, "
    "flush_lag:interval, replay_lag:interval, sync_priority:int4, sync_state:text, reply_time:timestamptz",
    "SELECT NULL, 10, pg_session_user(), j.value ->> '$.application_name', j.value ->> '$.client_addr', "
    "NULL, j.value ->> '$.client_port', NULL, NULL, j.value ->> '$.state', j.value ->> '$.sent_lsn', "
    "NULL, NULL, NULL, NULL, NULL, NULL, 0, 'async', NULL FROM json_each(pg_stat_replication_json()) j",
)
_rel(
    "information_schema_schemata", 0,
    "catalog_name:name, schema_name:name, schema_owner:name, default_character_set_catalog:name, "
    "default_character_set_schema:name, default_character_set_name:name, sql_path:text",
    "SELECT current_database(), 'public', pg_session_user(), NULL, NULL, NULL, NULL UNION ALL "
    "SELECT current_database(), 'pg_catalog', pg_session_user(), NULL, NULL, NULL, NULL UNION ALL "
    "SELECT current_database(), 'information_schema', pg_session_user(), NULL, NULL, NULL, NULL UNION ALL "
    f"SELECT current_database(), n.name, n.owner, NULL, NULL, NULL, NULL FROM main.{SCHEMAS} n",
)
_rel(
    "information_schema_tables", 0,
    "table_catalog:name, table_schema:name, table_name:name, table_type:text, "
    "self_referencing_column_name:name, reference_generation:text, user_defined_type_catalog:name, "
    "user_defined_type_schema:name, user_defined_type_name:name, is_insertable_into:text, "
    "is_typed:text, commit_action:text",
    f"SELECT current_database(), t.schema, t.name, "
    f"CASE WHEN t.kind = 'v' THEN 'VIEW' WHEN t.schema LIKE 'pg\\_temp\\_%' ESCAPE '\\' THEN 'LOCAL TEMPORARY' "
    f"ELSE 'BASE TABLE' END, NULL, NULL, NULL, NULL, NULL, "
    f"CASE t.kind WHEN 'r' THEN 'YES' ELSE 'NO' END, 'NO', NULL FROM main.{TABLES} t "
    f"WHERE t.kind IN ('r', 'v')",
)
# Table privileges from the stored ACLs (NULL: the owner's default, every privilege), one row per
# (grantee, privilege) as PostgreSQL's view; not filtered by the roles the session is a member of.
_GRANTS = (
    "SELECT substr(g.rest, instr(g.rest, '/') + 1) AS grantor, CASE g.grantee WHEN '' THEN 'PUBLIC' "
    "ELSE g.grantee END AS grantee, g.schema, g.name, p.name AS privilege, g.kind "
    "FROM (SELECT substr(j.value, 1, instr(j.value, '=') - 1) AS grantee, "
    f"substr(j.value, instr(j.value, '=') + 1) AS rest, t.schema, t.name, t.kind FROM main.{TABLES} t "
    f"LEFT JOIN main.{ACL_TABLE} a ON a.oid = t.oid "
    "JOIN json_each(coalesce(a.acl, json_array(coalesce(a.owner, __strata_superuser_name()) || '=' || "
    "CASE t.kind WHEN 'S' THEN 'rwU' ELSE 'arwdDxt' END || '/' || coalesce(a.owner, __strata_superuser_name())))) j "
    "WHERE t.kind IN ('r', 'v', 'm', 'p', 'f')) g "
    "JOIN (SELECT 'a' AS l, 'INSERT' AS name UNION ALL SELECT 'r', 'SELECT' UNION ALL SELECT 'w', 'UPDATE' "
    "UNION ALL SELECT 'd', 'DELETE' UNION ALL SELECT 'D', 'TRUNCATE' UNION ALL SELECT 'x', 'REFERENCES' "
    "UNION ALL SELECT 't', 'TRIGGER') p ON instr(substr(g.rest, 1, instr(g.rest, '/') - 1), p.l) > 0"
)
_GRANT_COLS = ("grantor:name, grantee:name, table_catalog:name, table_schema:name, table_name:name, "
               "privilege_type:text, is_grantable:text, with_hierarchy:text")
_GRANT_ROW = ("SELECT x.grantor, x.grantee, current_database(), x.schema, x.name, x.privilege, "
              "CASE WHEN x.grantor = x.grantee THEN 'YES' ELSE 'NO' END, "
              f"CASE x.privilege WHEN 'SELECT' THEN 'YES' ELSE 'NO' END FROM ({_GRANTS}) x")
_rel("information_schema_table_privileges", 0, _GRANT_COLS, _GRANT_ROW)
_rel("information_schema_role_table_grants", 0, _GRANT_COLS,
     f"{_GRANT_ROW} WHERE x.grantor = pg_session_user() OR x.grantee = pg_session_user()")
_rel(
    "information_schema_columns", 0,
    "table_catalog:name, table_schema:name, table_name:name, column_name:name, ordinal_position:int4, "
    "column_default:text, is_nullable:text, data_type:text, character_maximum_length:int4, "
    "character_octet_length:int4, numeric_precision:int4, numeric_precision_radix:int4, "
    "numeric_scale:int4, datetime_precision:int4, udt_catalog:name, udt_schema:name, udt_name:name, "
    "is_identity:text, identity_generation:text, is_generated:text, is_updatable:text",
    f"SELECT current_database(), t.schema, t.name, c.name, c.attnum, "
    f"CASE WHEN c.identity IS NULL AND c.default_expr IS NOT NULL "
    f"THEN pg_get_expr('D' || c.type_oid || ':' || c.typmod || ':' || c.default_expr, c.table_oid) END, "
    f"CASE WHEN c.not_null THEN 'NO' ELSE 'YES' END, "
    f"CASE WHEN c.type_oid IN (SELECT oid FROM main.{TYPES}) THEN 'USER-DEFINED' "
    f"WHEN c.type_oid IN (SELECT array_oid FROM main.{TYPES}) OR c.type_oid IN ({_ARRAY_OIDS}) THEN 'ARRAY' "
    f"ELSE pg_format_type(c.type_oid, NULL) END, "
    f"CASE WHEN c.type_oid IN (1042, 1043) AND c.typmod > 0 THEN c.typmod - 4 END, "
    f"CASE WHEN c.type_oid IN (25, 1042, 1043) THEN 1073741824 END, "
    f"CASE c.type_oid WHEN 21 THEN 16 WHEN 23 THEN 32 WHEN 20 THEN 64 WHEN 700 THEN 24 WHEN 701 THEN 53 "
    f"WHEN 1700 THEN CASE WHEN c.typmod > 0 THEN ((c.typmod - 4) >> 16) & 65535 END END, "
    f"CASE WHEN c.type_oid IN (21, 23, 20, 700, 701) THEN 2 WHEN c.type_oid = 1700 THEN 10 END, "
    f"CASE WHEN c.type_oid IN (21, 23, 20) THEN 0 WHEN c.type_oid = 1700 AND c.typmod > 0 "
    f"THEN (c.typmod - 4) & 65535 END, "
    f"CASE WHEN c.type_oid IN (1082) THEN 0 WHEN c.type_oid IN (1083, 1114, 1184, 1266, 1186) THEN 6 END, "
    f"current_database(), CASE WHEN c.type_oid >= 16384 THEN coalesce((SELECT ty.schema FROM main.{TYPES} ty "
    f"WHERE c.type_oid IN (ty.oid, ty.array_oid)), 'public') ELSE 'pg_catalog' END, "
    f"(SELECT ty.typname FROM pg_type ty WHERE ty.oid = c.type_oid), "
    f"CASE WHEN c.identity IS NOT NULL THEN 'YES' ELSE 'NO' END, "
    f"CASE c.identity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END, 'NEVER', "
    f"CASE t.kind WHEN 'r' THEN 'YES' ELSE 'NO' END "
    f"FROM main.{COLUMNS} c JOIN main.{TABLES} t ON t.oid = c.table_oid",
)

_ACTION = "CASE coalesce(json_extract(k.definition, '$.{key}'), 'a') WHEN 'c' THEN 'CASCADE' " \
    "WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' WHEN 'r' THEN 'RESTRICT' ELSE 'NO ACTION' END"
_CON_TYPE = "CASE k.type WHEN 'p' THEN 'PRIMARY KEY' WHEN 'u' THEN 'UNIQUE' WHEN 'f' THEN 'FOREIGN KEY' " \
    "WHEN 'c' THEN 'CHECK' END"
_rel(
    "information_schema_table_constraints", 0,
    "constraint_catalog:name, constraint_schema:name, constraint_name:name, table_catalog:name, "
    "table_schema:name, table_name:name, constraint_type:text, is_deferrable:text, initially_deferred:text, "
    "enforced:text, nulls_distinct:text",
    f"SELECT current_database(), t.schema, k.name, current_database(), t.schema, t.name, {_CON_TYPE}, "
    f"CASE WHEN coalesce(json_extract(CASE WHEN k.type = 'f' THEN k.definition END, '$.deferrable'), 0) "
    f"THEN 'YES' ELSE 'NO' END, "
    f"CASE WHEN coalesce(json_extract(CASE WHEN k.type = 'f' THEN k.definition END, '$.deferred'), 0) "
    f"THEN 'YES' ELSE 'NO' END, 'YES', CASE WHEN k.type = 'u' THEN 'YES' END "
    f"FROM main.{CONSTRAINTS} k JOIN main.{TABLES} t ON t.oid = k.table_oid "
    f"UNION ALL SELECT current_database(), t.schema, "
    f"{_NS} || '_' || t.oid || '_' || c.attnum || '_not_null', current_database(), t.schema, t.name, 'CHECK', "
    f"'NO', 'NO', 'YES', NULL FROM main.{COLUMNS} c JOIN main.{TABLES} t ON t.oid = c.table_oid "
    f"WHERE c.not_null AND t.kind = 'r'",
)
_rel(
    "information_schema_key_column_usage", 0,
    "constraint_catalog:name, constraint_schema:name, constraint_name:name, table_catalog:name, "
    "table_schema:name, table_name:name, column_name:name, ordinal_position:int4, "
    "position_in_unique_constraint:int4",
    f"SELECT current_database(), t.schema, k.name, current_database(), t.schema, t.name, j.value, j.key + 1, "
    f"CASE WHEN k.type = 'f' THEN j.key + 1 END "
    f"FROM main.{CONSTRAINTS} k JOIN main.{TABLES} t ON t.oid = k.table_oid, json_each(k.columns) j "
    f"WHERE k.type IN ('p', 'u', 'f')",
)
_rel(
    "information_schema_constraint_column_usage", 0,
    "table_catalog:name, table_schema:name, table_name:name, column_name:name, constraint_catalog:name, "
    "constraint_schema:name, constraint_name:name",
    f"SELECT current_database(), t.schema, t.name, j.value, current_database(), t.schema, k.name "
    f"FROM main.{CONSTRAINTS} k JOIN main.{TABLES} t ON t.oid = coalesce(k.ref_table, k.table_oid), "
    f"json_each(coalesce(k.ref_columns, k.columns)) j",
)
_rel(
    "information_schema_referential_constraints", 0,
    "constraint_catalog:name, constraint_schema:name, constraint_name:name, unique_constraint_catalog:name, "
    "unique_constraint_schema:name, unique_constraint_name:name, match_option:text, update_rule:text, "
    "delete_rule:text",
    f"SELECT current_database(), t.schema, k.name, current_database(), t.schema, "
    f"(SELECT u.name FROM main.{CONSTRAINTS} u WHERE u.table_oid = k.ref_table AND u.type IN ('p', 'u') "
    f" AND u.columns = k.ref_columns ORDER BY u.type LIMIT 1), "
    f"CASE coalesce(json_extract(k.definition, '$.match'), 's') WHEN 'f' THEN 'FULL' ELSE 'NONE' END, "
    f"{_ACTION.format(key='upd')}, {_ACTION.format(key='del')} "
    f"FROM main.{CONSTRAINTS} k JOIN main.{TABLES} t ON t.oid = k.table_oid WHERE k.type = 'f'",
)
_rel(
    "information_schema_check_constraints", 0,
    "constraint_catalog:name, constraint_schema:name, constraint_name:name, check_clause:text",
    f"SELECT current_database(), t.schema, k.name, "
    f"substr(pg_get_constraintdef(k.rowid + 100000), 7) "
    f"FROM main.{CONSTRAINTS} k JOIN main.{TABLES} t ON t.oid = k.table_oid WHERE k.type = 'c'",
)
_rel(
    "information_schema_sequences", 0,
    "sequence_catalog:name, sequence_schema:name, sequence_name:name, data_type:text, numeric_precision:int4, "
    "numeric_precision_radix:int4, numeric_scale:int4, start_value:text, minimum_value:text, "
    "maximum_value:text, increment:text, cycle_option:text",
    f"SELECT current_database(), t.schema, t.name, pg_format_type(s.type_oid, -1), "
    f"CASE s.type_oid WHEN 21 THEN 16 WHEN 23 THEN 32 ELSE 64 END, 2, 0, CAST(s.start_value AS TEXT), "
    f"CAST(s.min_value AS TEXT), CAST(s.max_value AS TEXT), CAST(s.increment AS TEXT), "
    f"CASE WHEN s.cycle THEN 'YES' ELSE 'NO' END "
    f"FROM main.{SEQUENCES} s JOIN main.{TABLES} t ON t.oid = s.oid",
)
_rel(
    "information_schema_views", 0,
    "table_catalog:name, table_schema:name, table_name:name, view_definition:text, check_option:text, "
    "is_updatable:text, is_insertable_into:text, is_trigger_updatable:text, is_trigger_deletable:text, "
    "is_trigger_insertable_into:text",
    f"SELECT current_database(), t.schema, t.name, pg_get_viewdef(t.oid), 'NONE', 'NO', 'NO', 'NO', 'NO', 'NO' "
    f"FROM main.{TABLES} t WHERE t.kind = 'v'",
)


def _pg_type_body() -> str:
    rows = []
    for info in T.TYPES.values():
        byval = 1 if info.length in (1, 2, 4, 8) else 0
        align = {1: "c", 2: "s", 4: "i", 8: "d"}.get(info.length, "i")
        storage = "p" if info.length > 0 else "m" if info.oid == T.NUMERIC else "x"
        typtype = "p" if info.category == "P" else "r" if info.category == "R" else "b"
        name = info.name.replace("'", "''")
        rows.append(
            f"SELECT {info.oid}, '{name}', 11, 10, {info.length}, {byval}, '{typtype}', "
            f"'{info.category}', 0, 1, ',', 0, {info.elem_oid}, {info.array_oid}, '{align}', "
            f"'{storage}', 0, 0, -1, 0, NULL, "
            f"'{name}in', '{name}out', '{name}recv', '{name}send', "
            f"{100 if info.oid in (T.TEXT, T.VARCHAR, T.BPCHAR) else 950 if info.oid == T.NAME else 0}, NULL"
        )
    # enum types and their array types (CREATE TYPE ... AS ENUM)
    rows.append(
        f"SELECT e.oid, e.name, {_ns_of('e.schema')}, 10, 4, 1, 'e', 'E', 0, 1, ',', 0, 0, e.array_oid, 'i', 'p', 0, 0, -1, 0, "
        f"NULL, 'enum_in', 'enum_out', 'enum_recv', 'enum_send', 0, NULL FROM main.{TYPES} e"
    )
    rows.append(
        f"SELECT e.array_oid, '_' || e.name, {_ns_of('e.schema')}, 10, -1, 0, 'b', 'A', 0, 1, ',', 0, e.oid, 0, 'i', 'x', 0, 0, "
        f"-1, 0, NULL, 'array_in', 'array_out', 'array_recv', 'array_send', 0, NULL FROM main.{TYPES} e"
    )
    return " UNION ALL ".join(rows)


_rel(
    "pg_type", 1247,
    "oid:oid, typname:name, typnamespace:oid, typowner:oid, typlen:int2, typbyval:bool, typtype:char, "
    "typcategory:char, typispreferred:bool, typisdefined:bool, typdelim:char, typrelid:oid, "
    "typelem:oid, typarray:oid, typalign:char, typstorage:char, typnotnull:bool, typbasetype:oid, "
    "typtypmod:int4, typndims:int4, typdefault:text, typinput:regproc, typoutput:regproc, "
    "typreceive:regproc, typsend:regproc, typcollation:oid, typacl:acl",
    _pg_type_body(),
)
# pg_type's typinput etc. are regproc (names) in our output: store them as text.
_SPECS[-1] = (
    _SPECS[-1][0],
    _SPECS[-1][1],
    [(c, TEXT if c in ("typinput", "typoutput", "typreceive", "typsend") else t) for c, t in _SPECS[-1][2]],
    _SPECS[-1][3],
)
_rel(
    "pg_enum", 3501, "oid:oid, enumtypid:oid, enumsortorder:float4, enumlabel:name",
    f"SELECT oid, type_oid, sortorder, label FROM main.{ENUMS}",
)
_rel("pg_proc", 1255,  # user functions (compute/sql/procedural); no built-in rows
     "oid:oid, proname:name, pronamespace:oid, proowner:oid, prolang:oid, procost:float4, prorows:float4, provariadic:oid, prosupport:regproc, prokind:char, prosecdef:bool, proleakproof:bool, proisstrict:bool, proretset:bool, provolatile:char, proparallel:char, pronargs:int2, pronargdefaults:int2, prorettype:oid, proargtypes:oidvector, proallargtypes:oid[], proargmodes:char[], proargnames:text[], proargdefaults:node, protrftypes:oid[], prosrc:text, probin:text, prosqlbody:node, proconfig:text[], proacl:acl",
     # a function outside public is stored as "schema.name" (translate/functions_ddl.py)
     "SELECT f.oid, CASE WHEN instr(f.name, '.') THEN substr(f.name, instr(f.name, '.') + 1) ELSE f.name END, "
     + _ns_of("CASE WHEN instr(f.name, '.') THEN substr(f.name, 1, instr(f.name, '.') - 1) ELSE 'public' END")
     + ", 10, CASE f.language WHEN 'sql' THEN 14 ELSE 13563 END, 100, "
     "CASE WHEN f.ret_set THEN 1000 ELSE 0 END, 0, '-', 'f', 0, 0, "
     "f.strict, f.ret_set, f.volatility, 'u', json_array_length(f.arg_types), "
     "(SELECT count(*) FROM json_each(f.arg_defaults) d WHERE d.value IS NOT NULL), f.ret_type, f.arg_types, "
     # OUT parameters and RETURNS TABLE columns (compute/sql/procedural/describe.py)
     "__strata_proc_args(f.oid, 'types'), __strata_proc_args(f.oid, 'modes'), "
     "CASE WHEN f.out_columns <> '[]' THEN __strata_proc_args(f.oid, 'names') "
     "WHEN EXISTS (SELECT 1 FROM json_each(f.arg_names) n WHERE n.value <> '') THEN f.arg_names END, "
     f"NULL, NULL, f.body, NULL, NULL, NULL, NULL FROM main.{PROCEDURAL_FUNCTIONS} f")
_rel("pg_language", 2612,
     "oid:oid, lanname:name, lanowner:oid, lanispl:bool, lanpltrusted:bool, lanplcallfoid:oid, laninline:oid, "
     "lanvalidator:oid, lanacl:acl",
     "SELECT 12, 'internal', 10, 0, 0, 0, 0, 2246, NULL UNION ALL SELECT 13, 'c', 10, 0, 0, 0, 0, 2247, NULL "
     "UNION ALL SELECT 14, 'sql', 10, 0, 1, 0, 0, 2248, NULL "
     "UNION ALL SELECT 13563, 'plpgsql', 10, 1, 1, 13560, 13561, 13562, NULL")


# Catalogs Strata has no objects in (pg_dump reads them all): PostgreSQL 15's columns, no rows.
_EMPTY_CATALOGS = [
    ("pg_init_privs", 3394,
     "objoid:oid, classoid:oid, objsubid:int4, privtype:char, initprivs:acl"),
    ("pg_operator", 2617,
     "oid:oid, oprname:name, oprnamespace:oid, oprowner:oid, oprkind:char, oprcanmerge:bool, oprcanhash:bool, oprleft:oid, oprright:oid, oprresult:oid, oprcom:oid, oprnegate:oid, oprcode:regproc, oprrest:regproc, oprjoin:regproc"),
    ("pg_opfamily", 2753,
     "oid:oid, opfmethod:oid, opfname:name, opfnamespace:oid, opfowner:oid"),
    ("pg_ts_parser", 3601,
     "oid:oid, prsname:name, prsnamespace:oid, prsstart:regproc, prstoken:regproc, prsend:regproc, prsheadline:regproc, prslextype:regproc"),
    ("pg_ts_template", 3764,
     "oid:oid, tmplname:name, tmplnamespace:oid, tmplinit:regproc, tmpllexize:regproc"),
    ("pg_ts_dict", 3600,
     "oid:oid, dictname:name, dictnamespace:oid, dictowner:oid, dicttemplate:oid, dictinitoption:text"),
    ("pg_ts_config", 3602,
     "oid:oid, cfgname:name, cfgnamespace:oid, cfgowner:oid, cfgparser:oid"),
    ("pg_foreign_data_wrapper", 2328,
     "oid:oid, fdwname:name, fdwowner:oid, fdwhandler:oid, fdwvalidator:oid, fdwacl:acl, fdwoptions:text[]"),
    ("pg_foreign_server", 1417,
     "oid:oid, srvname:name, srvowner:oid, srvfdw:oid, srvtype:text, srvversion:text, srvacl:acl, srvoptions:text[]"),
    ("pg_default_acl", 826,
     "oid:oid, defaclrole:oid, defaclnamespace:oid, defaclobjtype:char, defaclacl:acl"),
    ("pg_conversion", 2607,
     "oid:oid, conname:name, connamespace:oid, conowner:oid, conforencoding:int4, contoencoding:int4, conproc:regproc, condefault:bool"),
    ("pg_cast", 2605,
     "oid:oid, castsource:oid, casttarget:oid, castfunc:oid, castcontext:char, castmethod:char"),
    ("pg_transform", 3576,
     "oid:oid, trftype:oid, trflang:oid, trffromsql:regproc, trftosql:regproc"),
    ("pg_event_trigger", 3466,
     "oid:oid, evtname:name, evtevent:name, evtowner:oid, evtfoid:oid, evtenabled:char, evttags:text[]"),
    ("pg_subscription", 6100,
     "oid:oid, subdbid:oid, subskiplsn:pg_lsn, subname:name, subowner:oid, subenabled:bool, subbinary:bool, substream:bool, subtwophasestate:char, subdisableonerr:bool, subconninfo:text, subslotname:name, subsynccommit:text, subpublications:text[]"),
    ("pg_largeobject_metadata", 2995,
     "oid:oid, lomowner:oid, lomacl:acl"),
    ("pg_amop", 2602,
     "oid:oid, amopfamily:oid, amoplefttype:oid, amoprighttype:oid, amopstrategy:int2, amoppurpose:char, amopopr:oid, amopmethod:oid, amopsortfamily:oid"),
    ("pg_amproc", 2603,
     "oid:oid, amprocfamily:oid, amproclefttype:oid, amprocrighttype:oid, amprocnum:int2, amproc:regproc"),
    ("pg_shseclabel", 3592, "objoid:oid, classoid:oid, provider:text, label:text"),
    ("pg_db_role_setting", 2964, "setdatabase:oid, setrole:oid, setconfig:text[]"),
    ("pg_seclabels", 0,
     "objoid:oid, classoid:oid, objsubid:int4, objtype:text, objnamespace:oid, objname:text, provider:text, label:text"),
]
for _name, _oid, _cols in _EMPTY_CATALOGS:
    _rel(_name, _oid, _cols, "SELECT " + ", ".join(["NULL"] * len(_cols.split(","))) + " WHERE 0")


def _schema_of(name: str) -> str:
    return "information_schema" if name.startswith("information_schema_") else "pg_catalog"


SYSTEM_RELATIONS: dict[str, Table] = {
    name: Table(
        oid=oid,
        name=name,
        columns=tuple(Column(col, i + 1, typ) for i, (col, typ) in enumerate(cols)),
        schema=_schema_of(name),
        kind="v",
    )
    for name, oid, cols, _body in _SPECS
}


def view_statements() -> list[str]:
    """TEMP views implementing the system relations (run on every new connection)."""
    out = []
    for name, oid, cols, body in _SPECS:
        names = ", ".join('"' + c + '"' for c, _ in cols)
        if oid and _schema_of(name) == "pg_catalog":  # the system column tableoid (query_from.py)
            out.append(f'CREATE TEMP VIEW IF NOT EXISTS "{name}" ({names}, "tableoid") AS '
                       f'SELECT *, {oid} FROM ({body})')
        else:
            out.append(f'CREATE TEMP VIEW IF NOT EXISTS "{name}" ({names}) AS {body}')
    return out
