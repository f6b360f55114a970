-- real / double precision: output format, NaN, Infinity, errors.

-- case float_output
select 0.1::float8, 1e15::float8, 1e16::float8, 1.5e-7::float8, 123456789.125::float8;

-- case float4_output
select 0.1::real, 1.1::float4, 3.14159265::real, pg_typeof(0.1::real);

-- case float_special
select 'NaN'::float8, 'Infinity'::float8, '-Infinity'::float8, 'inf'::float8;

-- case float_nan_compare
select 'NaN'::float8 = 'NaN'::float8, 'NaN'::float8 > 1e308::float8, 'Infinity'::float8 > 1e308::float8;

-- case float_nan_in_table
create table tf (a float8);
insert into tf values ('NaN'), (1), ('Infinity'), ('-Infinity'), (null);
select a from tf order by a;

-- case float_arith
select 1.5::float8 + 2, 10::float8 / 4, pg_typeof(1.5::float8 * 2);

-- case float_div_zero
select 1::float8 / 0;

-- case float_overflow
select 1e308::float8 * 10;

-- case float_bad_input
select 'abc'::float8;

-- case float_out_of_range_input
select '1e400'::float8;

-- case float_negative_zero
select '-0'::float8, 0::float8 * -1;

-- case float_column
create table tf (a real, b double precision, c float, d float(3), e float(30));
insert into tf values (1.5, 2.25, 3.125, 4.5, 5.5);
select * from tf;

-- case float_sum_avg
create table tf (a float8);
insert into tf values (0.5), (1.25), (2);
select sum(a), avg(a), pg_typeof(sum(a)), pg_typeof(avg(a)) from tf;

-- case float_round
select round(2.5::float8), round(3.5::float8), trunc(2.7::float8), ceil(2.1::float8), floor(-2.1::float8);

-- case float_math
select sqrt(2::float8), exp(1::float8), ln(10::float8), log(100::float8), power(2::float8, 0.5);

-- case float_trig
select sin(0::float8), cos(0::float8), pi(), atan2(1, 1), degrees(pi()), radians(180);

-- case float_cast_to_text
select 1.5::float8::text, 'NaN'::float8::text, 100::float8::text;

-- case float_sqrt_negative
select sqrt(-1::float8);

-- case float_ln_zero
select ln(0::float8);

-- case float4_precision_in_table
create table tf (a real);
insert into tf values (0.1), (16777217);
select a, a::float8 from tf order by 1;
