-- Moving objects between schemas (translate/schema_move.py): ALTER SCHEMA ... RENAME TO of a
-- schema holding objects, ALTER TABLE | VIEW | SEQUENCE | TYPE ... SET SCHEMA. Each case runs in
-- BEGIN ... ROLLBACK.
create schema sm;
create type sm.mood as enum ('ok', 'sad');
create table sm.p (id serial primary key, m sm.mood default 'ok', u int unique, check (u > 0));
create sequence sm.q start 10;
create table sm.c (id int primary key default nextval('sm.q'), pid int references sm.p (id) on delete cascade);
alter table sm.c add constraint c_id_positive check (id > 0);
create index c_pid_idx on sm.c (pid);
create view sm.pv as select id, u from sm.p;
create view pub_cv as select id, pid from sm.c;
create table pt (id serial primary key, n int check (n < 100), q int default nextval('sm.q'));
create view pt_v as select id, n from pt;
insert into sm.p (u) values (1), (2);
insert into sm.c (pid) values (1), (2);
insert into pt (n) values (5);

-- case rename_select ordered
alter schema sm rename to sn;
select id, m, u from sn.p order by id;

-- case rename_old_name_gone
alter schema sm rename to sn;
select * from sm.p;

-- case rename_namespace_rows ordered
alter schema sm rename to sn;
select n.nspname, c.relname, c.relkind from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname in ('sm', 'sn') order by 2;

-- case rename_constraints ordered
alter schema sm rename to sn;
select conname, contype, connamespace::regnamespace::text from pg_constraint where conrelid in ('sn.p'::regclass, 'sn.c'::regclass) order by 1;

-- case rename_serial_default
alter schema sm rename to sn;
insert into sn.p (u) values (3) returning id, m, u;

-- case rename_sequence_default
alter schema sm rename to sn;
insert into sn.c (pid) values (1) returning id, pid;

-- case rename_public_default_names_moved_sequence
alter schema sm rename to sn;
insert into pt (n) values (6) returning id, n, q;

-- case rename_defaults_text ordered
alter schema sm rename to sn;
select a.attrelid::regclass::text, a.attname, pg_get_expr(d.adbin, d.adrelid) from pg_attrdef d join pg_attribute a on a.attrelid = d.adrelid and a.attnum = d.adnum order by 1, 2;

-- case rename_check_from_create_table message
alter schema sm rename to sn;
insert into sn.p (u) values (-1);

-- case rename_check_from_alter_table message
alter schema sm rename to sn;
insert into sn.c (id, pid) values (-5, 1);

-- case rename_fk_child message
alter schema sm rename to sn;
insert into sn.c (pid) values (99);

-- case rename_fk_cascade ordered
alter schema sm rename to sn;
delete from sn.p where id = 1;
select id, pid from sn.c order by id;

-- case rename_unique message
alter schema sm rename to sn;
insert into sn.p (u) values (1);

-- case rename_view_in_schema ordered
alter schema sm rename to sn;
select id, u from sn.pv order by id;

-- case rename_view_elsewhere ordered
alter schema sm rename to sn;
select id, pid from pub_cv order by id;

-- case rename_viewdef
alter schema sm rename to sn;
select pg_get_viewdef('pub_cv'::regclass);

-- case rename_view_table_name
alter schema sm rename to sn;
select table_schema, table_name from information_schema.views where table_name = 'pv';

-- case rename_enum_type
alter schema sm rename to sn;
select 'sad'::sn.mood;

-- case rename_enum_format_type
alter schema sm rename to sn;
select format_type(atttypid, atttypmod) from pg_attribute where attrelid = 'sn.p'::regclass and attname = 'm';

-- case rename_index ordered
alter schema sm rename to sn;
select schemaname, tablename, indexname from pg_indexes where schemaname = 'sn' order by 3;

-- case rename_drop_index_after
alter schema sm rename to sn;
drop index sn.c_pid_idx;
select count(*) from pg_indexes where indexname = 'c_pid_idx';

-- case rename_drop_constraint_after message
alter schema sm rename to sn;
alter table sn.c drop constraint c_id_positive;
insert into sn.c (id, pid) values (-5, 1);
select count(*) from sn.c where id = -5;

-- case rename_then_recreate_old_name ordered
alter schema sm rename to sn;
create schema sm;
create table sm.c (id int primary key, v int check (v > 0));
create index c_pid_idx on sm.c (v);
insert into sm.c values (1, 1);
select 'sm', id from sm.c union all select 'sn', id from sn.c order by 1, 2;

-- case rename_drop_cascade_after
alter schema sm rename to sn;
drop schema sn cascade;
select count(*) from pg_class where relname in ('p', 'c', 'q', 'pv');

-- case rename_search_path ordered
alter schema sm rename to sn;
set local search_path = sn, public;
select id, u from p order by id;

-- case rename_nextval_text
alter schema sm rename to sn;
select nextval('sn.q');

-- case rename_sequences_view ordered
alter schema sm rename to sn;
select schemaname, sequencename from pg_sequences where schemaname = 'sn' order by 2;

-- case rename_twice ordered
alter schema sm rename to sn;
alter schema sn rename to so;
select id, pid from so.c order by id;

-- case rename_to_existing message
create schema sx;
alter schema sm rename to sx;

-- case rename_reserved message
alter schema sm rename to pg_sm;

-- case rename_missing message
alter schema nosuch rename to sz;

-- case rename_public_view_in_other_schema_reads
create view sm.pubv as select id from pt;
alter schema sm rename to sn;
select count(*) from sn.pubv;

-- case set_schema_table ordered
create schema st;
alter table sm.c set schema st;
select id, pid from st.c order by id;

-- case set_schema_table_status
create schema st;
alter table sm.c set schema st;

-- case set_schema_table_indexes_constraints ordered
create schema st;
alter table sm.c set schema st;
select c.relname, n.nspname from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relname in ('c', 'c_pkey', 'c_pid_idx') order by 1;

-- case set_schema_table_constraints_namespace ordered
create schema st;
alter table sm.c set schema st;
select conname, connamespace::regnamespace::text from pg_constraint where conrelid = 'st.c'::regclass order by 1;

-- case set_schema_table_check message
create schema st;
alter table sm.c set schema st;
insert into st.c (id, pid) values (-1, 1);

-- case set_schema_table_fk message
create schema st;
alter table sm.c set schema st;
insert into st.c (pid) values (77);

-- case set_schema_parent_fk message
create schema st;
alter table sm.p set schema st;
insert into sm.c (pid) values (77);

-- case set_schema_serial_moves ordered
create schema st;
alter table sm.p set schema st;
select n.nspname, c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relname = 'p_id_seq';

-- case set_schema_serial_insert
create schema st;
alter table sm.p set schema st;
insert into st.p (u) values (9) returning id, u;

-- case set_schema_serial_default_text
create schema st;
alter table sm.p set schema st;
select pg_get_expr(adbin, adrelid) from pg_attrdef where adrelid = 'st.p'::regclass and adnum = 1;

-- case set_schema_public_table ordered
alter table pt set schema sm;
select id, n from sm.pt order by id;

-- case set_schema_public_table_view_follows ordered
alter table pt set schema sm;
select id, n from pt_v order by id;

-- case set_schema_public_table_viewdef
alter table pt set schema sm;
select pg_get_viewdef('pt_v'::regclass);

-- case set_schema_public_table_check message
alter table pt set schema sm;
insert into sm.pt (n) values (500);

-- case set_schema_to_public ordered
alter table sm.c set schema public;
select id, pid from c order by id;

-- case set_schema_view_from_public_reads ordered
alter table sm.c set schema public;
select id, pid from pub_cv order by id;

-- case set_schema_sequence
create schema st;
alter sequence sm.q set schema st;
select nextval('st.q');

-- case set_schema_sequence_default
create schema st;
alter sequence sm.q set schema st;
insert into sm.c (pid) values (1) returning id;

-- case set_schema_sequence_default_text
create schema st;
alter sequence sm.q set schema st;
select pg_get_expr(adbin, adrelid) from pg_attrdef where adrelid = 'sm.c'::regclass;

-- case set_schema_owned_sequence message
create schema st;
alter sequence sm.p_id_seq set schema st;

-- case set_schema_view ordered
create schema st;
alter view sm.pv set schema st;
select id, u from st.pv order by id;

-- case set_schema_view_not_view message
create schema st;
alter view sm.p set schema st;

-- case set_schema_sequence_not_sequence message
create schema st;
alter sequence sm.p set schema st;

-- case set_schema_table_on_view ordered
create schema st;
alter table sm.pv set schema st;
select id, u from st.pv order by id;

-- case set_schema_missing_schema message
alter table sm.p set schema nosuch;

-- case set_schema_missing_table message
alter table sm.nosuch set schema public;

-- case set_schema_if_exists_missing
alter table if exists nosuch set schema sm;

-- case set_schema_exists_in_target message
create table sm.pt (a int);
alter table pt set schema sm;

-- case set_schema_type
create schema st;
alter type sm.mood set schema st;
select 'ok'::st.mood;

-- case set_schema_type_column_default ordered
create schema st;
alter type sm.mood set schema st;
insert into sm.p (u) values (50);
select m, pg_typeof(m)::text from sm.p where u = 50;

-- case set_schema_type_default_text
create schema st;
alter type sm.mood set schema st;
select pg_get_expr(adbin, adrelid) from pg_attrdef where adrelid = 'sm.p'::regclass and adnum = 2;

-- case set_schema_type_exists message
create schema st;
create type st.mood as enum ('x');
alter type sm.mood set schema st;

-- case set_schema_type_missing message
alter type sm.nosuch set schema public;

-- case rename_view_reading_moved_view ordered
create view pub_pvv as select id from sm.pv where u > 1;
create view pub_pvvv as select id from pub_pvv;
alter schema sm rename to sn;
select id from pub_pvvv order by id;

-- case set_schema_view_read_elsewhere ordered
create schema st;
create view pub_pvv as select id from sm.pv where u > 1;
alter view sm.pv set schema st;
select id from pub_pvv order by id;

-- case set_schema_view_read_elsewhere_viewdef
create schema st;
create view pub_pvv as select id from sm.pv;
alter view sm.pv set schema st;
select pg_get_viewdef('pub_pvv'::regclass);

-- case rename_identity
create table sm.ident (id int generated always as identity, v text);
alter schema sm rename to sn;
insert into sn.ident (v) values ('a') returning id, v;

-- case set_schema_identity
create table ident (id int generated by default as identity, v text);
alter table ident set schema sm;
insert into sm.ident (v) values ('a') returning id, v;

-- case set_schema_identity_sequence_name
create table ident (id int generated by default as identity, v text);
alter table ident set schema sm;
select pg_get_serial_sequence('sm.ident', 'id');

-- case set_schema_same_schema
alter table sm.p set schema sm;
select count(*) from sm.p;

-- case set_schema_multi_statement_then_use ordered
create schema st;
alter table sm.p set schema st;
insert into st.p (u) values (40);
select u from st.p order by u;

-- case set_schema_partial_index ordered
create index p_big on sm.p (u) where u > 1;
create schema st;
alter table sm.p set schema st;
select indexname, indexdef from pg_indexes where tablename = 'p' order by 1;

-- case set_schema_deferred_fk message
create table sm.dc (pid int references sm.p (id) deferrable initially deferred);
insert into sm.dc values (555);
set constraints all immediate;

-- case set_schema_deferred_fk_moved message
create table sm.dc2 (pid int references sm.p (id) deferrable initially deferred);
create schema st;
alter table sm.dc2 set schema st;
insert into st.dc2 values (555);
set constraints all immediate;

-- case set_schema_type_view_reads ordered
create view pub_mv as select 'sad'::sm.mood as m, id from sm.p;
create schema st;
alter type sm.mood set schema st;
select m, pg_typeof(m)::text, id from pub_mv order by id;

-- case rename_quoted_names ordered
create table sm."Odd Name" (id int primary key, v text unique);
create view "Odd View" as select id, v from sm."Odd Name";
insert into sm."Odd Name" values (1, 'a');
alter schema sm rename to "New Schema";
select id, v from "Odd View" order by id;

-- case set_schema_table_with_trigger ordered
create function trg_noop() returns trigger language plpgsql as $$ begin new.a := new.a * 10; return new; end $$;
create table trg_t (a int);
create trigger trg_t_noop before insert on trg_t for each row execute function trg_noop();
alter table trg_t set schema sm;
insert into sm.trg_t values (1), (2);
select a from sm.trg_t order by a;
