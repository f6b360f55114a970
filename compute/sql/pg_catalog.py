"""pg_catalog and information_schema emulation: SQLite TEMP views over the ``__strata_*`` tables.

Clients (psql, pgbench, drivers, ORMs) discover the schema with ordinary queries against
pg_catalog. Rather than recognising those queries, we provide real (minimal) relations: each
is a TEMP view created on every connection by ``register_functions`` and described here with
its PostgreSQL column types, so queries over them are translated and typed like any other.
"""

from __future__ import annotations

from compute import pgtypes as T
from compute.sql.catalog import COLUMNS, CONSTRAINTS, INDEXES, SEQUENCES, TABLES, Column, Table

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
    "char[]": CHARARR, "float8": T.FLOAT8,
}

_KIND_AM = "CASE t.kind WHEN 'i' THEN 403 WHEN 'r' THEN 2 ELSE 0 END"
_NS = "CASE t.schema WHEN 'public' THEN 2200 WHEN 'pg_catalog' THEN 11 ELSE 2200 END"

_rel(
    "pg_namespace", 2615, "oid:oid, nspname:name, nspowner:oid, nspacl:acl",
    "SELECT 11, 'pg_catalog', 10, NULL UNION ALL SELECT 2200, 'public', 10, NULL "
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
    f"0, 0, 0, 0, 0, 1, 'd', 0, 0, 0, 0, NULL, t.options, NULL FROM main.{TABLES} t",
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
    f"c.default_expr IS NOT NULL, 0, coalesce(c.identity, ''), '', 0, 1, 0, "
    f"CASE WHEN c.type_oid IN (25, 1042, 1043, 19) THEN 950 ELSE 0 END, NULL, NULL, NULL, NULL "
    f"FROM main.{COLUMNS} c LEFT JOIN pg_type ty ON ty.oid = c.type_oid",
)
_rel(
    "pg_index", 2610,
    "indexrelid:oid, indrelid:oid, indnatts:int2, indnkeyatts:int2, indisunique:bool, "
    "indnullsnotdistinct:bool, indisprimary:bool, indisexclusion:bool, indimmediate:bool, "
    "indisclustered:bool, indisvalid:bool, indcheckxmin:bool, indisready:bool, indislive:bool, "
    "indisreplident:bool, indkey:int2vector, indcollation:oidvector, indclass:oidvector, "
    "indoption:int2vector, indexprs:node, indpred:node",
    f"SELECT i.oid, i.table_oid, json_array_length(i.columns), json_array_length(i.columns), "
    f"i.is_unique, 0, i.is_primary, 0, 1, 0, 1, 0, 1, 1, 0, "
    f"(SELECT group_concat(c.attnum, ' ') FROM json_each(i.columns) j "
    f" JOIN main.{COLUMNS} c ON c.table_oid = i.table_oid AND c.name = j.value), "
    f"'0', '1978', '0', NULL, NULL FROM main.{INDEXES} i",
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
    f"SELECT c.table_oid * 1000 + c.attnum, c.table_oid, c.attnum, c.default_expr "
    f"FROM main.{COLUMNS} c WHERE c.default_expr IS NOT NULL",
)
_rel(
    "pg_constraint", 2606,
    "oid:oid, conname:name, connamespace:oid, contype:char, condeferrable:bool, condeferred:bool, "
    "convalidated:bool, conrelid:oid, contypid:oid, conindid:oid, conparentid:oid, confrelid:oid, "
    "confupdtype:char, confdeltype:char, confmatchtype:char, conislocal:bool, coninhcount:int4, "
    "connoinherit:bool, conkey:int2[], confkey:int2[], conbin:node",
    f"SELECT k.rowid + 100000, k.name, 2200, k.type, 0, 0, 1, k.table_oid, 0, coalesce(k.index_oid, 0), 0, "
    f"coalesce(k.ref_table, 0), CASE WHEN k.type = 'f' THEN 'a' ELSE ' ' END, "
    f"CASE WHEN k.type = 'f' THEN 'a' ELSE ' ' END, CASE WHEN k.type = 'f' THEN 's' ELSE ' ' END, "
    f"1, 0, 0, "
    f"(SELECT json_group_array(c.attnum) FROM json_each(k.columns) j "
    f" JOIN main.{COLUMNS} c ON c.table_oid = k.table_oid AND c.name = j.value), "
    f"CASE WHEN k.ref_columns IS NULL THEN NULL ELSE (SELECT json_group_array(c.attnum) "
    f" FROM json_each(k.ref_columns) j JOIN main.{COLUMNS} c ON c.table_oid = k.ref_table "
    f" AND c.name = j.value) END, k.definition FROM main.{CONSTRAINTS} k",
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
    "SELECT 16384, current_database(), 10, 6, 'c', 0, 1, -1, 0, 1, 1663, 'C', 'C', NULL, NULL, NULL",
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
     "SELECT 0, 0, 0, '' WHERE 0")
_rel("pg_extension", 3079,
     "oid:oid, extname:name, extowner:oid, extnamespace:oid, extrelocatable:bool, extversion:text",
     "SELECT 13500, 'plpgsql', 10, 11, 0, '1.0'")
_rel("pg_enum", 3501, "oid:oid, enumtypid:oid, enumsortorder:float4, enumlabel:name",
     "SELECT 0, 0, 0.0, '' WHERE 0")
_rel("pg_range", 3541,
     "rngtypid:oid, rngsubtype:oid, rngmultitypid:oid, rngcollation:oid, rngsubopc:oid, "
     "rngcanonical:regproc, rngsubdiff:regproc", "SELECT 0, 0, 0, 0, 0, 0, 0 WHERE 0")
_rel("pg_collation", 3456, "oid:oid, collname:name, collnamespace:oid, collprovider:char",
     "SELECT 100, 'default', 11, 'd' UNION ALL SELECT 950, 'C', 11, 'c'")
_rel("pg_trigger", 2620, "oid:oid, tgrelid:oid, tgname:name, tgfoid:oid, tgenabled:char, tgisinternal:bool",
     "SELECT 0, 0, '', 0, 'O', 0 WHERE 0")
_rel("pg_rewrite", 2618, "oid:oid, rulename:name, ev_class:oid, ev_type:char",
     "SELECT 0, '', 0, '' WHERE 0")
_rel("pg_depend", 2608,
     "classid:oid, objid:oid, objsubid:int4, refclassid:oid, refobjid:oid, refobjsubid:int4, deptype:char",
     f"SELECT 1259, s.oid, 0, 1259, s.owner_table, "
     f"(SELECT c.attnum FROM main.{COLUMNS} c WHERE c.table_oid = s.owner_table AND c.name = s.owner_column), "
     f"'a' FROM main.{SEQUENCES} s WHERE s.owner_table IS NOT NULL")
_rel("pg_policy", 3256, "oid:oid, polname:name, polrelid:oid", "SELECT 0, '', 0 WHERE 0")
_rel("pg_statistic_ext", 3381, "oid:oid, stxrelid:oid, stxname:name", "SELECT 0, 0, '' WHERE 0")
_rel("pg_publication", 6104, "oid:oid, pubname:name", "SELECT 0, '' WHERE 0")
_rel("pg_publication_rel", 6106, "oid:oid, prpubid:oid, prrelid:oid", "SELECT 0, 0, 0 WHERE 0")
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
    f"SELECT t.schema, t.name, pg_session_user(), t.definition FROM main.{TABLES} t WHERE t.kind = 'v'",
)
_rel(
    "pg_indexes", 0, "schemaname:name, tablename:name, indexname:name, tablespace:name, indexdef:text",
    f"SELECT t.schema, t.name, x.name, NULL, "
    f"'CREATE ' || CASE WHEN i.is_unique THEN 'UNIQUE ' ELSE '' END || 'INDEX ' || x.name || ' ON ' "
    f"|| t.schema || '.' || t.name || ' USING btree (' || "
    f"(SELECT group_concat(j.value, ', ') FROM json_each(i.columns) j) || ')' "
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
    "is_identity:text, identity_generation:text, is_generated:text, is_updatable:text",
    f"SELECT current_database(), t.schema, t.name, c.name, c.attnum, c.default_expr, "
    f"CASE WHEN c.not_null THEN 'NO' ELSE 'YES' END, pg_format_type(c.type_oid, -1), "
    f"CASE WHEN c.type_oid IN (1042, 1043) AND c.typmod > 0 THEN c.typmod - 4 END, "
    f"CASE WHEN c.type_oid IN (25, 1042, 1043) THEN 1073741824 END, "
    f"CASE c.type_oid WHEN 21 THEN 16 WHEN 23 THEN 32 WHEN 20 THEN 64 WHEN 700 THEN 24 WHEN 701 THEN 53 "
    f"WHEN 1700 THEN CASE WHEN c.typmod > 0 THEN ((c.typmod - 4) >> 16) & 65535 END END, "
    f"CASE WHEN c.type_oid IN (21, 23, 20, 700, 701) THEN 2 WHEN c.type_oid = 1700 THEN 10 END, "
    f"CASE WHEN c.type_oid IN (21, 23, 20) THEN 0 WHEN c.type_oid = 1700 AND c.typmod > 0 "
    f"THEN (c.typmod - 4) & 65535 END, "
    f"CASE WHEN c.type_oid IN (1082) THEN 0 WHEN c.type_oid IN (1083, 1114, 1184, 1266, 1186) THEN 6 END, "
    f"current_database(), 'pg_catalog', (SELECT ty.typname FROM pg_type ty WHERE ty.oid = c.type_oid), "
    f"CASE WHEN c.identity IS NOT NULL THEN 'YES' ELSE 'NO' END, "
    f"CASE c.identity WHEN 'a' THEN 'ALWAYS' WHEN 'd' THEN 'BY DEFAULT' END, 'NEVER', "
    f"CASE t.kind WHEN 'r' THEN 'YES' ELSE 'NO' END "
    f"FROM main.{COLUMNS} c JOIN main.{TABLES} t ON t.oid = c.table_oid",
)


def _pg_type_body() -> str:
    rows = []
    for info in T.TYPES.values():
        byval = 1 if info.length in (1, 2, 4, 8) else 0
        align = {1: "c", 2: "s", 4: "i", 8: "d"}.get(info.length, "i")
        storage = "p" if info.length > 0 else "x"
        typtype = "p" if info.category == "P" else "b"
        name = info.name.replace("'", "''")
        rows.append(
            f"SELECT {info.oid}, '{name}', 11, 10, {info.length}, {byval}, '{typtype}', "
            f"'{info.category}', 0, 1, ',', 0, {info.elem_oid}, {info.array_oid}, '{align}', "
            f"'{storage}', 0, 0, -1, 0, NULL, "
            f"'{name}in', '{name}out', '{name}recv', '{name}send', "
            f"{950 if info.oid in (T.TEXT, T.VARCHAR, T.BPCHAR, T.NAME) else 0}"
        )
    return " UNION ALL ".join(rows)


_rel(
    "pg_type", 1247,
    "oid:oid, typname:name, typnamespace:oid, typowner:oid, typlen:int2, typbyval:bool, typtype:char, "
    "typcategory:char, typispreferred:bool, typisdefined:bool, typdelim:char, typrelid:oid, "
    "typelem:oid, typarray:oid, typalign:char, typstorage:char, typnotnull:bool, typbasetype:oid, "
    "typtypmod:int4, typndims:int4, typdefault:text, typinput:regproc, typoutput:regproc, "
    "typreceive:regproc, typsend:regproc, typcollation:oid",
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
