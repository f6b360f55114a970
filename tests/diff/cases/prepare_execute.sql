-- SQL-level PREPARE / EXECUTE / DEALLOCATE (issue 15: pg_dump prepares its per-table catalog
-- queries). Prepared statements outlive the case's ROLLBACK, so every case uses its own names.
create table pe_t (a int, b text);
insert into pe_t values (1, 'x'), (2, 'y'), (3, null);

-- case execute_typed_param ordered
prepare pe_q1(int) as select a, b from pe_t where a >= $1 order by a;
execute pe_q1(2);

-- case execute_text_argument_cast
prepare pe_q2(int) as select a, b from pe_t where a = $1;
execute pe_q2('1');

-- case execute_inferred_types_and_names
prepare pe_q3 as select $1 + 1, $2::text, $1;
execute pe_q3(41, 'a''b');

-- case execute_catalog_oid_param
prepare pe_q4(pg_catalog.oid) as select $1;
execute pe_q4('6100');

-- case execute_numeric_and_array_params
prepare pe_q5(numeric(10,2), text[]) as select $1, $2, $2[1];
execute pe_q5(1.5, '{a,b}');

-- case execute_insert_tag
prepare pe_q6(int, text) as insert into pe_t values ($1, $2);
execute pe_q6(4, 'z');

-- case execute_insert_returning
prepare pe_q7(int, text) as insert into pe_t values ($1, $2) returning a * 10, b;
execute pe_q7(5, 'w');

-- case execute_update_tag
prepare pe_q8(text) as update pe_t set b = $1 where b is null;
execute pe_q8('filled');

-- case execute_no_params
prepare pe_q9 as select count(*) from pe_t;
execute pe_q9;

-- case execute_missing
execute pe_nosuch(1);

-- case execute_wrong_param_count
prepare pe_q10(int) as select $1;
execute pe_q10(1, 2);

-- case prepare_duplicate_name
prepare pe_q11 as select 1;
prepare pe_q11 as select 2;

-- case prepare_unknown_relation
prepare pe_q12 as select * from pe_nosuch_table;

-- case prepare_unknown_type
prepare pe_q13(pe_nosuch_type) as select $1;

-- case prepare_utility_statement
prepare pe_q14 as create table pe_x (a int);

-- case deallocate_then_execute
prepare pe_q15 as select 1;
deallocate pe_q15;
execute pe_q15;

-- case deallocate_prepare_keyword
prepare pe_q16 as select 1;
deallocate prepare pe_q16;

-- case deallocate_missing
deallocate pe_nosuch;

-- case execute_null_argument
prepare pe_q17(int) as select $1 is null, coalesce($1, -1);
execute pe_q17(null);

-- case execute_bad_argument_type
prepare pe_q18(int) as select $1;
execute pe_q18('abc');
