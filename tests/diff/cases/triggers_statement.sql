-- CREATE TRIGGER ... FOR EACH STATEMENT (and without FOR EACH, PostgreSQL's default), TRUNCATE
-- triggers (issue 15): fire once per statement even for 0 rows, BEFORE before any row trigger,
-- AFTER after all AFTER ROW triggers, name order, TG_LEVEL, NEW/OLD unassigned, errors abort.
create table ts_items (id int primary key, name text not null, qty int);
create table ts_log (seq serial, what text);
create function ts_note() returns trigger language plpgsql as $$ begin insert into ts_log (what) values (tg_name || ' ' || tg_when || ' ' || tg_level || ' ' || tg_op || ' ' || tg_table_name || ' ' || (select count(*) from ts_items)); return null; end $$;
create function ts_row() returns trigger language plpgsql as $$ begin insert into ts_log (what) values ('row ' || tg_when || ' ' || tg_op || ' ' || coalesce(new.id, old.id)); if tg_op = 'DELETE' then return old; end if; return new; end $$;

-- case create_statement_trigger_tag
create trigger s1 after insert on ts_items for each statement execute function ts_note();

-- case create_default_level_trigger_tag
create trigger s1 after insert on ts_items execute function ts_note();

-- case statement_trigger_fires_once ordered
create trigger s1 after insert on ts_items for each statement execute function ts_note();
insert into ts_items values (1, 'a', 1), (2, 'b', 2), (3, 'c', 3);
select what from ts_log order by seq;

-- case default_level_is_statement ordered
create trigger s1 before insert on ts_items execute function ts_note();
insert into ts_items values (1, 'a', 1), (2, 'b', 2);
select what from ts_log order by seq;

-- case statement_trigger_zero_rows ordered
create trigger s1 before update on ts_items for each statement execute function ts_note();
create trigger s2 after update on ts_items for each statement execute function ts_note();
create trigger s3 after delete on ts_items for each statement execute function ts_note();
update ts_items set qty = 0 where id = 99;
delete from ts_items where false;
select what from ts_log order by seq;

-- case statement_zero_rows_tag
create trigger s3 after delete on ts_items for each statement execute function ts_note();
delete from ts_items where false;

-- case statement_and_row_order ordered
create trigger s_before before insert or update or delete on ts_items for each statement execute function ts_note();
create trigger s_after after insert or update or delete on ts_items for each statement execute function ts_note();
create trigger r_before before insert or update or delete on ts_items for each row execute function ts_row();
create trigger r_after after insert or update or delete on ts_items for each row execute function ts_row();
insert into ts_items values (1, 'a', 1), (2, 'b', 2);
update ts_items set qty = qty + 1 where id = 2;
delete from ts_items;
select what from ts_log order by seq;

-- case statement_triggers_name_order ordered
create trigger zz after insert on ts_items for each statement execute function ts_note();
create trigger aa after insert on ts_items for each statement execute function ts_note();
create trigger mm before insert on ts_items for each statement execute function ts_note();
create trigger bb before insert on ts_items for each statement execute function ts_note();
insert into ts_items values (1, 'a', 1);
select what from ts_log order by seq;

-- case statement_new_old_fields_are_null ordered
create function ts_nulls() returns trigger language plpgsql as $$ begin insert into ts_log (what) values ((new.id is null)::text || ' ' || (old.name is null)::text || ' ' || tg_nargs || ' ' || coalesce(tg_argv[0], '-')); return new; end $$;
create trigger s1 before insert on ts_items for each statement execute function ts_nulls('x', 'y');
insert into ts_items values (1, 'a', 1);
select what from ts_log order by seq;

-- case statement_new_field_is_null
create function ts_field() returns trigger language plpgsql as $$ begin raise notice '%', new.id; return null; end $$;
create trigger s1 before insert on ts_items for each statement execute function ts_field();
insert into ts_items values (1, 'a', 1);

-- case statement_return_value_ignored ordered
create function ts_ret_null() returns trigger language plpgsql as $$ begin return null; end $$;
create trigger s1 before insert on ts_items for each statement execute function ts_ret_null();
insert into ts_items values (1, 'a', 1);
select id, name from ts_items order by id;

-- case before_statement_error_aborts message
create function ts_fail() returns trigger language plpgsql as $$ begin raise exception 'no % on %', tg_op, tg_table_name using errcode = '42501'; end $$;
create trigger s1 before delete on ts_items for each statement execute function ts_fail();
delete from ts_items;

-- case after_statement_error_aborts message
create function ts_fail() returns trigger language plpgsql as $$ begin raise exception 'no % on %', tg_op, tg_table_name using errcode = '42501'; end $$;
create trigger s1 after insert on ts_items for each statement execute function ts_fail();
insert into ts_items values (1, 'a', 1);

-- case after_statement_sees_all_rows ordered
create trigger s1 after update on ts_items for each statement execute function ts_note();
insert into ts_items values (1, 'a', 1), (2, 'b', 2);
update ts_items set qty = qty * 10;
select what from ts_log order by seq;

-- case update_of_statement_trigger ordered
create trigger s1 after update of qty on ts_items for each statement execute function ts_note();
insert into ts_items values (1, 'a', 1);
update ts_items set name = 'x';
update ts_items set qty = 5;
update ts_items set qty = 6, name = 'y' where false;
select what from ts_log order by seq;

-- case upsert_fires_insert_and_update_statement_triggers ordered
create trigger s_bi before insert on ts_items for each statement execute function ts_note();
create trigger s_bu before update on ts_items for each statement execute function ts_note();
create trigger s_ai after insert on ts_items for each statement execute function ts_note();
create trigger s_au after update on ts_items for each statement execute function ts_note();
insert into ts_items values (1, 'a', 1) on conflict (id) do update set qty = excluded.qty;
insert into ts_items values (1, 'a', 1) on conflict (id) do nothing;
select what from ts_log order by seq;

-- case statement_trigger_when ordered
create trigger s1 after insert on ts_items for each statement when (current_setting('TimeZone') = 'UTC') execute function ts_note();
create trigger s2 after insert on ts_items for each statement when (1 = 2) execute function ts_note();
insert into ts_items values (1, 'a', 1);
select what from ts_log order by seq;

-- case statement_when_new_rejected
create trigger s1 after insert on ts_items for each statement when (new.id > 0) execute function ts_note();

-- case statement_trigger_from_do_block ordered
create trigger s1 after insert on ts_items for each statement execute function ts_note();
do $$ begin insert into ts_items values (1, 'a', 1); insert into ts_items values (2, 'b', 2), (3, 'c', 3); end $$;
select what from ts_log order by seq;

-- case statement_trigger_missing_return message
create function ts_noret() returns trigger language plpgsql as $$ begin perform 1; end $$;
create trigger s1 after insert on ts_items for each statement execute function ts_noret();
insert into ts_items values (1, 'a', 1);

-- case truncate_trigger ordered
create trigger s1 before truncate on ts_items for each statement execute function ts_note();
create trigger s2 after truncate on ts_items execute function ts_note();
insert into ts_items values (1, 'a', 1), (2, 'b', 2);
truncate ts_items;
select what from ts_log order by seq;

-- case truncate_fires_no_delete_row_triggers ordered
create trigger r1 before delete on ts_items for each row execute function ts_row();
create trigger r2 after delete on ts_items for each row execute function ts_row();
create trigger s1 after delete on ts_items for each statement execute function ts_note();
insert into ts_items values (1, 'a', 1), (2, 'b', 2);
truncate ts_items;
select what from ts_log order by seq;

-- case truncate_row_trigger_rejected
create trigger r1 before truncate on ts_items for each row execute function ts_row();

-- case statement_trigger_catalog ordered
create trigger s1 after insert or delete on ts_items execute function ts_note();
create trigger s2 before update of qty on ts_items for each statement execute function ts_note();
create trigger s3 after truncate on ts_items execute function ts_note();
create trigger r1 before insert on ts_items for each row execute function ts_row();
select tgname, tgtype, tgnargs, tgattr::text, pg_get_triggerdef(oid), pg_get_triggerdef(oid, true) from pg_trigger where tgrelid = 'ts_items'::regclass order by tgname;

-- case drop_statement_trigger ordered
create trigger s1 after insert on ts_items execute function ts_note();
drop trigger s1 on ts_items;
insert into ts_items values (1, 'a', 1);
select what from ts_log order by seq;

-- case statement_trigger_dropped_with_table ordered
create table ts_tmp (a int);
create trigger s1 after insert on ts_tmp execute function ts_note();
drop table ts_tmp;
select count(*) from pg_trigger where tgname = 's1';

-- case statement_trigger_on_renamed_table ordered
create table ts_tmp (a int);
create trigger s1 after insert on ts_tmp execute function ts_note();
alter table ts_tmp rename to ts_tmp2;
insert into ts_tmp2 values (1);
select what from ts_log order by seq;

-- case statement_returning_allowed ordered
create trigger s1 before insert on ts_items execute function ts_note();
insert into ts_items values (1, 'a', 1) returning id, name;
