-- numeric(p,s): exact arithmetic, scale, rounding, typmod errors.

-- case numeric_literals
select 1.50, 0.1 + 0.2, 1.0 / 3, 10.00 * 2.5;

-- case numeric_div_scale
select 1::numeric / 3, 2::numeric / 3, 10::numeric / 4, 1.000 / 7;

-- case numeric_column_typmod
create table tn (a numeric(6,2), b numeric, c decimal(10,3));
insert into tn values (12.345, 12.345, 1.0005);
select a, b, c from tn;

-- case numeric_typmod_overflow
create table tn (a numeric(4,2));
insert into tn values (123.4);

-- case numeric_cast_typmod
select 3.14159::numeric(5,2), 2.5::numeric(3,0), (-2.5)::numeric(3,0);

-- case numeric_cast_overflow
select 1000::numeric(3,1);

-- case numeric_sum_avg
create table tn (a numeric(8,2));
insert into tn values (1.10), (2.20), (3.30);
select sum(a), avg(a), min(a), max(a), count(a) from tn;

-- case numeric_order
create table tn (a numeric);
insert into tn values (10), (9.5), (-1), (100.001), (0);
select a from tn order by a;

-- case numeric_compare_mixed
select 1.0 = 1, 2.50 = 2.5, 0.1 + 0.2 = 0.3, 1.5 > 1;

-- case numeric_round_trunc
select round(2.5), round(-2.5), round(3.14159, 2), trunc(3.789, 1), trunc(-3.7), round(1234.5, -2);

-- case numeric_ceil_floor
select ceil(1.2), floor(-1.2), ceiling(2.0), floor(2.7), pg_typeof(ceil(1.2));

-- case numeric_abs_sign
select abs(-3.50), sign(-2.5), sign(0.0), sign(7);

-- case numeric_mod
select 10.5 % 3, -10.5 % 3, mod(10, 3), mod(-10, 3);

-- case numeric_big
select 123456789012345678901234567890 + 1, 99999999999999999999.99 * 10;

-- case numeric_text_cast
select '12.340'::numeric, ' 1e3 '::numeric, '-0.0'::numeric;

-- case numeric_text_cast_bad
select '1.2.3'::numeric;

-- case numeric_nan
select 'NaN'::numeric, 'NaN'::numeric = 'NaN'::numeric;

-- case numeric_div_zero
select 1.5 / 0;

-- case numeric_to_float
select 1.5::float8, 0.1::real, pg_typeof(1.5::float8);

-- case numeric_power_sqrt
select sqrt(16::numeric), power(2::numeric, 10), 2.0 ^ 3;

-- case numeric_scale_of_mul
select 1.25 * 1.5, 1.10 + 2.205, 5.00 - 0.5;

-- case numeric_neg
select -1.50, -(2.5), - -3.0;

-- case numeric_int_mixed_types
select pg_typeof(1 + 1.5), pg_typeof(1.5 * 2::bigint), pg_typeof(1::smallint + 1.0);

-- case numeric_group_by
create table tn (g text, a numeric(5,1));
insert into tn values ('a', 1.5), ('a', 2.5), ('b', 10);
select g, sum(a) from tn group by g order by g;

-- case numeric_trailing_zero_equality
create table tn (a numeric);
insert into tn values (1.0), (1.00), (1);
select count(distinct a), count(*) from tn;

-- case numeric_double_negation
select - -3.0, - - -1.25, -(-(0.5));

-- case numeric_scale_functions
select scale(1.500), scale(12), trim_scale(1.500), trim_scale(100.00), trim_scale(0.000), min_scale(1.500), min_scale(0), scale('NaN'::numeric), trim_scale(-2.50);
