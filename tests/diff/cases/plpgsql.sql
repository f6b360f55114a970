-- DO blocks and PL/pgSQL (issue 15). Each case writes a table from a DO block and reads it back,
-- or checks the SQLSTATE a block raises. Bodies are on one line (a case statement ends with ';'
-- at the end of a line). Notices are compared in tests/compat/test_plpgsql.py.
create table pl_out (k int, v text);

-- case do_tag
do $$ begin null; end $$;

-- case do_language_clause
do language plpgsql $$ begin null; end $$;

-- case do_declare_defaults ordered
do $$ declare a int := 2; b int = 3; c text default 'x'; d numeric(5,2) := 1.005; e boolean; begin insert into pl_out values (a * b, c || d::text || coalesce(e::text, 'null')); end $$;
select k, v from pl_out order by k;

-- case do_for_range ordered
do $$ begin for i in 1..5 loop insert into pl_out values (i, 'r'); end loop; end $$;
select k, v from pl_out order by k;

-- case do_for_reverse_by ordered
do $$ begin for i in reverse 10..1 by 3 loop insert into pl_out values (i, 'r'); end loop; end $$;
select k, v from pl_out order by k;

-- case do_while_exit_continue ordered
do $$ declare i int := 0; begin while i < 10 loop i := i + 1; continue when i % 2 = 0; exit when i > 7; insert into pl_out values (i, 'w'); end loop; end $$;
select k, v from pl_out order by k;

-- case do_loop_labels ordered
do $$ declare n int := 0; begin <<outer>> for i in 1..3 loop for j in 1..3 loop n := n + 1; exit outer when i = 2 and j = 2; insert into pl_out values (i * 10 + j, 'l'); end loop; end loop; end $$;
select k, v from pl_out order by k;

-- case do_if_elsif_else ordered
do $$ begin for i in 1..4 loop if i = 1 then insert into pl_out values (i, 'one'); elsif i = 2 then insert into pl_out values (i, 'two'); else insert into pl_out values (i, 'many'); end if; end loop; end $$;
select k, v from pl_out order by k;

-- case do_case_statement ordered
do $$ begin for i in 1..3 loop case i when 1 then insert into pl_out values (i, 'a'); when 2, 3 then insert into pl_out values (i, 'b'); end case; end loop; end $$;
select k, v from pl_out order by k;

-- case do_for_query_record ordered
insert into pl_out values (1, 'a'), (2, 'b'), (3, 'c');
do $$ declare r record; begin for r in select k, v from pl_out order by k loop insert into pl_out values (r.k + 100, upper(r.v)); end loop; end $$;
select k, v from pl_out order by k;

-- case do_for_query_scalars ordered
insert into pl_out values (1, 'a'), (2, 'b');
do $$ declare x int; y text; begin for x, y in select k, v from pl_out loop insert into pl_out values (x * 2 + 10, y || y); end loop; end $$;
select k, v from pl_out order by k;

-- case do_select_into ordered
insert into pl_out values (1, 'a'), (2, 'b');
do $$ declare n bigint; m int; s text; begin select count(*), max(k) into n, m from pl_out; select v into s from pl_out where k = 2; insert into pl_out values (n::int * 100 + m, s); end $$;
select k, v from pl_out order by k;

-- case do_select_into_record ordered
insert into pl_out values (7, 'seven');
do $$ declare r record; begin select * into r from pl_out where k = 7; insert into pl_out values (r.k + 1, r.v || '+'); end $$;
select k, v from pl_out order by k;

-- case do_select_into_strict_no_rows
do $$ declare n int; begin select k into strict n from pl_out where k = 99; end $$;

-- case do_select_into_strict_too_many
insert into pl_out values (1, 'a'), (2, 'b');
do $$ declare n int; begin select k into strict n from pl_out; end $$;

-- case do_select_into_no_rows_is_null ordered
do $$ declare n int := 5; begin select k into n from pl_out where k = 99; insert into pl_out values (coalesce(n, -1), 'null'); end $$;
select k, v from pl_out order by k;

-- case do_found ordered
insert into pl_out values (1, 'a');
do $$ declare n int; begin select k into n from pl_out where k = 1; if found then insert into pl_out values (10, 'found'); end if; select k into n from pl_out where k = 2; if not found then insert into pl_out values (20, 'not found'); end if; update pl_out set v = 'u' where k = 99; insert into pl_out values (30, found::text); end $$;
select k, v from pl_out order by k;

-- case do_row_count ordered
insert into pl_out values (1, 'a'), (2, 'b'), (3, 'c');
do $$ declare n bigint; begin update pl_out set v = v || '!' where k >= 2; get diagnostics n = row_count; insert into pl_out values (100 + n, 'count'); end $$;
select k, v from pl_out order by k;

-- case do_perform ordered
do $$ begin perform 1; if found then insert into pl_out values (1, 'performed'); end if; end $$;
select k, v from pl_out order by k;

-- case do_insert_returning_into ordered
create table pl_seq (id serial primary key, v text);
do $$ declare new_id int; begin insert into pl_seq (v) values ('x') returning id into new_id; insert into pl_out values (new_id, 'id'); end $$;
select k, v from pl_out order by k;

-- case do_execute_using ordered
do $$ declare n int; begin execute 'insert into pl_out values ($1, $2)' using 5, 'dyn'; execute 'select count(*)::int from pl_out where k = $1' into n using 5; insert into pl_out values (n + 50, 'n'); end $$;
select k, v from pl_out order by k;

-- case do_execute_format ordered
do $$ begin execute format('insert into %I values (%s, %L)', 'pl_out', 8, 'fmt'); end $$;
select k, v from pl_out order by k;

-- case do_raise_exception_default_p0001
do $$ begin raise exception 'custom failure %', 42; end $$;

-- case do_raise_exception_errcode message
do $$ begin raise exception 'bad value: %', 'x' using errcode = '22023'; end $$;

-- case do_raise_exception_condition_name
do $$ begin raise exception using errcode = 'unique_violation', message = 'dup'; end $$;

-- case do_raise_condition
do $$ begin raise division_by_zero; end $$;

-- case do_raise_sqlstate
do $$ begin raise sqlstate '22P02'; end $$;

-- case do_raise_notice_ok
do $$ begin raise notice 'hello %', 1; raise warning 'careful'; end $$;

-- case do_exception_handler ordered
do $$ begin begin insert into pl_out values (1, 'kept?'); perform 1 / 0; exception when division_by_zero then insert into pl_out values (2, 'handled ' || sqlstate); end; end $$;
select k, v from pl_out order by k;

-- case do_exception_others ordered
do $$ begin begin perform 'x'::int; exception when others then insert into pl_out values (1, sqlerrm); end; end $$;
select k, v from pl_out order by k;

-- case do_exception_unique_violation ordered
create table pl_u (a int primary key);
insert into pl_u values (1);
do $$ begin insert into pl_u values (1); exception when unique_violation then insert into pl_out values (1, 'dup'); end $$;
select k, v from pl_out order by k;

-- case do_exception_not_matching
do $$ begin perform 1 / 0; exception when unique_violation then null; end $$;

-- case do_exception_reraise
do $$ begin perform 1 / 0; exception when division_by_zero then raise; end $$;

-- case do_exception_custom_sqlstate ordered
do $$ begin begin raise exception 'mine' using errcode = 'P1234'; exception when sqlstate 'P1234' then insert into pl_out values (1, 'caught P1234'); end; end $$;
select k, v from pl_out order by k;

-- case do_get_stacked_diagnostics ordered
do $$ declare st text; msg text; begin perform 1 / 0; exception when others then get stacked diagnostics st = returned_sqlstate, msg = message_text; insert into pl_out values (1, st || ' ' || msg); end $$;
select k, v from pl_out order by k;

-- case do_error_rolls_back_statement
do $$ begin insert into pl_out values (1, 'x'); perform 1 / 0; end $$;

-- case do_nested_block_scope ordered
do $$ declare x int := 1; begin declare x int := 2; begin insert into pl_out values (x, 'inner'); end; insert into pl_out values (x, 'outer'); end $$;
select k, v from pl_out order by k;

-- case do_constant_assign_error
do $$ declare c constant int := 1; begin c := 2; end $$;

-- case do_not_null_variable
do $$ declare c int not null := 1; begin c := null; end $$;

-- case do_calls_user_function ordered
create function pl_double(x int) returns int language plpgsql as $$ begin return x * 2; end $$;
do $$ begin insert into pl_out values (pl_double(21), 'fn'); end $$;
select k, v from pl_out order by k;

-- case do_ddl_inside ordered
do $$ begin create table pl_made (a int); insert into pl_made values (1), (2); end $$;
select a from pl_made order by a;

-- case do_update_variables_in_where ordered
insert into pl_out values (1, 'a'), (2, 'b');
do $$ declare target int := 2; newv text := 'changed'; begin update pl_out set v = newv where k = target; end $$;
select k, v from pl_out order by k;

-- case do_string_concat_types ordered
do $$ declare d date := '2024-02-29'; t timestamp := '2024-01-01 10:00'; begin insert into pl_out values (1, (d + 1)::text || ' ' || (t + interval '1 hour')::text); end $$;
select k, v from pl_out order by k;

-- case do_syntax_error_42601
do $$ begin if true then null; end $$;

-- case do_unknown_variable
do $$ begin x := 1; end $$;

-- case do_division_by_zero_22012
do $$ declare x int := 0; begin x := 1 / x; end $$;

-- case do_in_transaction_visible ordered
do $$ begin insert into pl_out values (42, 'in txn'); end $$;
select k, v from pl_out order by k;

-- refused do_cursor_declaration
do $$ declare c cursor for select 1; begin null; end $$;

-- case do_foreach_array ordered
do $$ declare x int; begin foreach x in array array[3, 1, 2] loop insert into pl_out values (x, 'e' || x); end loop; end $$;
select k, v from pl_out order by k;

-- case do_foreach_text_array_exit ordered
do $$ declare s text; n int := 0; begin foreach s in array string_to_array('a,b,c,d', ',') loop n := n + 1; exit when s = 'c'; insert into pl_out values (n, s); end loop; end $$;
select k, v from pl_out order by k;

-- case do_foreach_multidim ordered
do $$ declare x int; n int := 0; begin foreach x in array '{{1,2},{3,4}}'::int[] loop n := n + 1; insert into pl_out values (n, x::text); end loop; end $$;
select k, v from pl_out order by k;

-- case do_foreach_casts_element ordered
do $$ declare x numeric(5,1); begin foreach x in array array[1.26, 2.04] loop insert into pl_out values (1, x::text); end loop; end $$;
select v from pl_out order by v;

-- case do_foreach_null_array
do $$ declare x int; begin foreach x in array null::int[] loop null; end loop; end $$;

-- case do_foreach_not_array
do $$ declare x int; begin foreach x in array 5 loop null; end loop; end $$;

-- refused do_foreach_slice
do $$ declare x int[]; begin foreach x slice 1 in array array[[1, 2], [3, 4]] loop null; end loop; end $$;

-- case do_assert_passes ordered
do $$ begin assert 1 = 1; assert true, 'never'; insert into pl_out values (1, 'ok'); end $$;
select k, v from pl_out order by k;

-- case do_assert_fails message
do $$ begin assert 1 = 2; end $$;

-- case do_assert_message message
do $$ declare n int := 3; begin assert n < 2, 'n is ' || n; end $$;

-- case do_assert_null_fails message
do $$ begin assert null; end $$;

-- case do_assert_not_caught_by_others ordered
do $$ begin begin assert false, 'boom'; exception when others then insert into pl_out values (0, 'caught'); end; end $$;

-- case do_assert_caught_by_name ordered
do $$ begin begin assert false, 'boom'; exception when assert_failure then insert into pl_out values (0, sqlerrm); end; end $$;
select k, v from pl_out order by k;

-- case do_type_of_column ordered
create table pl_typed (id int, name varchar(3), amount numeric(6,2));
do $$ declare n pl_typed.name%type := 'abc  '; a pl_typed.amount%TYPE := 1.239; i n%type := 'xyz'; begin insert into pl_out values (1, n || ' ' || a || ' ' || i); end $$;
select k, v from pl_out order by k;

-- case do_varchar_too_long message
do $$ declare n varchar(3) := 'abcdef'; begin null; end $$;

-- case do_varchar_assign_too_long message
create table pl_typed (id int, name varchar(3));
do $$ declare n pl_typed.name%type; begin n := 'ab'; n := n || 'cd'; end $$;

-- case do_char_trailing_spaces_fit ordered
do $$ declare c char(2) := 'ab   '; begin insert into pl_out values (1, c || '|'); end $$;
select k, v from pl_out order by k;

-- case do_rowtype ordered
create table pl_typed (id int, name text, amount numeric(6,2));
insert into pl_typed values (7, 'seven', 7.5);
do $$ declare r pl_typed%rowtype; begin insert into pl_out values (0, coalesce(r.name, 'null')); select * into r from pl_typed where id = 7; r.amount := r.amount * 2; insert into pl_out values (r.id, r.name || ' ' || r.amount); end $$;
select k, v from pl_out order by k;

-- case do_type_of_missing_column
do $$ declare n pl_out.nope%type; begin null; end $$;

-- case function_rowtype_and_type ordered
create table pl_typed (id int, name text);
insert into pl_typed values (1, 'one'), (2, 'two');
create function pl_name_of(k pl_typed.id%type) returns text language plpgsql as $$ declare r pl_typed%rowtype; begin select * into r from pl_typed where id = k; return r.name; end $$;
select pl_name_of(2), pl_name_of(3);
