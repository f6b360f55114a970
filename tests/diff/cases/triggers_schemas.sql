-- Triggers on tables outside public (translate/functions_ddl.py): CREATE/DROP TRIGGER on s.t,
-- TG_TABLE_NAME / TG_TABLE_SCHEMA, and tables with triggers moved by ALTER TABLE ... SET SCHEMA
-- and ALTER SCHEMA ... RENAME TO (translate/schema_move.py). Each case runs in BEGIN ... ROLLBACK.
create schema ts;
create schema ts2;
create table ts.items (id int primary key, name text, qty int);
create table ts.log (seq serial, op text, tbl text, sch text, item int);
create function ts_touch() returns trigger language plpgsql as $$ begin new.name := upper(new.name); return new; end $$;
create function ts_log() returns trigger language plpgsql as $$ begin if tg_op = 'DELETE' then insert into ts.log (op, tbl, sch, item) values (tg_op, tg_table_name, tg_table_schema, old.id); return old; end if; insert into ts.log (op, tbl, sch, item) values (tg_op, tg_table_name, tg_table_schema, new.id); return new; end $$;
create function ts_skip() returns trigger language plpgsql as $$ begin if new.qty < 0 then return null; end if; return new; end $$;
create function ts_stmt() returns trigger language plpgsql as $$ begin insert into ts.log (op, tbl, sch) values (tg_op || ' ' || tg_level, tg_table_name, tg_table_schema); return null; end $$;
create table ts_plog (op text, tbl text, sch text);
create function ts_plog_fn() returns trigger language plpgsql as $$ begin insert into ts_plog values (tg_op || ' ' || tg_level, tg_table_name, tg_table_schema); return null; end $$;

-- case create_tag
create trigger tg before insert on ts.items for each row execute function ts_touch();

-- case before_changes_new ordered
create trigger tg before insert on ts.items for each row execute function ts_touch();
insert into ts.items values (1, 'apple', 5), (2, 'pear', 3);
select * from ts.items order by id;

-- case after_tg_variables ordered
create trigger tg after insert or update or delete on ts.items for each row execute function ts_log();
insert into ts.items values (1, 'apple', 5);
update ts.items set qty = 6 where id = 1;
delete from ts.items where id = 1;
select op, tbl, sch, item from ts.log order by seq;

-- case before_return_null_skips ordered
create trigger tg before insert on ts.items for each row execute function ts_skip();
insert into ts.items values (1, 'a', 1), (2, 'b', -1), (3, 'c', 2);
select id from ts.items order by id;

-- case statement_trigger ordered
create trigger tg after insert on ts.items for each statement execute function ts_stmt();
insert into ts.items values (1, 'a', 1), (2, 'b', 2);
select op, tbl, sch from ts.log order by seq;

-- case unqualified_through_search_path ordered
set local search_path = ts, public;
create trigger tg before insert on items for each row execute function ts_touch();
insert into ts.items values (1, 'fig', 1);
select name from ts.items;

-- case same_name_two_schemas ordered
create table ts2.items (id int primary key, name text, qty int);
create trigger tg before insert on ts.items for each row execute function ts_touch();
insert into ts.items values (1, 'a', 1);
insert into ts2.items values (1, 'a', 1);
select 'ts' as s, name from ts.items union all select 'ts2', name from ts2.items order by 1;

-- case duplicate_trigger message
create trigger tg before insert on ts.items for each row execute function ts_touch();
create trigger tg before insert on ts.items for each row execute function ts_touch();

-- case drop_trigger ordered
create trigger tg before insert on ts.items for each row execute function ts_touch();
drop trigger tg on ts.items;
insert into ts.items values (1, 'apple', 5);
select name from ts.items;

-- case drop_trigger_tag
create trigger tg before insert on ts.items for each row execute function ts_touch();
drop trigger tg on ts.items;

-- case drop_trigger_missing message
drop trigger nosuch on ts.items;

-- case drop_trigger_if_exists
drop trigger if exists nosuch on ts.items;

-- case create_missing_schema message
create trigger tg before insert on nosuch.items for each row execute function ts_touch();

-- case create_missing_table message
create trigger tg before insert on ts.nosuch for each row execute function ts_touch();

-- case pg_trigger_listed ordered
create trigger tg before insert on ts.items for each row execute function ts_touch();
select t.tgname, c.relname, n.nspname from pg_trigger t join pg_class c on c.oid = t.tgrelid join pg_namespace n on n.oid = c.relnamespace where not t.tgisinternal order by 1;

-- case triggerdef
create trigger tg before insert on ts.items for each row execute function ts_touch();
select pg_get_triggerdef(oid) from pg_trigger where tgname = 'tg';

-- case set_schema_keeps_trigger ordered
create trigger tg before insert on ts.items for each row execute function ts_touch();
create trigger tl after insert on ts.items for each row execute function ts_log();
alter table ts.items set schema ts2;
insert into ts2.items values (1, 'apple', 5);
select i.name, l.tbl, l.sch from ts2.items i, ts.log l;

-- case set_schema_to_public ordered
create trigger tg before insert on ts.items for each row execute function ts_touch();
create trigger tl after insert on ts.items for each row execute function ts_log();
alter table ts.items set schema public;
insert into items values (1, 'apple', 5);
select i.name, l.tbl, l.sch from items i, ts.log l;

-- case set_schema_from_public ordered
create table pub_items (id int primary key, name text, qty int);
create trigger tg before insert on pub_items for each row execute function ts_touch();
create trigger tl after insert on pub_items for each row execute function ts_log();
alter table pub_items set schema ts2;
insert into ts2.pub_items values (1, 'apple', 5);
select i.name, l.tbl, l.sch from ts2.pub_items i, ts.log l;

-- case set_schema_then_drop_trigger ordered
create trigger tg before insert on ts.items for each row execute function ts_touch();
alter table ts.items set schema ts2;
drop trigger tg on ts2.items;
insert into ts2.items values (1, 'apple', 5);
select name from ts2.items;

-- case rename_schema_keeps_triggers ordered
create trigger tg before insert on ts.items for each row execute function ts_touch();
create trigger ts after insert on ts.items for each statement execute function ts_plog_fn();
create trigger tr after insert on ts.items for each row execute function ts_plog_fn();
alter schema ts rename to ts3;
insert into ts3.items values (1, 'apple', 5);
select i.name, l.op, l.tbl, l.sch from ts3.items i, ts_plog l order by 2;

-- case rename_schema_skip_trigger ordered
create trigger tg before insert on ts.items for each row execute function ts_skip();
alter schema ts rename to ts3;
insert into ts3.items values (1, 'a', 1), (2, 'b', -1);
select id from ts3.items order by id;

-- case relhastriggers ordered
create trigger tg before insert on ts.items for each row execute function ts_touch();
select c.relname, c.relhastriggers from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'ts' and c.relkind = 'r' order by 1;

-- case drop_schema_cascade_drops_triggers ordered
create trigger tg before insert on ts.items for each row execute function ts_touch();
drop schema ts cascade;
create schema ts;
create table ts.items (id int primary key, name text, qty int);
insert into ts.items values (1, 'apple', 5);
select name, (select count(*) from pg_trigger where not tgisinternal) from ts.items;

-- case drop_table_drops_trigger ordered
create trigger tg before insert on ts.items for each row execute function ts_touch();
drop table ts.items;
select count(*) from pg_trigger where not tgisinternal;

-- Functions in a schema (CREATE FUNCTION s.f): stored as "s.f", called qualified or found by search_path.

-- case function_create_tag
create function ts.f() returns int language sql as 'select 1';

-- case function_call_qualified
create function ts.f() returns int language sql as 'select 1';
select ts.f();

-- case function_call_search_path
create function ts.f() returns int language sql as 'select 1';
set local search_path = ts, public;
select f();

-- case function_not_on_path message
create function ts.f() returns int language sql as 'select 1';
select f();

-- case function_same_name_two_schemas
create function f() returns int language sql as 'select 1';
create function ts.f() returns int language sql as 'select 2';
select f(), ts.f(), public.f();

-- case function_same_name_path_order
create function f() returns int language sql as 'select 1';
create function ts.f() returns int language sql as 'select 2';
set local search_path = ts, public;
select f(), public.f();

-- case function_create_unqualified_in_path_schema
set local search_path = ts, public;
create function g() returns int language sql as 'select 7';
reset search_path;
select ts.g();

-- case function_plpgsql
create function ts.add(a int, b int) returns int language plpgsql as $$ begin return a + b; end $$;
select ts.add(1, 2), ts.add(b => 5, a => 1);

-- case function_in_from ordered
create function ts.gen(n int) returns setof int language sql as 'select generate_series(1, n)';
select * from ts.gen(3) as g order by 1;

-- case function_reads_schema_table
create function ts.n_items() returns bigint language sql as 'select count(*) from ts.items';
insert into ts.items values (1, 'a', 1), (2, 'b', 2);
select ts.n_items();

-- case function_drop message
create function ts.f() returns int language sql as 'select 1';
drop function ts.f();
select ts.f();

-- case function_drop_tag
create function ts.f() returns int language sql as 'select 1';
drop function ts.f();

-- case function_drop_through_path
create function ts.f() returns int language sql as 'select 1';
set local search_path = ts, public;
drop function f();

-- case function_drop_missing message
drop function ts.nosuch();

-- case function_create_missing_schema message
create function nosuch.f() returns int language sql as 'select 1';

-- case function_call_missing_schema message
select nosuch.f();

-- case function_missing_in_schema message
create function f() returns int language sql as 'select 1';
select ts.f();

-- case function_pg_proc ordered
create function f() returns int language sql as 'select 1';
create function ts.f() returns int language sql as 'select 2';
select p.proname, n.nspname from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname in ('ts', 'public') order by 2, 1;

-- case function_functiondef
create function ts.f() returns int language sql as 'select 1';
select pg_get_functiondef(p.oid) from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'ts';

-- case trigger_function_in_schema ordered
create function ts.tf() returns trigger language plpgsql as $$ begin new.qty := new.qty * 2; return new; end $$;
create trigger tg before insert on ts.items for each row execute function ts.tf();
insert into ts.items values (1, 'a', 5);
select qty from ts.items;

-- case trigger_function_in_schema_triggerdef
create function ts.tf() returns trigger language plpgsql as $$ begin return new; end $$;
create trigger tg before insert on ts.items for each row execute function ts.tf();
select pg_get_triggerdef(oid) from pg_trigger where tgname = 'tg';

-- case drop_schema_with_function
create function ts.f() returns int language sql as 'select 1';
drop schema ts cascade;

-- case drop_schema_with_function_gone_from_pg_proc
create schema ts4;
create function ts4.f(a int, b text) returns int language sql as 'select 1';
create function ts4.g() returns trigger language plpgsql as $$ begin return new; end $$;
create table ts4.t (a int);
create trigger tg4 before insert on ts4.t for each row execute function ts4.g();
drop schema ts4 cascade;
select count(*) from pg_proc where proname in ('f', 'g') and pronamespace not in (11, 2200);

-- case drop_schema_restrict_with_function
create schema ts5;
create function ts5.f(a int) returns int language sql as 'select 1';
drop schema ts5;

-- case drop_schema_function_then_recreate
create schema ts6;
create function ts6.f() returns int language sql as 'select 6';
drop schema ts6 cascade;
create schema ts6;
create function ts6.f() returns int language sql as 'select 7';
select ts6.f();

-- case rename_schema_with_function ordered
create function ts.f() returns int language sql as 'select 1';
create function ts.g(a int) returns int language plpgsql as $$ begin return a * 2; end $$;
alter schema ts rename to ts3;
select ts3.f(), ts3.g(21);
select p.proname, n.nspname from pg_proc p join pg_namespace n on n.oid = p.pronamespace where p.proname in ('f', 'g') order by 1;
select pg_get_functiondef(p.oid) from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'ts3' and p.proname = 'f';

-- case rename_schema_with_function_old_name message
create function ts.f() returns int language sql as 'select 1';
alter schema ts rename to ts3;
select ts.f();

-- case rename_schema_with_function_search_path ordered
create function ts.f() returns int language sql as 'select 1';
alter schema ts rename to ts3;
set local search_path = ts3, public;
select f();

-- case rename_schema_with_trigger_function ordered
create function ts.tf() returns trigger language plpgsql as $$ begin new.qty := new.qty * 2; return new; end $$;
create trigger tg before insert on ts.items for each row execute function ts.tf();
create table rs_public (id int, qty int);
create trigger tgp before insert on rs_public for each row execute function ts.tf();
alter schema ts rename to ts3;
insert into ts3.items values (1, 'a', 5);
insert into rs_public values (1, 7);
select qty from ts3.items;
select qty from rs_public;
select tgname, pg_get_triggerdef(oid) from pg_trigger where tgname in ('tg', 'tgp') order by 1;

-- case rename_schema_with_function_in_default ordered
create function ts.f() returns int language sql as 'select 42';
create table rs_default (id int, v int default ts.f());
alter schema ts rename to ts3;
insert into rs_default (id) values (1);
select id, v from rs_default;
select column_default::text from information_schema.columns where table_name = 'rs_default' and column_name = 'v';

-- case rename_schema_with_function_in_view ordered
create function ts.f() returns int language sql as 'select 42';
create function ts.g() returns int language plpgsql as $$ begin return 7; end $$;
create view rs_view as select ts.f() as a, ts.g() as b;
alter schema ts rename to ts3;
select a, b from rs_view;
select pg_get_viewdef('rs_view'::regclass);

-- case trigger_function_public_qualified ordered
create trigger tg before insert on ts.items for each row execute function public.ts_touch();
insert into ts.items values (1, 'apple', 5);
select name from ts.items;
