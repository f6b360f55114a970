-- Float and numeric math: result types, numeric result scales, errors, NaN (math_functions.py).

-- case numeric_sqrt_scales
select sqrt(2::numeric), sqrt(1000000::numeric), sqrt(0.0001::numeric), sqrt(2.000000000000000000001), sqrt(0::numeric);

-- case numeric_ln_exp_scales
select ln(2::numeric), ln(1.05), ln(100000::numeric), exp(1::numeric), exp(0.5), exp(10::numeric), exp(-10::numeric);

-- case numeric_log_scales
select log(1000::numeric), log(2::numeric), log(2::numeric, 64::numeric), log(10, 12345.678), log(0.001);

-- case numeric_power_scales
select power(2::numeric, 10), power(2.5, 2), power(2::numeric, 0.5), power(10::numeric, -2), 1.5 ^ 2.5, power(0::numeric, 0);

-- case numeric_power_zero_negative
select power(0::numeric, -1);

-- case numeric_power_negative_fraction
select power(-8::numeric, 1.0 / 3);

-- case numeric_ln_negative
select ln(-1::numeric);

-- case numeric_log_zero
select log(0::numeric);

-- case float_power_errors
select power(0::float8, -1);

-- case float_power_complex
select (-8)::float8 ^ 0.5;

-- case float_exp_overflow
select exp(1000::float8);

-- case float_exp_underflow
select exp(-1000::float8);

-- case float_mul_underflow
select 1e-300::float8 * 1e-300::float8;

-- case float_add_overflow
select 1.7e308::float8 + 1.7e308::float8;

-- case float_div_by_zero_col
create table tm (a float8, b float8);
insert into tm values (1, 0);
select a / b from tm;

-- case math_result_types
select pg_typeof(sqrt(4)), pg_typeof(ceil(5)), pg_typeof(floor(5::int8)), pg_typeof(round(5)), pg_typeof(trunc(5)),
       pg_typeof(sign(5)), pg_typeof(abs(5)), pg_typeof(2 ^ 3), pg_typeof(2.0 ^ 3), pg_typeof(ln(5)), pg_typeof(log(5)),
       pg_typeof(exp(1)), pg_typeof(power(2, 3)), pg_typeof(ceil('5')), pg_typeof(sqrt('4')), pg_typeof(power(2.0, 3));

-- case float_rint_halves
select round(0.5::float8), round(1.5::float8), round(-2.5::float8), round(-0.5::float8), round(2.5), round(-2.5);

-- case float_nan_arith
select 'NaN'::float8 + 1, 'NaN'::float8 * 0, -('NaN'::float8), sqrt('NaN'::float8), 'Infinity'::float8 - 'Infinity'::float8;

-- case float_nan_functions
select power('NaN'::float8, 0), power(1::float8, 'NaN'), ln('Infinity'::float8), 'NaN'::float8::numeric, 'NaN'::numeric::float8;

-- case float_nan_table_ops
create table tn (id int, a float8);
insert into tn values (1, 'NaN'), (2, 1.5), (3, 'NaN'), (4, '-Infinity');
select a, count(*) from tn group by a order by a;

-- case float_nan_where
create table tn (id int, a float8);
insert into tn values (1, 'NaN'), (2, 1.5), (3, 'Infinity');
select id from tn where a > 1e300 order by id;

-- case float_nan_max_min
create table tn (a float8);
insert into tn values ('NaN'), (2), ('Infinity');
select max(a), min(a) from tn;

-- case float_nan_param
-- params: ["NaN"]
select x, x = 'NaN'::float8, x > 'Infinity'::float8 from (select $1::float8 as x) s;

-- case float4_insert_rounding
create table tr (a real);
insert into tr values (16777217), (0.1), (1.0000001), (3.4e38);
select a, a::float8 from tr order by 1;

-- case float4_insert_overflow
create table tr (a real);
insert into tr values (1e39::float8);

-- case float_int_column_mixed
create table tm (a float8);
insert into tm values (1), (2.5), (3);
select a, pg_typeof(a), a / 2 from tm order by a;
