-- CREATE TRIGGER ... FOR EACH ROW with PL/pgSQL trigger functions (issue 15): the common shapes
-- (updated_at touch, audit into another table, validation raising an exception), RETURN NEW /
-- NULL / a changed NEW, WHEN, UPDATE OF, TG_* variables, DROP TRIGGER / FUNCTION.
create table tr_items (id int primary key, name text not null, qty int check (qty >= 0), updated_at timestamp);
create table tr_audit (seq serial, op text, item_id int, old_name text, new_name text, info text);
create function tr_touch() returns trigger language plpgsql as $$ begin new.updated_at := '2020-01-01 00:00:00'; new.name := upper(new.name); return new; end $$;
create function tr_audit_fn() returns trigger language plpgsql as $$ begin if tg_op = 'DELETE' then insert into tr_audit (op, item_id, old_name) values (tg_op, old.id, old.name); return old; end if; insert into tr_audit (op, item_id, old_name, new_name) values (tg_op, new.id, old.name, new.name); return new; end $$;
create function tr_validate() returns trigger language plpgsql as $$ begin if new.qty > 100 then raise exception 'qty % too large for %', new.qty, new.name using errcode = '23514', detail = 'max 100'; end if; if new.qty = 13 then return null; end if; return new; end $$;

-- case create_trigger_tag
create trigger t1 before insert on tr_items for each row execute function tr_touch();

-- case before_insert_changes_new ordered
create trigger t1 before insert on tr_items for each row execute function tr_touch();
insert into tr_items (id, name, qty) values (1, 'apple', 5), (2, 'pear', 3);
select id, name, qty, updated_at from tr_items order by id;

-- case before_insert_changes_new_tag
create trigger t1 before insert on tr_items for each row execute function tr_touch();
insert into tr_items (id, name, qty) values (1, 'apple', 5), (2, 'pear', 3);

-- case before_update_touch ordered
insert into tr_items values (1, 'apple', 5, null), (2, 'pear', 3, null);
create trigger t1 before update on tr_items for each row execute function tr_touch();
update tr_items set qty = qty + 1 where id = 2;
select id, name, qty, updated_at from tr_items order by id;

-- case before_update_tag
insert into tr_items values (1, 'apple', 5, null), (2, 'pear', 3, null);
create trigger t1 before update on tr_items for each row execute function tr_touch();
update tr_items set qty = qty + 1;

-- case return_null_skips_row ordered
create trigger t1 before insert or update on tr_items for each row execute function tr_validate();
insert into tr_items values (1, 'apple', 5, null), (2, 'skip', 13, null), (3, 'fig', 7, null);
select id, name, qty from tr_items order by id;

-- case return_null_skips_row_tag
create trigger t1 before insert on tr_items for each row execute function tr_validate();
insert into tr_items values (1, 'apple', 5, null), (2, 'skip', 13, null), (3, 'fig', 7, null);

-- case return_null_skips_update ordered
insert into tr_items values (1, 'apple', 5, null), (2, 'pear', 3, null);
create trigger t1 before update on tr_items for each row execute function tr_validate();
update tr_items set qty = 13 where id = 1;
select id, name, qty from tr_items order by id;

-- case validation_raises_sqlstate message
create trigger t1 before insert or update on tr_items for each row execute function tr_validate();
insert into tr_items values (4, 'melon', 500, null);

-- case validation_error_rolls_back_statement ordered
create trigger t1 before insert on tr_items for each row execute function tr_validate();
insert into tr_items values (1, 'ok', 1, null);
select id, name from tr_items order by id;

-- case after_audit_insert_update_delete ordered
create trigger t2 after insert or update or delete on tr_items for each row execute function tr_audit_fn();
insert into tr_items values (1, 'apple', 5, null), (3, 'fig', 7, null);
update tr_items set name = 'zz' where id = 3;
delete from tr_items where id = 1;
select seq, op, item_id, old_name, new_name from tr_audit order by seq;

-- case audit_sees_before_changes ordered
create trigger t1 before insert or update on tr_items for each row execute function tr_touch();
create trigger t2 after insert or update on tr_items for each row execute function tr_audit_fn();
insert into tr_items values (1, 'apple', 5, null);
update tr_items set name = 'plum' where id = 1;
select op, item_id, old_name, new_name from tr_audit order by seq;

-- case trigger_order_by_name ordered
create function tr_log() returns trigger language plpgsql as $$ begin insert into tr_audit (op, info) values (tg_op, tg_name || ' ' || tg_when || ' ' || tg_level || ' ' || tg_table_name); return new; end $$;
create trigger zeta after insert on tr_items for each row execute function tr_log();
create trigger alpha after insert on tr_items for each row execute function tr_log();
create trigger mid before insert on tr_items for each row execute function tr_log();
insert into tr_items values (1, 'a', 1, null);
select op, info from tr_audit order by seq;

-- case before_triggers_chain ordered
create function tr_add_one() returns trigger language plpgsql as $$ begin new.qty := new.qty + 1; return new; end $$;
create function tr_double() returns trigger language plpgsql as $$ begin new.qty := new.qty * 2; return new; end $$;
create trigger b_add before insert on tr_items for each row execute function tr_add_one();
create trigger a_double before insert on tr_items for each row execute function tr_double();
insert into tr_items values (1, 'a', 5, null);
select id, qty from tr_items order by id;

-- case trigger_args ordered
create function tr_args() returns trigger language plpgsql as $$ begin new.name := new.name || '-' || tg_argv[0] || '-' || tg_argv[1] || '-' || tg_nargs; return new; end $$;
create trigger t1 before insert on tr_items for each row execute function tr_args('x', 42);
insert into tr_items values (1, 'a', 1, null);
select id, name from tr_items order by id;

-- case trigger_when_condition ordered
create trigger t2 after update on tr_items for each row when (old.qty is distinct from new.qty) execute function tr_audit_fn();
insert into tr_items values (1, 'a', 1, null), (2, 'b', 2, null);
update tr_items set qty = qty + 1 where id = 1;
update tr_items set name = 'bb' where id = 2;
select op, item_id, new_name from tr_audit order by seq;

-- case update_of_columns ordered
create trigger t2 after update of qty on tr_items for each row execute function tr_audit_fn();
insert into tr_items values (1, 'a', 1, null), (2, 'b', 2, null);
update tr_items set name = 'aa' where id = 1;
update tr_items set qty = 5 where id = 2;
select op, item_id, new_name from tr_audit order by seq;

-- case before_change_checked_by_check_constraint
create function tr_negative() returns trigger language plpgsql as $$ begin new.qty := -1; return new; end $$;
create trigger t1 before insert on tr_items for each row execute function tr_negative();
insert into tr_items values (1, 'a', 1, null);

-- case before_change_fills_not_null ordered
create function tr_fill() returns trigger language plpgsql as $$ begin if new.qty is null then new.qty := 0; end if; return new; end $$;
create trigger t1 before insert on tr_items for each row execute function tr_fill();
insert into tr_items (id, name) values (1, 'a');
select id, qty from tr_items order by id;

-- case before_delete_return_null_keeps_row ordered
create function tr_keep() returns trigger language plpgsql as $$ begin if old.id = 1 then return null; end if; return old; end $$;
insert into tr_items values (1, 'a', 1, null), (2, 'b', 2, null);
create trigger t1 before delete on tr_items for each row execute function tr_keep();
delete from tr_items;
select id from tr_items order by id;

-- case before_delete_tag
create function tr_keep() returns trigger language plpgsql as $$ begin if old.id = 1 then return null; end if; return old; end $$;
insert into tr_items values (1, 'a', 1, null), (2, 'b', 2, null);
create trigger t1 before delete on tr_items for each row execute function tr_keep();
delete from tr_items;

-- case after_trigger_error_aborts
create function tr_fail() returns trigger language plpgsql as $$ begin raise exception 'no deletes' using errcode = '42501'; end $$;
insert into tr_items values (1, 'a', 1, null);
create trigger t1 after delete on tr_items for each row execute function tr_fail();
delete from tr_items;

-- case trigger_without_return_2F005
create function tr_noreturn() returns trigger language plpgsql as $$ begin null; end $$;
create trigger t1 before insert on tr_items for each row execute function tr_noreturn();
insert into tr_items values (1, 'a', 1, null);

-- case drop_trigger ordered
create trigger t1 before insert on tr_items for each row execute function tr_touch();
drop trigger t1 on tr_items;
insert into tr_items values (1, 'lower', 1, null);
select id, name, updated_at from tr_items order by id;

-- case drop_trigger_missing_42704
drop trigger nosuch on tr_items;

-- case drop_trigger_if_exists
drop trigger if exists nosuch on tr_items;

-- case drop_trigger_missing_table_42P01
drop trigger t1 on tr_nosuch;

-- case create_trigger_twice_42710
create trigger t1 before insert on tr_items for each row execute function tr_touch();
create trigger t1 before insert on tr_items for each row execute function tr_touch();

-- case create_or_replace_trigger ordered
create trigger t1 before insert on tr_items for each row execute function tr_touch();
create or replace trigger t1 before insert on tr_items for each row execute function tr_validate();
insert into tr_items values (1, 'lower', 13, null), (2, 'kept', 1, null);
select id, name from tr_items order by id;

-- case create_trigger_missing_function_42883
create trigger t1 before insert on tr_items for each row execute function tr_nosuch();

-- case create_trigger_not_trigger_function_42P17
create function tr_int() returns int language sql as 'select 1';
create trigger t1 before insert on tr_items for each row execute function tr_int();

-- case create_trigger_missing_table_42P01
create trigger t1 before insert on tr_nosuch for each row execute function tr_touch();

-- case drop_function_used_by_trigger_2BP01
create trigger t1 before insert on tr_items for each row execute function tr_touch();
drop function tr_touch();

-- case drop_function_cascade_drops_trigger ordered
create trigger t1 before insert on tr_items for each row execute function tr_touch();
drop function tr_touch() cascade;
insert into tr_items values (1, 'lower', 1, null);
select id, name from tr_items order by id;

-- case call_trigger_function_directly
select tr_touch();

-- case execute_procedure_spelling ordered
create trigger t1 before insert on tr_items for each row execute procedure tr_touch();
insert into tr_items values (1, 'x', 1, null);
select id, name from tr_items order by id;

-- case upsert_fires_triggers ordered
create trigger t2 after insert or update on tr_items for each row execute function tr_audit_fn();
insert into tr_items values (1, 'a', 1, null);
insert into tr_items values (1, 'b', 2, null) on conflict (id) do update set name = excluded.name;
select op, item_id, old_name, new_name from tr_audit order by seq;

-- case trigger_inserts_cascade_rows ordered
create table tr_child (id int, note text);
create function tr_mk_child() returns trigger language plpgsql as $$ begin insert into tr_child values (new.id, 'child of ' || new.name); return null; end $$;
create trigger t3 after insert on tr_items for each row execute function tr_mk_child();
insert into tr_items values (1, 'a', 1, null), (2, 'b', 2, null);
select id, note from tr_child order by id;

-- refused returning_with_before_trigger
create trigger t1 before insert on tr_items for each row execute function tr_touch();
insert into tr_items values (1, 'a', 1, null) returning name;

-- case after_row_sees_whole_statement ordered
create function tr_count() returns trigger language plpgsql as $$ begin insert into tr_audit (op, info) values (tg_op, (select count(*) from tr_items)::text); return null; end $$;
create trigger t4 after insert on tr_items for each row execute function tr_count();
insert into tr_items values (1, 'a', 1, null), (2, 'b', 2, null), (3, 'c', 3, null);
select op, info from tr_audit order by seq;

-- case after_row_from_do_block ordered
create function tr_count() returns trigger language plpgsql as $$ begin insert into tr_audit (op, info) values (tg_op, (select count(*) from tr_items)::text); return null; end $$;
create trigger t4 after insert on tr_items for each row execute function tr_count();
do $$ begin insert into tr_items values (1, 'a', 1, null), (2, 'b', 2, null); insert into tr_items values (3, 'c', 3, null); end $$;
select op, info from tr_audit order by seq;

-- case after_update_sees_final_rows ordered
create function tr_sum() returns trigger language plpgsql as $$ begin insert into tr_audit (op, info) values (tg_op, new.id || ':' || (select sum(qty) from tr_items)); return null; end $$;
insert into tr_items values (1, 'a', 1, null), (2, 'b', 2, null);
create trigger t4 after update on tr_items for each row execute function tr_sum();
update tr_items set qty = qty * 10;
select op, info from tr_audit order by seq;

-- case before_row_sees_partial_statement ordered
create function tr_before_count() returns trigger language plpgsql as $$ begin new.name := new.name || (select count(*) from tr_items); return new; end $$;
create trigger t1 before insert on tr_items for each row execute function tr_before_count();
insert into tr_items values (1, 'a', 1, null), (2, 'b', 2, null), (3, 'c', 3, null);
select id, name from tr_items order by id;

-- case trigger_function_with_exception_block ordered
create table tr_u (id int primary key);
create function tr_safe() returns trigger language plpgsql as $$ begin begin insert into tr_u values (new.id); exception when unique_violation then new.name := new.name || ' (dup)'; end; return new; end $$;
insert into tr_u values (2);
create trigger t1 before insert on tr_items for each row execute function tr_safe();
insert into tr_items values (1, 'a', 1, null), (2, 'b', 2, null);
select id, name from tr_items order by id;

-- refused trigger_exception_block_after_write
create table tr_u (id int primary key);
create table tr_log2 (id int);
create function tr_unsafe() returns trigger language plpgsql as $$ begin begin insert into tr_log2 values (new.id); insert into tr_u values (new.id); exception when unique_violation then new.name := new.name || ' (dup)'; end; return new; end $$;
insert into tr_u values (2);
create trigger t1 before insert on tr_items for each row execute function tr_unsafe();
insert into tr_items values (1, 'a', 1, null), (2, 'b', 2, null);

-- case drop_table_drops_its_triggers ordered
create table tr_tmp (a int);
create trigger t1 before insert on tr_tmp for each row execute function tr_touch();
drop table tr_tmp;
create table tr_tmp (a int, updated_at timestamp, name text);
create trigger t1 before insert on tr_tmp for each row execute function tr_touch();
insert into tr_tmp values (1, null, 'x');
select a, updated_at, name from tr_tmp order by a;

-- case trigger_follows_table_rename ordered
create trigger t2 after insert on tr_items for each row execute function tr_audit_fn();
alter table tr_items rename to tr_items2;
insert into tr_items2 values (1, 'a', 1, null);
select op, item_id, new_name from tr_audit order by seq;
