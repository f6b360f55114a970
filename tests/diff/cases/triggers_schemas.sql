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
