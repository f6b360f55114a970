-- Range types (int4range, int8range, numrange, daterange, tsrange, tstzrange): input and output with the canonical form of discrete ranges, empty and unbounded ranges, constructors, lower/upper/isempty/*_inc/*_inf/range_merge, the operators @> <@ && << >> &< &> -|- + * -, comparisons and ORDER BY (storage keys sort as range_cmp), columns, unique indexes, tstzrange bounds in the session TimeZone.

-- case range_input_output
select '[1,5]'::int4range, '(1,5)'::int4range, '[3,3)'::int4range, 'empty'::int4range, '(,)'::int4range, '[,5]'::int8range, '[1.50,2)'::numrange, '[2020-01-01,2020-01-05]'::daterange;

-- case range_ts_tstz_input
select '["2020-01-01 00:00","2020-01-02 12:00")'::tsrange, '[2020-01-01 00:00+02,)'::tstzrange, pg_typeof('[1,2)'::int4range), pg_typeof('[1,2)'::numrange);

-- case range_lower_above_upper
select '[5,1]'::int4range;

-- case range_malformed
select '[1,5'::int4range;

-- case range_constructors
select int4range(1, 5), int4range(1, 5, '[]'), int4range(null, 5), int8range(1, 10, '(]'), numrange(1.5, 2.5, '[]'), daterange('2020-01-01', '2020-02-01', '()'), tsrange('2020-01-01', '2020-01-02');

-- case range_bad_flags
select int4range(1, 5, 'x]');

-- case range_functions
select lower(int4range(1,5)), upper(int4range(1,5)), isempty(int4range(1,1)), lower_inc('(1,5]'::numrange), upper_inc('(1,5]'::numrange), lower_inf('(,5]'::numrange), upper_inf('(,5]'::numrange), lower('empty'::int4range), pg_typeof(lower(numrange(1,2)));

-- case range_containment_overlap
select int4range(1,10) @> 5, int4range(1,10) @> 10, 5 <@ int4range(1,10), int4range(1,10) @> int4range(2,3), int4range(2,3) <@ int4range(1,10), int4range(1,5) && int4range(4,8), int4range(1,5) && int4range(5,8);

-- case range_position_operators
select int4range(1,5) << int4range(5,8), int4range(5,8) >> int4range(1,5), int4range(1,5) &< int4range(2,8), int4range(1,5) &> int4range(2,8), int4range(1,5) -|- int4range(5,8), numrange(1,5) -|- numrange(5,8,'(]');

-- case range_set_operators
select int4range(1,5) + int4range(5,8), int4range(1,5) * int4range(3,8), int4range(1,10) - int4range(5,20), int4range(1,10) - int4range(0,3), range_merge(int4range(1,2), int4range(5,8)), int4range(1,5) * int4range(7,8);

-- case range_union_not_contiguous
select int4range(1,5) + int4range(7,8);

-- case range_difference_not_contiguous
select int4range(1,10) - int4range(3,5);

-- case range_comparisons
select int4range(1,5) = int4range(1,4,'[]'), int4range(1,5) < int4range(1,6), 'empty'::int4range < int4range(1,2), int4range(null,2) < int4range(1,2), numrange(1,2) <> numrange(1,2,'[]');

-- case range_order_by_column
create table t (id int, r int4range);
insert into t values (1, '[1,5)'), (2, '[2,3]'), (3, 'empty'), (4, '(,3)'), (5, '[1,)'), (6, null), (7, '[1,3)');
select id, r from t order by r, id;

-- case range_daterange_column
create table t (id int, r daterange);
insert into t values (1, '[2020-01-01,2020-01-10)'), (2, '[2020-01-05,2020-01-20)');
select id, r, r @> '2020-01-07'::date, lower(r), upper(r) from t where r && daterange('2020-01-08', '2020-01-09') order by id;

-- case range_unique_index
create table t (r numrange);
create unique index on t(r);
insert into t values ('[1,2)'), ('[1,2)');

-- case range_group_by_canonical
create table t (r int4range);
insert into t values ('[1,3)'), ('[1,2]'), ('(0,2]'), ('[5,6)');
select r, count(*) from t group by r order by r;

-- case range_tsrange_column
create table t (r tsrange);
insert into t values ('[2020-01-01 10:00, 2020-01-01 12:00)');
select r, lower(r), upper_inf(r), r @> '2020-01-01 11:00'::timestamp from t;

-- case range_numeric_negative_int8_max
select numrange(-1.5, 10.25), numrange(-10, -9.5) < numrange(-9, 0), int8range(9223372036854775806, 9223372036854775807, '[]');

-- case range_int4_upper_overflow
select int4range(2147483646, 2147483647, '[]');

-- case range_text_casts_and_any_functions
select '[1,5)'::int4range::text, 'x' || int4range(1,2)::text, concat(int4range(1,2)), array[int4range(1,2), 'empty'], to_json(int4range(1,2));

-- case range_lower_upper_overloads
select upper('[1,2)'::int4range), lower('abc'), upper('abc');

-- case range_bad_element
select $$[a,b)$$::int4range;

-- case range_whitespace_quotes
select '  [ 1 , 5 ]  '::int4range, '[" 1","5")'::int4range, '(1,"5"]'::int4range;

-- case range_nulls
select int4range(1,5) @> null::int4, isempty(null::int4range), int4range(1, null) @> 1000000;

-- case range_no_max
select max(r), min(r) from (values (int4range(1,2)), (int4range(0,5))) v(r);

-- case range_tstzrange_session_zone
set timezone = 'America/New_York';
select '[2020-01-01 00:00,2020-01-02 00:00)'::tstzrange, tstzrange('2020-01-01 00:00+00', null), lower('[2020-01-01 00:00+00,)'::tstzrange), '[2020-01-01 00:00,2020-01-02 00:00)'::tstzrange @> '2020-01-01 03:00+00'::timestamptz;

-- case range_tstzrange_column
create table t (r tstzrange);
insert into t values ('[2020-01-01 00:00+00,2020-01-01 05:00+00)'), ('empty');
select r, isempty(r), upper(r) from t order by r;

-- case range_all_types_columns
create table t (r int4range, n numrange, d daterange, s tsrange, z tstzrange, i int8range);
insert into t values ('[1,2)', '[1.5,2.25]', '[2020-01-01,2020-01-03)', '[2020-01-01 00:00,2020-01-02 00:00)', '[2020-01-01 00:00+00,)', '(,5]');
select * from t;

-- case types_issue15_pg_type_rows
select oid, typname, typlen, typtype, typcategory, typarray, typelem from pg_type where oid in (869, 650, 1560, 1562, 3904, 3905, 3906, 3908, 3910, 3912, 3926, 1041, 651) order by oid;

-- case types_issue15_format_type
select format_type(1560, 3), format_type(1562, 4), format_type(1562, -1), format_type(3904, -1), format_type(650, -1), format_type(1042, 9);

-- case types_issue15_attribute_typmods
create table t (a bit(3), b varbit(4), c char(5), d inet, e int4range);
select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute a join pg_class c on c.oid = a.attrelid where c.relname = 't' and a.attnum > 0 order by a.attnum;

-- case range_pg_range_rows
select rngtypid, rngsubtype from pg_range order by 1;

-- case range_typed_literals
select inet '10.0.0.1', int4range '[1,2]', numrange '(1,2)';

-- case range_daterange_infinite_dates
select daterange('-infinity', 'infinity'), daterange('2020-01-01', 'infinity', '[]'), lower_inf(daterange('-infinity', '2020-01-01'));

-- case range_param
-- params: ["[1,5)"]
select $1::int4range @> 3;

-- case range_where_contains
create table t (r int4range);
insert into t values ('[1,10)');
select r from t where r @> 5 and not (r @> 20);

-- case range_unknown_is_a_range
select int4range(1,5) = '[1,4]', '[1,4]' = int4range(1,5), int4range(1,5) @> '[2,3)';

-- case range_cast_between_range_types
select '[1,5)'::int4range::numrange;

-- case range_text_round_trips
select '1.2.3.4'::inet::varchar(20), '1.2.3.4'::text::inet, B'101'::text::bit(3), 'empty'::text::int4range;

-- case range_gist_index_accepted
create table t (r int4range);
create index on t using gist (r);
insert into t values ('[1,2)');
select r from t;

-- refused range_exclusion_constraint
create table t (r int4range, exclude using gist (r with &&));

-- case range_defaults_of_new_types
create table t (id serial, r tsrange default tsrange(null, null), b bit(2) default B'01', a inet default '127.0.0.1', c char(3) default 'x');
insert into t default values;
select r, b, a, c || '|' from t;

-- case range_update_with_operators
create table t (a inet, r int4range, b varbit);
insert into t values ('1.2.3.4', '[1,2)', B'1');
update t set a = a + 1, r = r * '[0,10)', b = b || B'0';
select * from t;

-- case range_delete_returning_inet
create table t (a inet);
insert into t values ('1.2.3.4'), ('1.2.3.5');
delete from t where a > '1.2.3.4' returning a;

-- case range_window_order
create table t (r int4range);
insert into t values ('[1,5)');
select r, count(*) over (order by r) from t;

-- case range_primary_key_canonical
create table t (r int4range primary key);
insert into t values ('[1,3)'), ('[1,2]');

-- case range_from_aggregates
create table t (a int);
insert into t values (1), (5);
select int4range(min(a), max(a), '[]') from t;

-- case range_numrange_scale_equality
select numrange(1.5, 2) = numrange(1.50, 2);

-- refused range_multirange_aggregate
select range_agg(r) from (values (int4range(1,2))) v(r);
