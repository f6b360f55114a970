-- CREATE FUNCTION ... LANGUAGE sql / plpgsql called in expressions, DROP FUNCTION (issue 15).
-- Bodies are on one line: a case statement ends with ';' at the end of a line.

-- case sql_inline_named_arg
create function fu_add1(x int) returns int language sql immutable as $$ select x + 1 $$;
select fu_add1(41) as a, fu_add1(null) as b;

-- case sql_inline_result_type
create function fu_half(x numeric) returns numeric language sql as 'select x / 2';
select fu_half(5), pg_typeof(fu_half(5));

-- case sql_positional_and_default
create function fu_add(int, int default 10) returns int language sql as 'select $1 + $2';
select fu_add(1), fu_add(1, 2);

-- case sql_named_notation
create function fu_sub(a int, b int default 0) returns int language sql as 'select a - b';
select fu_sub(b => 3, a => 10), fu_sub(5, b => 1), fu_sub(a => 7);

-- case sql_strict_null
create function fu_strict(t text) returns text language sql strict as $$ select coalesce(t, 'was null') $$;
select fu_strict(null) is null, fu_strict('x');

-- case sql_called_on_null
create function fu_nonstrict(t text) returns text language sql as $$ select coalesce(t, 'was null') $$;
select fu_nonstrict(null);

-- case sql_return_body
create function fu_ret(a int) returns int language sql return a * 3;
select fu_ret(4);

-- refused sql_begin_atomic
create function fu_atomic(a int) returns int language sql begin atomic select a + 100; end;

-- case sql_function_in_where ordered
create table fu_t (a int, b text);
insert into fu_t values (1, 'x'), (2, 'y'), (3, 'z');
create function fu_big(n int) returns boolean language sql as 'select n >= 2';
select a, b from fu_t where fu_big(a) order by a;

-- case sql_function_reads_table
create table fu_t (a int, b text);
insert into fu_t values (1, 'x'), (2, 'y'), (3, 'z');
create function fu_count() returns bigint language sql stable as 'select count(*) from fu_t';
select fu_count();

-- case sql_function_no_rows_is_null
create table fu_t (a int, b text);
create function fu_first() returns text language sql as 'select b from fu_t order by a limit 1';
select fu_first() is null;

-- case sql_function_writes
create table fu_t (a int, b text);
create function fu_ins(x int) returns int language sql as 'insert into fu_t values (x, null); select count(*)::int from fu_t';
select fu_ins(5), fu_ins(6);

-- case sql_function_per_row ordered
create table fu_t (a int, b text);
insert into fu_t values (1, 'x'), (2, 'y');
create function fu_label(n int, s text) returns text language sql as $$ select s || ':' || n $$;
select fu_label(a, b) from fu_t order by a;

-- case sql_text_result_varchar
create function fu_v(x text) returns varchar language sql as $$ select upper(x) $$;
select fu_v('abc'), pg_typeof(fu_v('abc'));

-- case plpgsql_function_scalar
create function fu_fact(n int) returns bigint language plpgsql as $$ declare r bigint := 1; begin for i in 2..n loop r := r * i; end loop; return r; end $$;
select fu_fact(10), fu_fact(0);

-- case plpgsql_function_recursive
create function fu_fib(n int) returns int language plpgsql as $$ begin if n < 2 then return n; end if; return fu_fib(n - 1) + fu_fib(n - 2); end $$;
select fu_fib(12);

-- case plpgsql_function_in_query ordered
create table fu_t (a int, b text);
insert into fu_t values (1, 'x'), (2, 'y'), (3, 'z');
create function fu_grade(n int) returns text language plpgsql immutable as $$ begin if n > 2 then return 'high'; elsif n > 1 then return 'mid'; else return 'low'; end if; end $$;
select a, fu_grade(a) from fu_t order by a;

-- case plpgsql_function_void
create table fu_t (a int, b text);
create function fu_void(x int) returns void language plpgsql as $$ begin insert into fu_t values (x, 'v'); end $$;
select fu_void(9);

-- case plpgsql_function_void_effect
create table fu_t (a int, b text);
create function fu_void(x int) returns void language plpgsql as $$ begin insert into fu_t values (x, 'v'); end $$;
select fu_void(9);
select a, b from fu_t;

-- case plpgsql_no_return_error
create function fu_noret(x int) returns int language plpgsql as $$ begin x := x + 1; end $$;
select fu_noret(1);

-- case plpgsql_raise_from_function
create function fu_check(x int) returns int language plpgsql as $$ begin if x < 0 then raise exception 'negative: %', x using errcode = '22023'; end if; return x; end $$;
select fu_check(-5);

-- case create_or_replace
create function fu_r() returns int language sql as 'select 1';
create or replace function fu_r() returns int language sql as 'select 2';
select fu_r();

-- case create_twice_is_42723
create function fu_r() returns int language sql as 'select 1';
create function fu_r() returns int language sql as 'select 2';

-- case replace_changing_return_type_is_42P13
create function fu_r() returns int language sql as 'select 1';
create or replace function fu_r() returns text language sql as 'select 2';

-- case overload_by_arg_count
create function fu_o(a int) returns text language sql as $$ select 'one' $$;
create function fu_o(a int, b int) returns text language sql as $$ select 'two' $$;
select fu_o(1), fu_o(1, 2);

-- case drop_function
create function fu_d(a int) returns int language sql as 'select a';
drop function fu_d(int);

-- case drop_function_then_call_42883
create function fu_d(a int) returns int language sql as 'select a';
drop function fu_d;
select fu_d(1);

-- case drop_function_missing_42883
drop function fu_nosuch(int);

-- case drop_function_if_exists
drop function if exists fu_nosuch(int);

-- case drop_function_ambiguous_42725
create function fu_o(a int) returns text language sql as $$ select 'one' $$;
create function fu_o(a int, b int) returns text language sql as $$ select 'two' $$;
drop function fu_o;

-- case unknown_language_0A000_or_42704
create function fu_c() returns int language plperl as 'return 1';

-- case call_unknown_function_42883
select fu_nosuch(1);

-- case wrong_arg_type_42883
create function fu_add1(x int) returns int language sql as $$ select x + 1 $$;
select fu_add1('a'::text);

-- case plpgsql_syntax_error_42601
create function fu_bad() returns int language plpgsql as $$ begin return 1 end $$;

-- case plpgsql_function_select_into
create table fu_t (a int, b text);
insert into fu_t values (1, 'x'), (2, 'y'), (3, 'z');
create function fu_name(k int) returns text language plpgsql as $$ declare r text; begin select b into r from fu_t where a = k; if not found then return 'none'; end if; return r; end $$;
select fu_name(2), fu_name(7);

-- case setof_function
create function fu_set() returns setof int language sql as 'select 1 union all select 2';

-- case returns_table
create function fu_tab() returns table (a int) language sql as 'select 1';

-- case out_parameters
create function fu_out(out a int) language sql as 'select 1';
