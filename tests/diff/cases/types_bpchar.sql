-- bpchar / char(n): blank padding on input and output, trailing blanks insignificant in comparisons,
-- kept by LIKE / regular expressions / length-like functions, stripped by the cast to text.

-- case bpchar_concat_and_lengths
select 'ab'::char(5) || '|', length('ab   '::char(5)), octet_length('ab'::char(5)), char_length('a  '::char(4));

-- case bpchar_like_keeps_padding
select 'a '::char(3) like 'a', 'a'::char(3) like 'a%', 'a '::char(3) ilike 'A  ', 'a'::char(3) not like 'a';

-- case bpchar_regex_keeps_padding
select 'a '::char(3) ~ '^a  $', 'a '::char(3) similar to 'a  ';

-- case bpchar_group_by
create table t (c char(4));
insert into t values ('a'),('a  '),('b'),('ab');
select c, count(*) from t group by c order by c;

-- case bpchar_distinct
create table t (c char(4));
insert into t values ('a'),('a  '),('b'),('ab');
select distinct c from t order by 1;

-- case bpchar_cast_to_text_strips
create table t (c char(4));
insert into t values ('a'),('a  '),('b'),('ab');
select c::text || '|', c::varchar || '|', cast(c as text) = 'a' from t order by c;

-- case bpchar_excess_blanks_ok
create table t (c char(4));
insert into t values ('abcd    ');
select c || '|' from t;

-- case bpchar_too_long
create table t (c char(4));
insert into t values ('abcde');

-- case bpchar_type_name
select 'a'::char(3) = 'a  '::char(3), 'a'::char(3) < 'a'::char(5), 'a '::bpchar = 'a'::bpchar, 'a'::bpchar || 'b';

-- case bpchar_compare_lengths
create table t (c char(4), d char(2));
insert into t values ('a','a');
select c = d, c, d from t;

-- case bpchar_unique_index_ignores_blanks
create table t (c char(4));
create unique index on t(c);
insert into t values ('a'),('a ');

-- case bpchar_typeof
select 'x'::char(3), pg_typeof('x'::char(3)), 'x  '::bpchar, pg_typeof('x'::bpchar), 'abc'::char(10)::varchar(2);

-- case bpchar_where_padded_literal
create table t (c char(4));
insert into t values ('a');
select * from t where c = 'a   ';

-- case bpchar_where_text
create table t (c char(4));
insert into t values ('a');
select * from t where c = $$a$$::text;

-- case bpchar_text_functions_strip
select upper('ab'::char(4)) || '|', trim('ab'::char(4)) || '|', 'ab'::char(4) || 'c'::char(3), concat('a'::char(3), 'b');

-- case bpchar_min_max
select max('a'::char(3)) || '|', min(x) from (values ('b'::char(4)), ('a'::char(4))) v(x);

-- case bpchar_position_substr_replace
select position('b' in 'ab '::char(4)), substr('ab'::char(5), 1, 4) || '|', replace('a b'::char(5), ' ', '_');

-- case bpchar_in_case_coalesce
select 'a'::char(3) in ('a', 'b'), case when 'a'::char(3) = 'a' then 1 end, coalesce('a'::char(3), 'b') || '|';

-- case bpchar_any_functions_keep_padding
select quote_literal('a'::char(3)), to_json('a'::char(3)), format('%s|', 'a'::char(3)), 'a'::char(3)::name || '|';

-- case bpchar_array_agg
select array_agg(x) from (values ('a'::char(3))) v(x);

-- case bpchar_casts
select 'ab   '::bpchar || '|', 'ab'::char(5)::bpchar || '|', 'abcdef   '::char(3), 'abcdef'::char(3);

-- case bpchar_mixed_compare
select 'a'::char(3) = 'a'::bpchar, 'b'::bpchar > 'a  '::char(5), 'abc'::char(3) = 'abc  ';

-- case bpchar_join_different_lengths
create table t (c char(3), d char(5));
insert into t values ('a','a'),('b','c');
select t1.c from t t1 join t t2 on t1.c = t2.d order by 1;

-- case bpchar_order_desc
create table t (c char(3));
insert into t values ('a'),('b');
select c, c::text, length(c), octet_length(c), c < 'b' from t order by c desc;

-- case bpchar_update_pads
create table t (c char(3));
insert into t values ('a');
update t set c = 'bc';
select c || '|', octet_length(c) from t;

-- case bpchar_param
-- params: ["ab"]
select x || '|', octet_length(x) from (select $1::char(4) as x) s;

-- case bpchar_any_and_in_subquery
select 'a'::char(3) = any(array['a', 'b']), 'a'::char(2) in (select 'a'::char(4)), 'a'::char(2) = any(select 'a'::char(4));

-- case bpchar_union_all_order
select x from (select 'a'::char(2) as x union all select 'bb'::char(4)) s order by x;

-- case bpchar_in_list_padded
create table t (c char(3));
insert into t values ('a'), ('b');
select c from t where c in ('a', 'b  ') order by c;

-- case bpchar_like_underscores_match_padding
create table t (c char(3));
insert into t values ('a');
select c from t where c like 'a__';

-- case bpchar_param_compare
create table t (c char(4));
insert into t values ('ab');
-- params: ["ab"]
select c || '|' from t where c = $1;

-- case bpchar_param_insert
create table t (c char(4));
-- params: ["ab"]
insert into t values ($1) returning c || '|', octet_length(c);

-- case bpchar_vs_varchar
create table t (c char(4), v varchar(4));
insert into t values ('ab', 'ab');
select c = v, v = c, c || v, c > v from t;

-- case bpchar_count_distinct_string_agg
create table t (c char(4));
insert into t values ('ab'), ('ab  '), ('b');
select count(distinct c), string_agg(c, ',' order by c) from t;

-- case bpchar_case_coalesce_nullif
create table t (c char(4));
insert into t values ('ab');
select case when true then c else 'xyz' end || '|', coalesce(c, 'q') || '|', nullif(c, 'ab') from t;

-- case bpchar_name_and_casts
select 'ab'::char(4) = 'ab'::name, 'ab'::char(4)::char(2) || '|', 'ab'::char(4)::text::char(6) || '|', 'abcdef'::char(4);

-- case bpchar_length_family
create table t (c char(4));
insert into t values ('ab');
select c, length(c), char_length(c), character_length(c), octet_length(c), bit_length(c) from t;

-- case bpchar_on_conflict_padding
create table t (c character(3) primary key);
insert into t values ('a');
insert into t values ('a  ') on conflict (c) do nothing;
select count(*) from t;

-- case bpchar_lpad_left_concat_int
select lpad('ab'::char(4), 6, '*'), 'ab'::char(4) || 1, left('ab  '::char(4), 3) || '|', 'ab'::char(4) ~~ 'ab  ';

-- case bpchar_union_different_lengths
select x || '|' from (select 'a'::char(2) as x union select 'a'::char(4)) s;

-- case bpchar_unbounded_group_by
create table t (c bpchar);
insert into t values ('a'), ('a ');
select c || '|', count(*) from t group by c;
