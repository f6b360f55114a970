-- Functions returning one value in FROM: one row of one column, named by the column alias, the
-- table alias or the function (TypeORM asks SELECT * FROM current_schema()). Session 19.

-- case from_current_schema
select * from current_schema();

-- case from_current_schema_alias
select * from current_schema() as s;

-- case from_current_schema_column_alias
select * from current_schema() as s(x);

-- case from_star_of_alias
select s.* from current_schema() s;

-- case from_lower_literal
select * from lower('ABC');

-- case from_too_many_column_aliases
select * from lower('ABC') as t(a, b);

-- case from_alias_as_value
select x from abs(-3) as x;

-- case from_two_functions
select * from current_database(), upper('q') u;

-- case from_null_argument
select * from upper(null::text);

-- case from_used_in_expression
select n + 1 from length('abcd') as n;

-- case from_join_two_scalars
select a.x, b from abs(-1) a(x) join sign(-2) b on true;

-- case from_typeof
select * from pg_typeof(1);

-- case from_unknown_function
select * from no_such_function_here();

-- case wrong_argument_count
select lower();

-- case wrong_argument_count_in_from
select * from lower();

-- case show_lc_collate_matches_pg_database
select current_setting('lc_collate') = datcollate, current_setting('lc_ctype') = datctype from pg_database where datname = current_database();
