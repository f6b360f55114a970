"""pg_catalog and information_schema emulation: SQLite TEMP views over the ``__strata_*`` tables.

Clients (psql, pgbench, drivers, ORMs) discover the schema with ordinary queries against
pg_catalog. Rather than recognising those queries, we provide real (minimal) relations: each
is a TEMP view created on every connection by ``register_functions`` and described here with
its PostgreSQL column types, so queries over them are translated and typed like any other.
"""

from __future__ import annotations

import json
import re
from typing import Any

import apsw

from compute import pgtypes as T
from compute.sql import catalog as C
from compute.sql.api import SqlError
from compute.sql.catalog import (
    COLUMNS,
    COMMENTS,
    CONSTRAINTS,
    ENUMS,
    INDEXES,
    SEQUENCES,
    TABLES,
    TYPES,
    Column,
    Table,
)
from compute.sql.ruleutils import (
    deparse_condition,
    deparse_default,
    deparse_index_expr,
    deparse_view,
    ident,
)

OID, NAME, BOOL, INT2, INT4, INT8, TEXT, CHAR = T.OID, T.NAME, T.BOOL, T.INT2, T.INT4, T.INT8, T.TEXT, T.CHAR
FLOAT4, REGPROC, INT2VEC, OIDVEC, XID, ACL = T.FLOAT4, T.REGPROC, T.INT2VECTOR, T.OIDVECTOR, T.XID, T.ACLITEM_ARRAY
TEXTARR, OIDARR, INT2ARR, NODE, CHARARR = T.TEXT_ARRAY, T.OID_ARRAY, T.INT2_ARRAY, T.PG_NODE_TREE, T.CHAR_ARRAY

# Relations: (name, PostgreSQL oid, [(column, type)], SELECT producing those columns in order)
_SPECS: list[tuple[str, int, list[tuple[str, int]], str]] = []


def _rel(name: str, oid: int, cols: str, body: str) -> None:
    parsed = []
    for item in cols.split(","):
        col, typ = item.split(":")
        parsed.append((col.strip(), _TYPES[typ.strip()]))
    _SPECS.append((name, oid, parsed, body))


_TYPES = {
    "oid": OID, "name": NAME, "bool": BOOL, "int2": INT2, "int4": INT4, "int8": INT8, "text": TEXT,
    "char": CHAR, "float4": FLOAT4, "regproc": REGPROC, "int2vector": INT2VEC, "oidvector": OIDVEC,
    "xid": XID, "acl": ACL, "text[]": TEXTARR, "oid[]": OIDARR, "int2[]": INT2ARR, "node": NODE,
    "char[]": CHARARR, "float8": T.FLOAT8, "pg_lsn": T.PG_LSN, "timestamptz": T.TIMESTAMPTZ,
    "interval": T.INTERVAL, "inet": T.INET,
}

_KIND_AM = "CASE t.kind WHEN 'i' THEN 403 WHEN 'r' THEN 2 ELSE 0 END"
_NS = "CASE t.schema WHEN 'public' THEN 2200 WHEN 'pg_catalog' THEN 11 ELSE 2200 END"

_rel(
    "pg_namespace", 2615, "oid:oid, nspname:name, nspowner:oid, nspacl:acl",
    "SELECT 11, 'pg_catalog', 10, NULL UNION ALL SELECT 2200, 'public', 6171, "
    "'[\"pg_database_owner=UC/pg_database_owner\",\"=U/pg_database_owner\"]' "
    "UNION ALL SELECT 99, 'pg_toast', 10, NULL UNION ALL SELECT 13000, 'information_schema', 10, NULL",
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
    f"SELECT t.oid, t.name, {_NS}, 0, 0, 10, {_KIND_AM}, t.oid, 0, 0, -1.0, 0, 0, "
    f"EXISTS (SELECT 1 FROM main.{INDEXES} i WHERE i.table_oid = t.oid), 0, 'p', t.kind, "
    f"(SELECT count(*) FROM main.{COLUMNS} c WHERE c.table_oid = t.oid), "
    f"(SELECT count(*) FROM main.{CONSTRAINTS} k WHERE k.table_oid = t.oid AND k.type = 'c'), "
    f"0, EXISTS (SELECT 1 FROM main.{CONSTRAINTS} f WHERE f.type = 'f' AND t.oid IN (f.table_oid, f.ref_table)), "
    f"0, 0, 0, 1, 'd', 0, 0, 0, 0, NULL, t.options, NULL FROM main.{TABLES} t",
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
    f"SELECT k.rowid + 100000, k.name, 2200, k.type, "
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
_rel(
    "pg_roles", 4096,
    "rolname:name, rolsuper:bool, rolinherit:bool, rolcreaterole:bool, rolcreatedb:bool, "
    "rolcanlogin:bool, rolreplication:bool, rolconnlimit:int4, rolpassword:text, rolvaliduntil:text, "
    "rolbypassrls:bool, rolconfig:text[], oid:oid",
    "SELECT pg_session_user(), 1, 1, 1, 1, 1, 1, -1, '********', NULL, 1, NULL, 10",
)
_rel(
    "pg_user", 4098,
    "usename:name, usesysid:oid, usecreatedb:bool, usesuper:bool, userepl:bool, usebypassrls:bool, "
    "passwd:text, valuntil:text, useconfig:text[]",
    "SELECT pg_session_user(), 10, 1, 1, 1, 1, '********', NULL, NULL",
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
     "oid:oid, extname:name, extowner:oid, extnamespace:oid, extrelocatable:bool, extversion:text",
     "SELECT 13500, 'plpgsql', 10, 11, 0, '1.0'")
_rel("pg_range", 3541,
     "rngtypid:oid, rngsubtype:oid, rngmultitypid:oid, rngcollation:oid, rngsubopc:oid, "
     "rngcanonical:regproc, rngsubdiff:regproc", "SELECT 0, 0, 0, 0, 0, 0, 0 WHERE 0")
_rel("pg_collation", 3456, "oid:oid, collname:name, collnamespace:oid, collprovider:char",
     "SELECT 100, 'default', 11, 'd' UNION ALL SELECT 950, 'C', 11, 'c'")
_rel("pg_trigger", 2620,
     "oid:oid, tgrelid:oid, tgparentid:oid, tgname:name, tgfoid:oid, tgtype:int2, tgenabled:char, "
     "tgisinternal:bool, tgconstrrelid:oid, tgconstrindid:oid, tgconstraint:oid, tgdeferrable:bool, "
     "tginitdeferred:bool, tgnargs:int2, tgattr:int2vector, tgargs:text, tgqual:node, tgoldtable:name, "
     "tgnewtable:name",
     "SELECT 0, 0, 0, '', 0, 0, 'O', 0, 0, 0, 0, 0, 0, 0, '', '', NULL, NULL, NULL WHERE 0")
_rel("pg_rewrite", 2618, "oid:oid, rulename:name, ev_class:oid, ev_type:char",
     "SELECT 0, '', 0, '' WHERE 0")
_rel("pg_depend", 2608,
     "classid:oid, objid:oid, objsubid:int4, refclassid:oid, refobjid:oid, refobjsubid:int4, deptype:char",
     f"SELECT 1259, s.oid, 0, 1259, s.owner_table, "
     f"(SELECT c.attnum FROM main.{COLUMNS} c WHERE c.table_oid = s.owner_table AND c.name = s.owner_column), "
     f"'a' FROM main.{SEQUENCES} s WHERE s.owner_table IS NOT NULL")
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
_rel("pg_foreign_table", 3118, "ftrelid:oid, ftserver:oid", "SELECT 0, 0 WHERE 0")
_rel(
    "pg_tables", 0,
    "schemaname:name, tablename:name, tableowner:name, tablespace:name, hasindexes:bool, "
    "hasrules:bool, hastriggers:bool, rowsecurity:bool",
    f"SELECT t.schema, t.name, pg_session_user(), NULL, "
    f"EXISTS (SELECT 1 FROM main.{INDEXES} i WHERE i.table_oid = t.oid), 0, 0, 0 "
    f"FROM main.{TABLES} t WHERE t.kind = 'r'",
)
_rel(
    "pg_views", 0, "schemaname:name, viewname:name, viewowner:name, definition:text",
    f"SELECT t.schema, t.name, pg_session_user(), pg_get_viewdef(t.oid) FROM main.{TABLES} t WHERE t.kind = 'v'",
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
_rel(
    "pg_stat_activity", 0,
    "datid:oid, datname:name, pid:int4, usesysid:oid, usename:name, application_name:text, "
    "client_addr:text, backend_start:text, xact_start:text, query_start:text, state:text, "
    "query:text, backend_type:text",
    "SELECT 16384, current_database(), pg_backend_pid(), 10, pg_session_user(), "
    "current_setting('application_name'), NULL, NULL, NULL, NULL, 'active', '', 'client backend'",
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
    "catalog_name:name, schema_name:name, schema_owner:name",
    "SELECT current_database(), 'public', pg_session_user() UNION ALL "
    "SELECT current_database(), 'pg_catalog', pg_session_user() UNION ALL "
    "SELECT current_database(), 'information_schema', pg_session_user()",
)
_rel(
    "information_schema_tables", 0,
    "table_catalog:name, table_schema:name, table_name:name, table_type:text, "
    "self_referencing_column_name:name, reference_generation:text, user_defined_type_catalog:name, "
    "user_defined_type_schema:name, user_defined_type_name:name, is_insertable_into:text, "
    "is_typed:text, commit_action:text",
    f"SELECT current_database(), t.schema, t.name, "
    f"CASE t.kind WHEN 'v' THEN 'VIEW' ELSE 'BASE TABLE' END, NULL, NULL, NULL, NULL, NULL, "
    f"CASE t.kind WHEN 'r' THEN 'YES' ELSE 'NO' END, 'NO', NULL FROM main.{TABLES} t "
    f"WHERE t.kind IN ('r', 'v')",
)
_rel(
    "information_schema_columns", 0,
    "table_catalog:name, table_schema:name, table_name:name, column_name:name, ordinal_position:int4, "
    "column_default:text, is_nullable:text, data_type:text, character_maximum_length:int4, "
    "character_octet_length:int4, numeric_precision:int4, numeric_precision_radix:int4, "
    "numeric_scale:int4, datetime_precision:int4, udt_catalog:name, udt_schema:name, udt_name:name, "
    "isidentity:text, identity_generation:text, is_generated:text, is_updatable:text",
    f"SELECT current_database(), t.schema, t.name, c.name, c.attnum, "
    f"CASE WHEN c.identity IS NULL AND c.default_expr IS NOT NULL "
    f"THEN pg_get_expr('D' || c.type_oid || ':' || c.typmod || ':' || c.default_expr, c.table_oid) END, "
    f"CASE WHEN c.not_null THEN 'NO' ELSE 'YES' END, "
    f"CASE WHEN c.type_oid IN (SELECT oid FROM main.{TYPES}) THEN 'USER-DEFINED' "
    f"WHEN c.type_oid IN (SELECT array_oid FROM main.{TYPES}) THEN 'ARRAY' "
    f"ELSE pg_format_type(c.type_oid, -1) END, "
    f"CASE WHEN c.type_oid IN (1042, 1043) AND c.typmod > 0 THEN c.typmod - 4 END, "
    f"CASE WHEN c.type_oid IN (25, 1042, 1043) THEN 1073741824 END, "
    f"CASE c.type_oid WHEN 21 THEN 16 WHEN 23 THEN 32 WHEN 20 THEN 64 WHEN 700 THEN 24 WHEN 701 THEN 53 "
    f"WHEN 1700 THEN CASE WHEN c.typmod > 0 THEN ((c.typmod - 4) >> 16) & 65535 END END, "
    f"CASE WHEN c.type_oid IN (21, 23, 20, 700, 701) THEN 2 WHEN c.type_oid = 1700 THEN 10 END, "
    f"CASE WHEN c.type_oid IN (21, 23, 20) THEN 0 WHEN c.type_oid = 1700 AND c.typmod > 0 "
    f"THEN (c.typmod - 4) & 65535 END, "
    f"CASE WHEN c.type_oid IN (1082) THEN 0 WHEN c.type_oid IN (1083, 1114, 1184, 1266, 1186) THEN 6 END, "
    f"current_database(), CASE WHEN c.type_oid >= 16384 THEN 'public' ELSE 'pg_catalog' END, "
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
    f"THEN 'YES' ELSE 'NO' END, 'YES', CASE WHEN k.type IN ('p', 'u') THEN 'YES' END "
    f"FROM main.{CONSTRAINTS} k JOIN main.{TABLES} t ON t.oid = k.table_oid "
    f"UNION ALL SELECT current_database(), t.schema, "
    f"'2200_' || t.oid || '_' || c.attnum || '_not_null', current_database(), t.schema, t.name, 'CHECK', "
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
        typtype = "p" if info.category == "P" else "b"
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
        f"SELECT e.oid, e.name, 2200, 10, 4, 1, 'e', 'E', 0, 1, ',', 0, 0, e.array_oid, 'i', 'p', 0, 0, -1, 0, "
        f"NULL, 'enum_in', 'enum_out', 'enum_recv', 'enum_send', 0, NULL FROM main.{TYPES} e"
    )
    rows.append(
        f"SELECT e.array_oid, '_' || e.name, 2200, 10, -1, 0, 'b', 'A', 0, 1, ',', 0, e.oid, 0, 'i', 'x', 0, 0, "
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
_rel(
    "pg_proc", 1255,
    "oid:oid, proname:name, pronamespace:oid, proowner:oid, prolang:oid, prokind:char, "
    "proretset:bool, prorettype:oid, pronargs:int2, proargtypes:oidvector",
    "SELECT 0, '', 11, 10, 12, 'f', 0, 0, 0, '' WHERE 0",
)


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
    for name, _oid, cols, body in _SPECS:
        names = ", ".join('"' + c + '"' for c, _ in cols)
        out.append(f'CREATE TEMP VIEW IF NOT EXISTS "{name}" ({names}) AS {body}')
    return out


# ---------------------------------------------------------------------- catalog functions
# SQL-visible names -> (SQLite UDF, result type). The UDFs are registered by ``install``.
_FUNCTION_TYPES: dict[str, tuple[str, int]] = {
    "pg_get_expr": ("pg_get_expr", TEXT),
    "pg_get_indexdef": ("pg_get_indexdef", TEXT),
    "pg_get_constraintdef": ("pg_get_constraintdef", TEXT),
    "pg_get_viewdef": ("pg_get_viewdef", TEXT),
    "pg_get_ruledef": ("pg_get_ruledef", TEXT),
    "obj_description": ("pg_obj_description", TEXT),
    "col_description": ("pg_col_description", TEXT),
    "shobj_description": ("pg_shobj_description", TEXT),
    "pg_get_userbyid": ("pg_get_userbyid", NAME),
    "pg_size_pretty": ("pg_size_pretty", TEXT),
    "pg_relation_size": ("pg_relation_size", INT8),
    "pg_table_size": ("pg_table_size", INT8),
    "pg_indexes_size": ("pg_indexes_size", INT8),
    "pg_total_relation_size": ("pg_total_relation_size", INT8),
    "pg_database_size": ("pg_database_size", INT8),
    "pg_partition_ancestors": ("pg_partition_ancestors", T.REGCLASS),
    "pg_partition_root": ("pg_partition_ancestors", T.REGCLASS),
    "pg_relation_is_publishable": ("pg_relation_is_publishable", BOOL),
    "pg_tablespace_location": ("pg_tablespace_location", TEXT),
    "pg_collation_is_visible": ("pg_true", BOOL),
    "pg_opclass_is_visible": ("pg_true", BOOL),
    "pg_conversion_is_visible": ("pg_true", BOOL),
    "pg_ts_config_is_visible": ("pg_true", BOOL),
    "to_regtype": ("pg_to_regtype", T.REGTYPE),
    "to_regclass": ("pg_to_regclass", T.REGCLASS),
    "to_regnamespace": ("pg_to_regnamespace", T.REGNAMESPACE),
}


def _register_expressions() -> None:
    """Teach the expression compiler the catalog functions (result types, UDF names)."""
    from sqlglot import exp

    from compute.sql import expressions as E
    from compute.sql.types import Ty

    def make(udf: str, result: int) -> E.Handler:
        def handler(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: E.Scope) -> tuple[exp.Expression, Ty]:
            return E.fn(udf, *args), Ty(result)

        return handler

    for name, (udf, result) in _FUNCTION_TYPES.items():
        E.FUNCTIONS[name] = make(udf, result)

    def array_upper(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: E.Scope) -> tuple[exp.Expression, Ty]:
        if len(args) != 2:
            raise SqlError("42883", "function array_upper with these arguments does not exist")
        # one-dimensional arrays are JSON arrays; an empty array has no upper bound
        length = E.fn("json_array_length", args[0])
        upper = E.fn("nullif", length, E.lit_int(0))
        return exp.Case(ifs=[exp.If(this=exp.EQ(this=args[1], expression=E.lit_int(1)), true=upper)]), Ty(T.INT4)

    def array_lower(c: E.ExprCompiler, args: list[exp.Expression], types: list[Ty], node: exp.Expression,
                    scope: E.Scope) -> tuple[exp.Expression, Ty]:
        if len(args) != 2:
            raise SqlError("42883", "function array_lower with these arguments does not exist")
        nonempty = exp.GT(this=E.fn("json_array_length", args[0]), expression=E.lit_int(0))
        cond = exp.And(this=nonempty, expression=exp.EQ(this=args[1], expression=E.lit_int(1)))
        return exp.Case(ifs=[exp.If(this=cond, true=E.lit_int(1))]), Ty(T.INT4)

    E.FUNCTIONS.setdefault("array_upper", array_upper)
    E.FUNCTIONS.setdefault("array_lower", array_lower)


# Client idioms the query compiler has no general support for, rewritten to equivalents before
# parsing. Strata has no partitioned tables, so a relation's partition ancestors are itself.
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


_register_expressions()


def _size_pretty(size: Any) -> str | None:
    if size is None:
        return None
    value = int(size)
    units = ["bytes", "kB", "MB", "GB", "TB", "PB"]
    limit = 10 * 1024
    if abs(value) < limit:
        return f"{value} bytes"
    # PostgreSQL halves, rounds, and switches unit when the value reaches 10240 of the unit.
    value = value // 512  # half-kB
    for unit in units[1:]:
        if abs(value) < limit * 2 - 1 or unit == units[-1]:
            return f"{(value + (1 if value > 0 else 0)) // 2} {unit}"
        value = value // 1024
    return f"{value} PB"


class _CatalogFunctions:
    """UDF implementations that read the ``__strata_*`` tables through the connection."""

    def __init__(self, conn: Any, ctx: Any) -> None:
        self.conn = conn
        self.ctx = ctx

    def _one(self, sql: str, args: tuple[Any, ...]) -> tuple[Any, ...] | None:
        rows = self.conn.execute(sql, args).fetchall()
        return tuple(rows[0]) if rows else None

    def columns(self, relid: Any) -> dict[str, tuple[int, int]]:
        return {name: (oid, typmod) for name, oid, typmod in self.conn.execute(
            f"SELECT name, type_oid, typmod FROM {COLUMNS} WHERE table_oid = ?", (relid,))}

    @staticmethod
    def _pretty(value: Any) -> bool:
        return bool(value) and str(value).lower() not in ("f", "false", "0")

    # -- expressions
    def get_expr(self, node: Any, relid: Any = None, pretty: Any = False) -> Any:
        if node is None:
            return None
        text = str(node)
        nice = self._pretty(pretty)
        if text.startswith("D"):
            type_part, typmod_part, body = text[1:].split(":", 2)
            if int(type_part) >= C.FIRST_USER_OID:  # an enum (array) default: 'label'::type
                name = self._user_type_name(int(type_part))
                quoted = body.startswith("'") and body.endswith("'") and "::" not in body
                return f"{body}::{name}" if name and quoted else body
            return deparse_default(body, int(type_part), int(typmod_part), nice, self.ctx.timezone)
        if text.startswith("C"):
            rel, body = text[1:].split(":", 1)
            return deparse_condition(body, self.columns(int(rel)), nice, self.ctx.timezone)
        if text.startswith("X"):
            keys = self._index_keys(int(text[1:]), nice)
            return ", ".join(k for k, _options, is_expr in keys if is_expr) if keys else None
        return text

    def _index_keys(self, oid: int, pretty: bool) -> list[tuple[str, str, bool]]:
        row = self._one(f"SELECT i.table_oid, i.columns, x.definition FROM {INDEXES} i "
                        f"LEFT JOIN {TABLES} x ON x.oid = i.oid WHERE i.oid = ?", (oid,))
        if row is None:
            return []
        cols = self.columns(row[0])
        defn = json.loads(row[2]) if row[2] else {}
        desc = defn.get("desc") or []
        nulls = defn.get("nulls") or []
        opclass = defn.get("opclass") or []
        out = []
        for i, key in enumerate(json.loads(row[1])):
            if key in cols:
                text, is_expr = ident(key), False
            else:
                text, is_expr = deparse_index_expr(key, cols, pretty), True
            is_desc = i < len(desc) and bool(desc[i])
            nulls_first = bool(nulls[i]) if i < len(nulls) else is_desc
            # as pg_get_indexdef: the operator class if one was named, then only what differs
            # from the default order of ASC / DESC
            options = (f" {opclass[i]}" if i < len(opclass) and opclass[i] else "") + (" DESC" if is_desc else "") + (
                " NULLS LAST" if is_desc and not nulls_first else " NULLS FIRST" if nulls_first and not is_desc else "")
            out.append((text, options, is_expr))
        return out

    def get_indexdef(self, oid: Any, colno: Any = 0, pretty: Any = False) -> Any:
        if oid is None:
            return None
        row = self._one(
            f"SELECT x.name, t.name, t.schema, i.is_unique, i.table_oid, x.definition, i.columns "
            f"FROM {INDEXES} i JOIN {TABLES} x ON x.oid = i.oid JOIN {TABLES} t ON t.oid = i.table_oid "
            f"WHERE i.oid = ?", (oid,))
        if row is None:
            return None
        name, table, schema, unique, table_oid, definition, _cols = row
        nice = self._pretty(pretty)
        col = int(colno or 0)
        keys = self._index_keys(int(oid), nice)
        if col > 0:
            if col > len(keys):
                return ""
            return keys[col - 1][0]
        defn = json.loads(definition) if definition else {}
        rel = ident(table) if nice else f"{ident(schema)}.{ident(table)}"
        out = (f"CREATE {'UNIQUE ' if unique else ''}INDEX {ident(name)} ON {rel} USING btree "
               f"({', '.join(k + options for k, options, _ in keys)})")
        where = defn.get("where")
        if where:
            out += " WHERE " + deparse_condition(where, self.columns(table_oid), nice, self.ctx.timezone)
        return out

    def get_constraintdef(self, oid: Any, pretty: Any = False) -> Any:
        if oid is None:
            return None
        row = self._one(f"SELECT type, columns, definition, ref_table, ref_columns, table_oid FROM {CONSTRAINTS} "
                        f"WHERE rowid + 100000 = ?", (oid,))
        if row is None:
            return None
        ctype, cols, definition, ref_table, ref_cols, table_oid = row
        names = ", ".join(ident(c) for c in json.loads(cols))
        nice = self._pretty(pretty)
        if ctype == "p":
            return f"PRIMARY KEY ({names})"
        if ctype == "u":
            return f"UNIQUE ({names})"
        if ctype == "c":
            return f"CHECK ({deparse_condition(definition or '', self.columns(table_oid), nice, self.ctx.timezone)})"
        if ctype == "f":
            ref = self._one(f"SELECT name FROM {TABLES} WHERE oid = ?", (ref_table,))
            ref_name = ident(ref[0]) if ref else "?"
            info = json.loads(definition) if definition and definition.startswith("{") else {}
            out = f"FOREIGN KEY ({names}) REFERENCES {ref_name}({', '.join(ident(c) for c in json.loads(ref_cols or '[]'))})"
            if info.get("match") == "f":
                out += " MATCH FULL"
            actions = {"r": "RESTRICT", "c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}
            if info.get("upd", "a") in actions:
                out += f" ON UPDATE {actions[info['upd']]}"
            if info.get("del", "a") in actions:
                out += f" ON DELETE {actions[info['del']]}"
            if info.get("deferrable"):
                out += " DEFERRABLE"
                if info.get("deferred"):
                    out += " INITIALLY DEFERRED"
            return out
        return definition

    def get_viewdef(self, view: Any, pretty: Any = False) -> Any:
        if view is None:
            return None
        if isinstance(view, int) or str(view).isdigit():
            row = self._one(f"SELECT definition FROM {TABLES} WHERE oid = ? AND kind = 'v'", (int(view),))
        else:
            name = str(view)
            name = name[1:-1] if name.startswith('"') else name.lower()
            row = self._one(f"SELECT definition FROM {TABLES} WHERE name = ? AND kind = 'v'",
                            (name.removeprefix("public."),))
        if row is None or row[0] is None:
            return None
        return deparse_view(row[0])

    # -- comments
    def obj_description(self, oid: Any, catalog: Any = None) -> Any:
        if oid is None:
            return None
        classoid = SYSTEM_RELATIONS[str(catalog)].oid if catalog is not None and str(catalog) in SYSTEM_RELATIONS else None
        sql = "SELECT description FROM pg_description WHERE objoid = ? AND objsubid = 0"
        args: tuple[Any, ...] = (oid,)
        if classoid is not None:
            sql += " AND classoid = ?"
            args = (oid, classoid)
        row = self._one(sql, args)
        return row[0] if row else None

    def col_description(self, oid: Any, attnum: Any) -> Any:
        if oid is None or attnum is None:
            return None
        row = self._one(f"SELECT description FROM {COMMENTS} WHERE classoid = 1259 AND objoid = ? AND objsubid = ?",
                        (oid, attnum))
        return row[0] if row else None

    # -- databases, users, sizes
    def databases_json(self) -> str:
        try:
            rows = self.conn.execute("SELECT oid, datname FROM strata_databases ORDER BY datname").fetchall()
        except apsw.SQLError:
            rows = [(5, self.ctx.database)]
        return json.dumps([[int(oid), str(name)] for oid, name in rows])

    def userbyid(self, oid: Any) -> Any:
        if oid is None:
            return None
        if int(oid) == 6171:
            return "pg_database_owner"
        return self.ctx.user

    def relation_size(self, oid: Any, *_fork: Any) -> Any:
        if oid is None:
            return None
        row = self._one(f"SELECT name, kind FROM {TABLES} WHERE oid = ?", (oid,))
        if row is None or row[1] not in ("r", "i"):
            return 0
        name = row[0]
        if row[1] == "i":
            found = self._one(f"SELECT sqlite_name FROM {INDEXES} WHERE oid = ?", (oid,))
            name = found[0] if found and found[0] else None
            if name is None:
                return 0
        return self._pages(name)

    def _pages(self, name: str) -> int:
        try:
            row = self._one("SELECT count(*) FROM dbstat WHERE name = ?", (name,))
        except apsw.SQLError:  # SQLite built without the dbstat table
            return 0
        page_size = int(self.conn.execute("PRAGMA page_size").fetchall()[0][0])
        return int(row[0]) * page_size if row else 0

    def indexes_size(self, oid: Any) -> Any:
        if oid is None:
            return None
        return sum(self.relation_size(i) for (i,) in self.conn.execute(
            f"SELECT oid FROM {INDEXES} WHERE table_oid = ?", (oid,)).fetchall())

    def total_size(self, oid: Any) -> Any:
        if oid is None:
            return None
        return int(self.relation_size(oid)) + int(self.indexes_size(oid))

    def database_size(self, _db: Any) -> Any:
        count = int(self.conn.execute("PRAGMA page_count").fetchall()[0][0])
        size = int(self.conn.execute("PRAGMA page_size").fetchall()[0][0])
        return count * size

    def _user_type_name(self, oid: int) -> str | None:
        """The name of an enum type (or ``name[]`` of its array type) by OID."""
        row = self._one(f"SELECT name, oid = ? FROM main.{TYPES} WHERE oid = ? OR array_oid = ?", (oid, oid, oid))
        if row is None:
            return None
        return C.type_ident(str(row[0])) + ("" if row[1] else "[]")

    def format_type(self, oid: Any, typmod: Any) -> Any:
        if oid is None:
            return None
        if int(oid) >= C.FIRST_USER_OID:
            name = self._user_type_name(int(oid))
            if name is not None:
                return name
            return "???"
        return T.format_type(int(oid), -1 if typmod is None else int(typmod))

    def regtype_out(self, oid: Any) -> Any:
        if oid is None:
            return None
        if not isinstance(oid, int) and not str(oid).isdigit():
            return str(oid)  # pg_typeof() yields the name already
        if int(oid) in T.TYPES or int(oid) == T.UNKNOWN:
            return T.regtype_name(int(oid))
        return self._user_type_name(int(oid)) or str(oid)

    def to_regtype(self, name: Any) -> Any:
        found = _to_regtype(name)
        if found is not None or name is None:
            return found
        key = str(name).strip().removeprefix("public.")
        key = key[1:-1] if key.startswith('"') and key.endswith('"') else key.lower()
        array = key.endswith("[]")
        row = self._one(f"SELECT oid, array_oid FROM main.{TYPES} WHERE name = ?", (key.removesuffix("[]"),))
        if row is None:
            return None
        return row[1] if array else row[0]

    def to_regclass(self, name: Any) -> Any:
        if name is None:
            return None
        text = str(name).strip()
        key = text[1:-1].replace('""', '"') if text.startswith('"') else text.lower()
        for prefix in ("public.", "pg_catalog."):
            key = key.removeprefix(prefix)
        row = self._one(f"SELECT oid FROM {TABLES} WHERE name = ?", (key,))
        if row is not None:
            return row[0]
        system = SYSTEM_RELATIONS.get(key)
        return system.oid if system is not None and system.oid else None

    def is_publishable(self, oid: Any) -> Any:
        if oid is None:
            return None
        row = self._one(f"SELECT kind FROM {TABLES} WHERE oid = ?", (oid,))
        return 1 if row and row[0] == "r" else 0


def install(conn: Any, ctx: Any) -> None:
    """Create the system views and register the catalog UDFs on a new connection."""
    for statement in view_statements():
        conn.execute(statement)
    f = _CatalogFunctions(conn, ctx)
    scalar = conn.create_scalar_function
    scalar("pg_get_expr", f.get_expr, -1)
    scalar("pg_get_indexdef", f.get_indexdef, -1)
    scalar("pg_get_constraintdef", f.get_constraintdef, -1)
    scalar("pg_get_viewdef", f.get_viewdef, -1)
    scalar("pg_get_ruledef", lambda *args: None, -1)
    scalar("pg_obj_description", f.obj_description, -1)
    scalar("pg_col_description", f.col_description, 2)
    scalar("pg_shobj_description", f.obj_description, -1)
    scalar("pg_databases_json", f.databases_json, 0)
    scalar("pg_get_userbyid", f.userbyid, 1)
    scalar("pg_size_pretty", _size_pretty, 1)
    scalar("pg_relation_size", f.relation_size, -1)
    scalar("pg_table_size", f.relation_size, 1)
    scalar("pg_indexes_size", f.indexes_size, 1)
    scalar("pg_total_relation_size", f.total_size, 1)
    scalar("pg_database_size", f.database_size, 1)
    scalar("pg_partition_ancestors", lambda oid: oid, 1)
    scalar("pg_relation_is_publishable", f.is_publishable, 1)
    scalar("pg_tablespace_location", lambda oid: "", 1)
    scalar("pg_to_regtype", f.to_regtype, 1)
    scalar("pg_format_type", f.format_type, 2, deterministic=False)
    scalar("pg_regtype_out", f.regtype_out, 1)
    scalar("pg_to_regclass", f.to_regclass, 1)
    scalar("pg_to_regnamespace", _to_regnamespace, 1)


_TYPMOD = re.compile(r"\s*\(\s*\d+\s*(?:,\s*\d+\s*)?\)")


def _to_regtype(name: Any) -> int | None:
    """A built-in type named as SQL writes it: quoted (case-sensitive) or not, schema-qualified,
    with a type modifier or array brackets (``"text"``, ``varchar(3)[]``)."""
    if name is None:
        return None
    text = str(name).strip()
    dims = 0
    while text.endswith("]"):
        head = text[:-1].rstrip()
        if not head.endswith("["):
            return None
        text, dims = head[:-1].rstrip(), dims + 1
    for prefix in ('pg_catalog.', '"pg_catalog".'):
        if text.lower().startswith(prefix):
            text = text[len(prefix):]
    if len(text) > 1 and text.startswith('"') and text.endswith('"'):
        key = text[1:-1].replace('""', '"')
    else:
        key = " ".join(_TYPMOD.sub("", text).lower().split())
    oid = T.TYPE_NAMES.get(key)
    if oid is None or dims == 0:
        return oid
    return T.ARRAY_OF.get(oid)


def _to_regnamespace(name: Any) -> int | None:
    return {"pg_catalog": 11, "public": 2200, "information_schema": 13000, "pg_toast": 99}.get(str(name))
