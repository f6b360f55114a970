-- Features Strata refuses with 0A000 (feature_not_supported); PostgreSQL accepts them.
-- Documented in docs/compatibility.md.

-- refused multidimensional_array
select array[[1, 2], [3, 4]];

-- refused create_schema
create schema s1;

-- refused temp_table
create temp table tt (a int);

-- refused similar_to
select 'abc' similar to 'a%';

-- refused create_function
create function f() returns int language sql as 'select 1';
