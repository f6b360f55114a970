-- Features Strata refuses with 0A000 (feature_not_supported); PostgreSQL accepts them.
-- Documented in docs/compatibility.md.

-- case similar_to
select 'abc' similar to 'a%';

-- case create_function_sql
create function f() returns int language sql as 'select 1';
select f();

-- refused create_type_composite
create type pair as (a int, b text);

-- refused create_domain
create domain posint as int check (value > 0);

-- case at_time_zone
select timestamp '2024-01-01 12:00' at time zone 'UTC';

-- refused data_modifying_cte
create table rt (a int);
with x as (insert into rt values (1) returning a) select * from x;

-- refused insert_into_simple_view
create table rv (id int);
create view rv_view as select id from rv;
insert into rv_view values (1);
