-- Set-returning user functions (issue 15): RETURNS SETOF type / RETURNS TABLE (...) in LANGUAGE
-- sql (the body's last query) and plpgsql (RETURN NEXT, RETURN QUERY), called in FROM (aliases,
-- joins, LATERAL) and, for SETOF scalars, in the SELECT list.
create table sf_items (id int primary key, name text, qty int, price numeric(8,2));
insert into sf_items values (1, 'apple', 5, 1.50), (2, 'pear', 0, 2.25), (3, 'fig', 12, 0.99), (4, 'kiwi', 7, null);
create function sf_ids(min_qty int) returns setof int language sql stable as $$ select id from sf_items where qty >= min_qty order by id $$;
create function sf_table(min_qty int) returns table (item_id int, item_name text, total numeric) language sql stable as $$ select id, name, qty * price from sf_items where qty >= $1 order by id $$;
create function sf_evens(n int) returns setof int language plpgsql as $$ begin for i in 1..n loop if i % 2 = 0 then return next i; end if; end loop; return; end $$;
create function sf_pairs(n int) returns table (k int, label text) language plpgsql as $$ begin for i in 1..n loop k := i; label := 'item ' || i; return next; end loop; end $$;
create function sf_query(min_qty int) returns table (id int, name text) language plpgsql as $$ begin return query select i.id, i.name from sf_items i where i.qty >= min_qty order by i.id; return query select 0, 'end'::text; end $$;

-- case create_setof_tag
create function sf_x() returns setof text language sql as $$ select name from sf_items $$;

-- case create_table_tag
create function sf_x() returns table (a int, b text) language sql as $$ select id, name from sf_items $$;

-- case sql_setof_in_from ordered
select * from sf_ids(5) order by 1;

-- case sql_setof_alias ordered
select x from sf_ids(1) as x order by x;

-- case sql_setof_column_alias ordered
select t.y from sf_ids(1) as t(y) order by t.y;

-- case sql_setof_column_name
select * from sf_ids(100);

-- case sql_table_in_from ordered
select * from sf_table(5) order by item_id;

-- case sql_table_column_aliases ordered
select a, b from sf_table(1) as t(a, b) order by a;

-- case sql_table_where_and_aggregate
select count(*), sum(total) from sf_table(0) where item_name <> 'fig';

-- case sql_table_join ordered
select i.name, t.total from sf_items i join sf_table(5) t on t.item_id = i.id order by i.name;

-- case sql_setof_lateral ordered
select i.id, e from sf_items i, lateral sf_evens(i.qty) e where i.id < 3 order by i.id, e;

-- case plpgsql_return_next ordered
select * from sf_evens(9) order by 1;

-- case plpgsql_return_next_table ordered
select * from sf_pairs(3) order by k;

-- case plpgsql_return_query ordered
select * from sf_query(5) order by id;

-- case plpgsql_empty_set
select * from sf_evens(1);

-- case setof_in_select_list ordered
select sf_evens(6) as e order by e;

-- case setof_in_select_list_per_row ordered
select id, sf_ids(qty) from sf_items where id in (1, 2) order by id, 2;

-- case setof_strict_null
create function sf_strict(n int) returns setof int language sql strict as $$ select n $$;
select count(*) from sf_strict(null);

-- case setof_in_cte_and_subquery ordered
with s as (select * from sf_table(0)) select item_name from s where item_id in (select * from sf_ids(6)) order by 1;

-- case scalar_function_in_from
create function sf_one(n int) returns int language sql as $$ select n * 2 $$;
select * from sf_one(21);

-- case scalar_function_in_from_alias
create function sf_one(n int) returns int language sql as $$ select n * 2 $$;
select v from sf_one(21) as v;

-- case plpgsql_scalar_in_from
create function sf_two(n int) returns text language plpgsql as $$ begin return 'n=' || n; end $$;
select * from sf_two(3);

-- case sql_setof_casts_result ordered
create function sf_big() returns setof bigint language sql as $$ select id from sf_items $$;
select * from sf_big() order by 1;

-- case return_query_type_mismatch
create function sf_bad() returns setof bigint language plpgsql as $$ begin return query select id from sf_items; end $$;
select * from sf_bad();

-- case return_query_column_count
create function sf_bad2() returns setof int language plpgsql as $$ begin return query select id, name from sf_items; end $$;
select * from sf_bad2();

-- case return_next_in_scalar_function
create function sf_bad3() returns int language plpgsql as $$ begin return next 1; end $$;

-- case return_value_in_setof_function
create function sf_bad4() returns setof int language plpgsql as $$ begin return 1; end $$;

-- case setof_proc_catalog ordered
select proname, proretset, prorettype::regtype::text, pg_get_function_result(oid), pg_get_function_arguments(oid) from pg_proc where proname like 'sf\_%' order by proname;

-- case setof_functiondef
select pg_get_functiondef(oid) from pg_proc where proname = 'sf_table';

-- case setof_volatile_writes ordered
create table sf_log (n int);
create function sf_logged(n int) returns setof int language plpgsql as $$ begin insert into sf_log values (n); return next n; return next n + 1; end $$;
select * from sf_logged(10);
select * from sf_log;

-- case setof_too_many_aliases
select * from sf_table(1) as t(a, b, c, d);

-- case setof_cannot_change_return_type
create or replace function sf_ids(min_qty int) returns setof bigint language sql as $$ select 1::bigint $$;

-- case drop_setof_function
drop function sf_evens(int);

-- refused setof_record
create function sf_rec() returns setof record language sql as $$ select 1, 'a' $$;

-- refused setof_table_rowtype
create function sf_rows() returns setof sf_items language sql as $$ select * from sf_items $$;

-- refused return_query_execute
create function sf_dyn() returns setof int language plpgsql as $$ begin return query execute 'select 1'; end $$;

-- refused table_function_in_select_list
select sf_table(5);

-- refused setof_with_ordinality
select * from sf_ids(1) with ordinality;

-- case out_single_sql_in_expression
create function sf_o1(a int, out doubled int) language sql as $$ select a * 2 $$;
select sf_o1(21), sf_o1(null) is null;

-- case out_single_in_from
create function sf_o1(a int, out doubled int) language sql as $$ select a * 2 $$;
select * from sf_o1(4);

-- case out_single_in_from_alias
create function sf_o1(a int, out doubled int) language sql as $$ select a * 2 $$;
select * from sf_o1(4) as x;

-- case out_several_sql_in_from
create function sf_o2(a int, out lo int, out hi text) language sql as $$ select a - 1, (a + 1)::text $$;
select * from sf_o2(10);

-- case out_several_plpgsql_in_from
create function sf_o3(a int, out s int, out p int) language plpgsql as $$ begin s := a + a; p := a * a; end $$;
select p, s from sf_o3(5);

-- case out_plpgsql_return_early
create function sf_o4(a int, out r text) language plpgsql as $$ begin r := 'small'; if a < 10 then return; end if; r := 'big'; end $$;
select sf_o4(3), sf_o4(30);

-- case inout_parameter
create function sf_o5(inout x int, out y int) language plpgsql as $$ begin x := x + 1; y := x * 10; end $$;
select * from sf_o5(1);

-- case out_lateral ordered
create function sf_o3(a int, out s int, out p int) language plpgsql as $$ begin s := a + a; p := a * a; end $$;
select i.id, o.s, o.p from sf_items i, lateral sf_o3(i.qty) o order by i.id;

-- case out_setof_record ordered
create function sf_o6(n int, out k int, out sq int) returns setof record language plpgsql as $$ begin for i in 1..n loop k := i; sq := i * i; return next; end loop; end $$;
select * from sf_o6(3) order by k;

-- case out_catalog ordered
create function sf_o2(a int, out lo int, out hi text) language sql as $$ select a - 1, (a + 1)::text $$;
create function sf_o5(inout x int, out y int) language plpgsql as $$ begin x := x + 1; y := x * 10; end $$;
create function sf_o1(a int, out doubled int) language sql as $$ select a * 2 $$;
select proname, prorettype::regtype::text, proargtypes::text, proallargtypes::text, proargmodes::text, proargnames::text, pg_get_function_arguments(oid), pg_get_function_identity_arguments(oid), pg_get_function_result(oid) from pg_proc where proname like 'sf\_o%' order by proname;

-- case out_wrong_returns
create function sf_o7(a int, out b int, out c int) returns int language sql as $$ select 1, 2 $$;

-- case out_default_rejected
create function sf_o8(out b int default 1) language sql as $$ select 1 $$;

-- case out_return_value_rejected
create function sf_o9(out b int) language plpgsql as $$ begin return 1; end $$;

-- case table_single_column_in_select_list ordered
create function sf_t1(n int) returns table (v int) language plpgsql as $$ begin for i in 1..n loop v := i; return next; end loop; end $$;
select sf_t1(3) as v, prorettype::regtype::text from pg_proc where proname = 'sf_t1' order by v;

-- refused out_several_in_expression
create function sf_o2(a int, out lo int, out hi text) language sql as $$ select a - 1, (a + 1)::text $$;
select sf_o2(10);

-- case drop_function_with_out_signature
create function sf_o2(a int, out lo int, out hi text) language sql as $$ select a - 1, (a + 1)::text $$;
drop function sf_o2(a integer, out lo integer, out hi text);
