-- Integer types: literals, result types, overflow (22003), division and modulo semantics.

-- case int_literals
select 1, -1, 2147483647, 2147483648, -2147483648, 9223372036854775807;

-- case int_literal_too_big_is_numeric
select 9223372036854775808, pg_typeof(9223372036854775808);

-- case int4_add_overflow
select 2147483647 + 1;

-- case int4_sub_overflow
select -2147483647 - 2;

-- case int4_mul_overflow
select 65536 * 65536;

-- case int8_add_overflow
select 9223372036854775807 + 1;

-- case int8_mul_overflow
select 9223372036854775807 * 2;

-- case int8_mixed_no_overflow
select 2147483647 + 1::bigint, pg_typeof(2147483647 + 1::bigint);

-- case int2_overflow
select 32767::smallint + 1::smallint;

-- case int2_cast_overflow
select 40000::smallint;

-- case int4_cast_overflow
select 3000000000::int;

-- case int8_cast_overflow
select '9223372036854775808'::bigint;

-- case int_text_cast_invalid
select 'abc'::int;

-- case int_text_cast_spaces
select ' 42 '::int, '-7'::int, '+5'::smallint;

-- case int_text_cast_decimal_invalid
select '1.5'::int;

-- case numeric_to_int_rounds
select 1.5::int, 2.5::int, -1.5::int, 0.49::int;

-- case float_to_int_rounds_even
select 1.5::float8::int, 2.5::float8::int, (-2.5)::float8::int;

-- case int_division_truncates
select 7 / 2, -7 / 2, 7 / -2, -7 / -2;

-- case int_modulo_sign
select 7 % 3, -7 % 3, 7 % -3, -7 % -3;

-- case int_div_zero
select 1 / 0;

-- case int_mod_zero
select 1 % 0;

-- case int8_div_zero
select 1::bigint / 0::bigint;

-- case int_min_div_minus_one
select (-2147483648)::int / (-1)::int;

-- case int_abs_overflow
select abs((-2147483648)::int);

-- case int_neg_overflow
select -((-2147483648)::int);

-- case int_types_of_ops
select pg_typeof(1::smallint + 1::smallint), pg_typeof(1::smallint + 1), pg_typeof(1 + 1::bigint), pg_typeof(1 / 2), pg_typeof(1 + 1.0), pg_typeof(1 + 1.0::float8);

-- case int_column_types
create table ti (a smallint, b int, c bigint, d int2, e int4, f int8, g integer);
insert into ti values (1, 2, 3, 4, 5, 6, 7);
select * from ti;

-- case int_insert_overflow
create table ti (a smallint);
insert into ti values (40000);

-- case int_insert_overflow_int
create table ti (a int);
insert into ti values (2147483648);

-- case int_insert_string
create table ti (a int);
insert into ti values ('12');
select a, pg_typeof(a) from ti;

-- case int_insert_bad_string
create table ti (a int);
insert into ti values ('x12');

-- case int_column_sum_types
create table ti (a smallint, b int, c bigint);
insert into ti values (1, 2, 3), (4, 5, 6);
select sum(a), sum(b), sum(c), pg_typeof(sum(a)), pg_typeof(sum(b)), pg_typeof(sum(c)) from ti;

-- case int_avg
create table ti (b int);
insert into ti values (1), (2), (2);
select avg(b), pg_typeof(avg(b)) from ti;

-- case int_column_overflow_arith
create table ti (b int);
insert into ti values (2147483647);
select b + 1 from ti;

-- case int_column_overflow_mul
create table ti (b int);
insert into ti values (100000);
select b * b from ti;

-- case int8_column_big
create table ti (c bigint);
insert into ti values (9223372036854775807), (-9223372036854775808);
select c from ti order by c;

-- case int_bitwise
select 5 & 3, 5 | 3, 5 # 3, ~5, 1 << 4, 256 >> 2;

-- case int_pow
select 2 ^ 10, pg_typeof(2 ^ 10);

-- case int_factorial_like
select 10 / 3 * 3 + 10 % 3;

-- case int_comparisons
select 1 < 2, 2 <= 2, 3 <> 3, 3 != 4, 1 = 1.0, 2 > 1.5;

-- case int_unary_plus
select +5, - -5;

-- case smallint_range
select (-32768)::smallint, 32767::smallint;

-- case int_between
select 5 between 1 and 10, 5 not between 6 and 10, 5 between symmetric 10 and 1;

-- case int_in_list
select 3 in (1, 2, 3), 4 not in (1, 2, 3), 1 in (null, 2), 1 not in (null, 2);

-- case int_negated_casts
select -(5::bigint), pg_typeof(-(5::bigint)), -(3::smallint), pg_typeof(-(3::smallint)), -(-32768)::smallint;

-- case int_between_symmetric_forms
select x, x between symmetric 5 and 1, x not between symmetric 5 and 1, x between symmetric 1 and 5 from (values (0), (1), (3), (5), (6), (null)) v(x) order by x;
