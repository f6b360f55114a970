-- Common functions: math, string, conditional, casts and their errors.

-- case math_basic
select abs(-5), abs(-5.5), mod(17, 5), power(2, 10), sqrt(2), cbrt(27::float8), exp(0), ln(1), log(10, 1000), log10(1000);

-- case math_types
select pg_typeof(power(2, 10)), pg_typeof(sqrt(2)), pg_typeof(abs(-5)), pg_typeof(round(1.5)), pg_typeof(round(1.5::float8)), pg_typeof(mod(5, 2));

-- case math_div_fn
select div(7, 2), div(-7, 2), div(7.5, 2);

-- case math_gcd_lcm
select gcd(12, 18), lcm(4, 6), factorial(5);

-- case math_width_bucket
select width_bucket(5.35, 0.024, 10.06, 5);

-- case math_random_range
select random() >= 0 and random() < 1, pg_typeof(random());

-- case math_sign_ceil_types
select sign(-3), sign(3.5), ceil(-0.5), floor(0.5), pg_typeof(sign(-3));

-- case math_trunc_round_scale
select round(1.2345, 3), round(-1.2345, 1), trunc(1.2345, 2), round(12345, -3), round(0.5), round(1.5), round(-0.5);

-- case math_log_errors
select ln(0);

-- case math_sqrt_negative_numeric
select sqrt(-1);

-- case cast_text_to_int_error
select 'twelve'::integer;

-- case cast_empty_to_int
select ''::int;

-- case cast_numeric_overflow_int
select 1e10::int;

-- case cast_float_overflow_int
select 3e9::float8::int;

-- case cast_int8_to_int4_overflow
select 4294967296::bigint::int;

-- case cast_text_to_date_error
select '2024-99-99'::date;

-- case cast_timestamp_field_error
select '2024-01-01 25:00'::timestamp;

-- case cast_int_to_text_types
select 1::text, 1.50::text, true::text, '2024-01-02'::date::text, pg_typeof(1::text), 1::varchar, 12345::char(3);

-- case cast_function_syntax
select cast('5' as int), int '7', float8 '1.5', numeric '2.50', text 'x', bool 't';

-- case cast_double_colon_chain
select '1.5'::numeric::int::text::int;

-- case cast_to_regtype
select 'int4'::regtype, 'integer'::regtype::oid, pg_typeof(1)::text;

-- case cast_int_to_bool_error
select 'x'::text::bool;

-- case cast_float_text
select '1.5e3'::float8, '  -2.5  '::float8, '.5'::numeric;

-- case cast_char_to_int
select '12'::char(5)::int;

-- case cast_bigint_text_overflow
select '99999999999999999999'::bigint;

-- case cast_numeric_to_smallint_overflow
select 32767.5::smallint;

-- case cast_smallint_ok
select 32767.4::smallint;

-- case string_length_functions
select length('abc'), char_length('abc'), character_length('abc'), bit_length('abc'), octet_length('ab');

-- case string_to_number_coercion_error
select 'a' + 1;

-- case string_operator_unknown
select 1 + '2', '3' + '4'::int;

-- case string_regexp_match
select regexp_match('foo123bar', '\d+'), regexp_matches('a1b22', '\d+', 'g');

-- case string_regexp_split
select regexp_split_to_array('a1b2c', '\d'), string_to_array('a b', ' ');

-- case string_overlay
select overlay('Txxxxas' placing 'hom' from 2 for 4);

-- case string_md5_sha
select md5('hello'), sha256('hello'::bytea);

-- case string_lower_unicode
select upper('ßtraße'), lower('ÉCOLE'), length('日本語');

-- case string_to_hex
select to_hex(255), to_hex(-1), to_hex(9223372036854775807);

-- case string_casting_in_concat
select 'n=' || 5 || ', f=' || 1.5::float8 || ', d=' || date '2024-01-02' || ', b=' || true;

-- case string_null_handling
select length(null), concat(null), concat_ws(null, 'a'), coalesce(upper(null), 'x');

-- case conditional_in_where
select x from generate_series(1, 10) x where coalesce(nullif(x % 3, 0), 99) = 99 order by x;

-- case case_no_else
select case when 1 > 2 then 'x' end;

-- case case_nested
select case when x < 2 then case when x = 0 then 'zero' else 'one' end else 'many' end from generate_series(0, 3) x order by x;

-- case pg_typeof_various
select pg_typeof(1), pg_typeof(1.0), pg_typeof('a'), pg_typeof(true), pg_typeof(null), pg_typeof(now()), pg_typeof(1::int2), pg_typeof(array[1.5]);

-- case current_settings
select current_setting('TimeZone'), current_setting('DateStyle'), current_setting('server_version_num')::int >= 150000;

-- case version_like
select version() like 'PostgreSQL 15%';

-- case current_user_and_db
select current_user, session_user, current_database(), current_schema();

-- case num_nulls
select num_nulls(1, null, null), num_nonnulls(1, null, 'a');

-- case string_sort_collate_c
select x from (values ('a'), ('B'), ('é'), ('e'), ('Z')) v(x) order by x;

-- case bigint_sum_overflow_to_numeric
create table tb (v bigint);
insert into tb values (9223372036854775807), (9223372036854775807);
select sum(v), pg_typeof(sum(v)) from tb;

-- case int_sum_large
create table tb (v int);
insert into tb values (2147483647), (2147483647);
select sum(v), pg_typeof(sum(v)) from tb;

-- case avg_precision
select avg(x) from (values (1), (2), (4)) v(x);

-- case stddev_variance
select stddev(x), variance(x), stddev_pop(x), var_samp(x) from (values (1), (2), (4)) v(x);

-- case aggregate_types_numeric
select pg_typeof(sum(1.5)), pg_typeof(avg(1.5)), pg_typeof(sum(1::float4)), pg_typeof(avg(1::float4)), pg_typeof(sum(1::int2)), pg_typeof(max(1::int2));

-- case stats_numeric_scale
select stddev_samp(x), var_pop(x), variance(x) from (values (1.5), (2.25), (4.125)) v(x);

-- case stats_float
select stddev(x), variance(x), stddev_pop(x), var_pop(x), pg_typeof(stddev(x)) from (values (1.5::float8), (2::float8), (4::float8)) v(x);

-- case stats_single_and_empty
select stddev(x), var_pop(x), stddev_pop(x) from (values (7)) v(x);

-- case stats_empty
select stddev(x), variance(x) from (values (1)) v(x) where x > 1;

-- case stats_equal_values
select variance(x), stddev_pop(x) from (values (3), (3), (3)) v(x);

-- case stats_group_by
select g, stddev(x), var_samp(x) from (values (1, 1), (1, 3), (2, 10), (2, 20), (2, 60)) v(g, x) group by g order by g;

-- case stats_bad_type
select stddev(x) from (values ('a'::text)) v(x);

-- case string_regexp_match_only
select regexp_match('foo123bar', '\d+'), regexp_match('foo123bar', '([a-z]+)(\d+)'), regexp_match('abc', '\d'), regexp_match('ABC', 'b', 'i');

-- case string_regexp_match_global_error
select regexp_match('abc', 'b', 'g');

-- case string_regexp_replace_flags
select regexp_replace('aAaA', 'a', 'x', 'gi'), regexp_replace('aAaA', 'a', 'x'), regexp_replace('abc abc', '(b)(c)', '\2\1', 'g'), regexp_replace('x', 'x', 'y', 'i');

-- case string_regexp_posix_class
select regexp_replace('a1 b2', '[[:digit:]]', '#', 'g'), 'abc' ~ '^[[:alpha:]]+$';

-- case math_cbrt_degrees
select cbrt(27::float8), cbrt(-8), degrees(pi()), radians(180), degrees(1), pg_typeof(cbrt(8));

-- case math_gcd_lcm_types
select gcd(12, 18), lcm(4, 6), gcd(0, 5), gcd(-12, 18), lcm(0, 3), gcd(12::bigint, 8), pg_typeof(gcd(12::bigint, 8)), gcd(1.5, 0.25), lcm(1.5, 0.25), factorial(5), factorial(0);

-- case math_gcd_overflow
select lcm(2147483647, 2147483646);

-- case math_factorial_negative
select factorial(-1);

-- case math_width_bucket_forms
select width_bucket(5.35, 0.024, 10.06, 5), width_bucket(-1, 0, 10, 5), width_bucket(10, 0, 10, 5), width_bucket(3.5::float8, 0, 10, 4), width_bucket(7, 10, 0, 5);

-- case math_width_bucket_bad_count
select width_bucket(1, 0, 10, 0);

-- case string_sha_family
select sha256('hello'::bytea), sha224('abc'::bytea), sha512(''::bytea), sha384('x'::bytea), bit_length('abc'), bit_length('é');

-- case string_quote_nullable_starts_with
select quote_nullable(null), quote_nullable('it''s'), quote_nullable(42), starts_with('hello', 'he'), starts_with('hello', 'lo'), 'hello' ^@ 'he', 'hello' ^@ 'x', starts_with(null, 'a');

-- case string_regexp_split_forms
select regexp_split_to_array('a1b2c', '\d'), regexp_split_to_array('hello world  foo', '\s+'), regexp_split_to_array('aXbxc', 'x', 'i'), regexp_split_to_array('abc', ''), regexp_split_to_array('', ',');

-- case math_log10_forms
select log10(1000), log10(0.5::float8), log10(100::numeric), pg_typeof(log10(10)), pg_typeof(log10(10.0));

-- case math_log10_zero
select log10(0::float8);

-- case math_log_two_args
select log(10, 1000), log(2, 8), log(2.0, 64), pg_typeof(log(2, 8)), log(100::numeric), log(100);

-- case greatest_least_forms
select greatest(abs(-4), 2, 3), least('b', 'a', null), greatest(null, null), greatest(1.5, 2, null), least(now()::date, '2000-01-01');

-- case to_hex_negative
select to_hex(-1), to_hex(-255::bigint), to_hex(0), to_hex(2147483647);

-- case regexp_matches_groups_global
select regexp_matches('k1=v1, k2=v2, k3', '(\w+)=(\w+)', 'g');

-- case regexp_matches_first_only
select regexp_matches('abc abd', 'a(b)(x)?');

-- case regexp_matches_no_match_row_disappears
create table rm (id int, s text);
insert into rm values (1, 'a1'), (2, 'none'), (3, 'b22c3');
select id, regexp_matches(s, '\d+', 'g') from rm order by id, 2;

-- case regexp_matches_in_from
select m[1] as word from regexp_matches('the quick fox', '(\w+)', 'g') as m order by 1;

-- case similar_to_patterns
select 'abc' similar to 'abc', 'abc' similar to 'a', 'abc' similar to '%(b|d)%', 'abc' similar to '(b|c)%',
       'abd' similar to 'a_d', 'a.c' similar to 'a.c', 'abc' similar to 'a.c', 'aaa' similar to 'a{2,3}',
       'xyz' not similar to '[x-z]+', 'a%b' similar to 'a\%b', 'a#b' similar to 'a##b' escape '#', null similar to 'a';

-- case ordered_set_aggregates
create table os (g int, x numeric(6,2), f float8, s text);
insert into os values (1, 10.5, 1, 'b'), (1, 2.25, 2, 'a'), (1, 7, 3, 'b'), (2, 100, 4, 'z'), (2, null, null, null), (3, null, null, null);
select g, percentile_cont(0.5) within group (order by x), percentile_cont(0.25) within group (order by f desc),
       percentile_disc(0.5) within group (order by x), percentile_disc(0.9) within group (order by s desc),
       mode() within group (order by s) from os group by g order by g;

-- case percentile_out_of_range
select percentile_cont(1.5) within group (order by a) from (values (1), (2)) v(a);

-- case postmaster_start_time_is_past
select pg_postmaster_start_time() <= now(), now() - pg_postmaster_start_time() < interval '1 day', pg_typeof(pg_postmaster_start_time());

-- case conf_load_time_is_past
select pg_conf_load_time() <= now(), pg_typeof(pg_conf_load_time());
