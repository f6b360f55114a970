-- Schemas and search_path (translate/schemas.py): CREATE/ALTER/DROP SCHEMA, qualified names,
-- name resolution by search_path, catalogs per schema. Each case runs in BEGIN ... ROLLBACK.
create schema sa;
create table sa.t (id serial primary key, a text unique, b int);
create table t (id int primary key, x text);
insert into sa.t (a, b) values ('x', 1), ('y', 2);
insert into t values (1, 'public');

-- case create_duplicate message
create schema sa;

-- case create_if_not_exists
create schema if not exists sa;
select count(*) from pg_namespace where nspname = 'sa';

-- case create_reserved_name message
create schema pg_mine;

-- case create_authorization_role
create role sch_owner;
create schema sb authorization sch_owner;
select nspname, pg_get_userbyid(nspowner) from pg_namespace where nspname = 'sb';

-- case create_authorization_only
create role sch_owner2;
create schema authorization sch_owner2;
select nspname from pg_namespace where nspname = 'sch_owner2';

-- case create_authorization_missing_role
create schema sb authorization nosuch_role;

-- case select_qualified ordered
select * from sa.t order by id;

-- case select_same_name_two_schemas ordered
select 'sa', a from sa.t union all select 'public', x from t order by 1, 2;

-- case select_public_qualified
select * from public.t;

-- case select_schema_table_column
select sa.t.a, t.b from sa.t where t.b > 1;

-- case select_missing_schema message
select * from nosuch.t;

-- case select_missing_table_in_schema message
select * from sa.nosuch;

-- case insert_update_delete
update sa.t set b = b + 10 where a = 'x';
delete from sa.t where t.a = 'y';
insert into sa.t (a, b) values ('z', 3) returning id, a, b;

-- case insert_missing_schema message
insert into nosuch.t values (1);

-- case unique_violation_message message
insert into sa.t (a, b) values ('x', 5);

-- case serial_default
select column_default::text from information_schema.columns where table_schema = 'sa' and table_name = 't' and column_name = 'id';

-- case nextval_qualified
select nextval('sa.t_id_seq');

-- case nextval_missing_schema message
select nextval('nosuch.s');

-- case regclass_qualified
select 'sa.t'::regclass, 't'::regclass, 'public.t'::regclass;

-- case regclass_missing_schema message
select 'nosuch.t'::regclass;

-- case regnamespace
select 'sa'::regnamespace::text, 'public'::regnamespace::oid;

-- case pg_class_namespaces ordered
select c.relname, n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relname in ('t', 't_pkey', 't_id_seq', 't_a_key') order by 2, 1;

-- case information_schema_tables ordered
select table_schema, table_name from information_schema.tables where table_name = 't' order by 1;

-- case information_schema_schemata
select schema_name from information_schema.schemata where schema_name in ('sa', 'public') order by 1;

-- case pg_tables_per_schema ordered
select schemaname, tablename from pg_tables where tablename = 't' order by 1;

-- case pg_indexes_per_schema ordered
select schemaname, indexname from pg_indexes where tablename = 't' order by 1, 2;

-- case pg_sequences_per_schema ordered
select schemaname, sequencename from pg_sequences where sequencename = 't_id_seq';

-- case pg_constraint_names ordered
select conname, contype, connamespace::regnamespace::text from pg_constraint where conrelid = 'sa.t'::regclass order by 1;

-- case search_path_set ordered
set search_path = sa, public;
select * from t order by id;

-- case search_path_show
set search_path = sa, public;
show search_path;

-- case current_schema_default
select current_schema(), current_schemas(false), current_schemas(true);

-- case current_schema_set
set search_path = sa, public;
select current_schema(), current_schemas(false), current_schemas(true);

-- case current_schema_none
set search_path = nosuch;
select current_schema(), current_schemas(false);

-- case create_in_first_schema
set search_path = sa, public;
create table u (a int);
select n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace where relname = 'u';

-- case create_no_schema_selected message
set search_path = nosuch;
create table v (a int);

-- case create_in_missing_schema message
create table nosuch.t (a int);

-- case unqualified_not_on_path message
set search_path = sa;
select x from t;

-- case user_schema_first
create schema postgres;
create table only_user (a int);
select n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace where relname = 'only_user';

-- case regclass_not_visible_prints_schema
set search_path = public;
select 'sa.t'::regclass::text;

-- case index_in_schema
create index ib on sa.t (b);
select schemaname, indexname, indexdef from pg_indexes where indexname = 'ib';

-- case drop_index_qualified
create index ib on sa.t (b);
drop index sa.ib;
select count(*) from pg_indexes where indexname = 'ib';

-- case drop_index_unqualified_not_found message
create index ib on sa.t (b);
drop index ib;

-- case view_in_schema
create view sa.vv as select a from sa.t where b > 1;
select * from sa.vv;

-- case view_definition
create view sa.vv as select a, b from sa.t;
select definition from pg_views where viewname = 'vv';

-- case foreign_key_across_schemas message
create table sa.c (id int references sa.t (id));
insert into sa.c values (99);

-- case foreign_key_to_public
create table sa.c (id int references public.t (id));
insert into sa.c values (1);
select pg_get_constraintdef(oid) from pg_constraint where conrelid = 'sa.c'::regclass;

-- case check_constraint_message message
create table sa.k (v int check (v > 0));
insert into sa.k values (-1);

-- case alter_table_in_schema
alter table sa.t add column w int default 5;
alter table sa.t rename column w to ww;
select ww from sa.t order by id limit 1;

-- case alter_table_rename_stays_in_schema
alter table sa.t rename to t2;
select n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace where relname = 't2';

-- case drop_constraint_missing message
alter table sa.t drop constraint nosuch;

-- case truncate_qualified
truncate sa.t;
select count(*) from sa.t;

-- case comment_on_qualified
comment on table sa.t is 'hello';
select obj_description('sa.t'::regclass, 'pg_class');

-- case sequence_in_schema
create sequence sa.sq;
select nextval('sa.sq'), nextval('sa.sq');

-- case enum_in_schema
create type sa.mood as enum ('a', 'b');
create table sa.m (x sa.mood);
insert into sa.m values ('b');
select x, pg_typeof(x)::text from sa.m;

-- case pg_get_serial_sequence_qualified
select pg_get_serial_sequence('sa.t', 'id');

-- case drop_schema_restrict message
drop schema sa;

-- case drop_schema_restrict_keyword message
drop schema sa restrict;

-- case drop_schema_cascade
drop schema sa cascade;
select count(*) from pg_namespace where nspname = 'sa';

-- case drop_schema_cascade_then_select message
drop schema sa cascade;
select * from sa.t;

-- case drop_schema_if_exists_missing
drop schema if exists nosuch, nosuch2;
select 1;

-- case drop_schema_missing message
drop schema nosuch;

-- case drop_empty_schema
create schema sempty;
drop schema sempty;
select count(*) from pg_namespace where nspname = 'sempty';

-- case drop_two_schemas
create schema s1x;
create schema s2x;
drop schema s1x, s2x;
select count(*) from pg_namespace where nspname in ('s1x', 's2x');

-- case alter_schema_rename_empty
create schema sempty;
alter schema sempty rename to sfull;
select nspname from pg_namespace where nspname in ('sempty', 'sfull');

-- case alter_schema_rename_missing message
alter schema nosuch rename to other;

-- case alter_schema_rename_exists message
create schema sempty;
alter schema sempty rename to sa;

-- case drop_table_missing_schema message
drop table nosuch.t;

-- case drop_table_qualified
drop table sa.t;
select count(*) from pg_class where relname = 't';

-- case copy_to_qualified
copy (select a from sa.t order by id) to stdout;

-- case alter_schema_rename_with_objects ordered
alter schema sa rename to sz;
select id, a, b from sz.t order by id;

-- case alter_table_set_schema_name_taken message
alter table sa.t set schema public;

-- case alter_table_set_schema ordered
create schema sq;
alter table sa.t set schema sq;
select id, a from sq.t order by id;

-- case enum_in_schema_information_schema
create type sa.mood as enum ('a', 'b');
create table sa.m (x sa.mood, y sa.mood[]);
select column_name, data_type::text, udt_schema::text, udt_name::text from information_schema.columns where table_schema = 'sa' and table_name = 'm' order by ordinal_position;

-- case enum_in_schema_format_type
create type sa.mood as enum ('a', 'b');
create table sa.m (x sa.mood);
select format_type(atttypid, atttypmod) from pg_attribute where attrelid = 'sa.m'::regclass and attnum = 1;

-- case enum_in_schema_on_path
create type sa.mood as enum ('a', 'b');
set search_path = sa, public;
select 'b'::mood, pg_typeof('a'::mood)::text;

-- case drop_type_in_schema
create type sa.mood as enum ('a', 'b');
drop type sa.mood;
select count(*) from pg_type where typname = 'mood';

-- case search_path_set_config
select set_config('search_path', 'sa', false);
select id from t order by id;
