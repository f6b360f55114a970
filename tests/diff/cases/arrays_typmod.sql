-- Arrays whose element type has a typmod (char(n)[], varchar(n)[], numeric(p,s)[], bit(n)[],
-- varbit(n)[], timestamp(p)[]): the typmod applies to each element on casts and on assignment
-- (INSERT / UPDATE), as PostgreSQL does. Django's ArrayField(CharField(max_length=n)) makes varchar(n)[].

-- case cast_char_array
select '{a}'::char(3)[], '{a,NULL,bc}'::char(3)[];

-- case cast_varchar_array_truncates
select '{abc}'::varchar(2)[], '{abc,NULL,x}'::varchar(2)[];

-- case cast_numeric_array_rounds
select '{1.234}'::numeric(5,2)[], '{1.235,NULL,-2}'::numeric(5,2)[];

-- case cast_numeric_array_overflow
select '{12345.6}'::numeric(5,2)[];

-- case cast_bit_array
select '{1,101}'::bit(2)[], '{10101}'::varbit(3)[];

-- case cast_timestamp_array_precision
select '{"2020-01-01 10:00:00.123456"}'::timestamp(2)[];

-- case cast_text_array_to_varchar_array
select '{abcd,xy}'::text[]::varchar(3)[], array['abcd', null]::varchar(2)[];

-- case cast_array_constructor_numeric
select array[1.234, 5.678]::numeric(4,1)[], array[1, 2]::numeric(5,2)[];

-- case cast_array_constructor_char
select array['a', 'bb']::char(3)[];

-- case cast_varchar_array_to_narrower
select v::varchar(1)[] from (select '{ab,cd}'::varchar(2)[] as v) s;

-- case cast_empty_and_null
select '{}'::varchar(2)[], null::varchar(2)[], '{NULL}'::char(2)[];

-- case insert_and_select
create table ta (c char(3)[], v varchar(2)[], n numeric(5,2)[]);
insert into ta values ('{a}', '{ab}', '{1.234}');
select * from ta;

-- case insert_varchar_overflow
create table ta (c char(3)[], v varchar(2)[], n numeric(5,2)[]);
insert into ta values ('{a}', '{abc}', '{1.234}');

-- case insert_char_overflow
create table ta (c char(3)[]);
insert into ta values ('{abcd}');

-- case insert_trailing_blanks_fit
create table ta (c char(3)[], v varchar(2)[]);
insert into ta values ('{"abc  "}', '{"ab   "}');
select c, v from ta;

-- case insert_numeric_overflow
create table ta (n numeric(5,2)[]);
insert into ta values ('{1000.5}');

-- case insert_null_elements
create table ta (c char(3)[], v varchar(2)[], n numeric(5,2)[]);
insert into ta values ('{a,NULL}', '{NULL,ab}', '{NULL,2.345}'), (null, null, null);
select * from ta;

-- case insert_array_constructor
create table ta (c char(3)[], v varchar(2)[], n numeric(5,2)[]);
insert into ta values (array['a', 'b'], array['ab'], array[1.234, 7]);
select * from ta;

-- case insert_array_constructor_overflow
create table ta (v varchar(2)[]);
insert into ta values (array['abc']);

-- case insert_int_array_into_numeric_array
create table ta (n numeric(5,2)[]);
insert into ta values (array[1, 2]);
select n from ta;

-- case insert_select_text_array
create table ta (v varchar(2)[]);
create table src (t text[]);
insert into src values ('{ab,cd}');
insert into ta select t from src;
select v from ta;

-- case insert_select_text_array_overflow
create table ta (v varchar(2)[]);
create table src (t text[]);
insert into src values ('{abc}');
insert into ta select t from src;

-- case update_set_literal
create table ta (c char(3)[], v varchar(2)[], n numeric(5,2)[]);
insert into ta values ('{a}', '{ab}', '{1}');
update ta set c = '{x,yz}', n = '{9.999}';
select * from ta;

-- case update_overflow
create table ta (v varchar(2)[]);
insert into ta values ('{ab}');
update ta set v = '{xyz}';

-- case update_array_expression
create table ta (n numeric(5,2)[]);
insert into ta values ('{1}');
update ta set n = array[3.14159, 2.71828];
select n from ta;

-- case returning_padded
create table ta (c char(3)[]);
insert into ta values ('{a,b}') returning c;

-- case element_access_padded
create table ta (c char(3)[]);
insert into ta values ('{a,b}');
select c[1], length(c[1]), octet_length(c[2]) from ta;

-- case format_type_of_array_columns
create table ta (c char(3)[], v varchar(2)[], n numeric(5,2)[]);
select attname, format_type(atttypid, atttypmod), atttypmod from pg_attribute where attrelid = 'ta'::regclass and attnum > 0 order by attnum;

-- case param_insert_varchar_array
-- params: ["{ab,c}"]
create table ta (v varchar(2)[]);
insert into ta values ($1) returning v;

-- case param_insert_char_array
-- params: ["{a,NULL}"]
create table ta (c char(3)[]);
insert into ta values ($1) returning c;

-- case param_insert_varchar_array_overflow
-- params: ["{abc}"]
create table ta (v varchar(2)[]);
insert into ta values ($1);

-- case param_insert_numeric_array
-- params: ["{1.234,5.555}"]
create table ta (n numeric(5,2)[]);
insert into ta values ($1) returning n;

-- case param_cast_char_array
-- params: ["{a}"]
select $1::char(3)[];

-- case param_update_varchar_array
-- params: ["{abc}"]
create table ta (v varchar(2)[]);
insert into ta values ('{ab}');
update ta set v = $1;

-- case insert_bit_array_length
create table tb (b bit(2)[], vb varbit(2)[]);
insert into tb values ('{10,01}', '{1,11}');
insert into tb values ('{101}', '{1}');

-- case insert_varbit_array_overflow
create table tb (vb varbit(2)[]);
insert into tb values ('{111}');

-- case insert_timestamp_array_precision
create table tt (t timestamp(0)[], tm time(1)[]);
insert into tt values ('{"2020-01-01 10:00:00.6"}', '{"10:00:00.26"}');
select t, tm from tt;

-- case create_table_as_keeps_typmod
create table ta as select '{a}'::char(3)[] as c, '{1.5}'::numeric(4,1)[] as n;
select format_type(atttypid, atttypmod), c, n from pg_attribute, ta where attrelid = 'ta'::regclass and attname = 'c';

-- case alter_add_column_array_typmod
create table ta (id int);
insert into ta values (1);
alter table ta add column v varchar(2)[];
update ta set v = '{a,bc}';
insert into ta values (2, '{abc}');

-- case alter_column_type_narrows
create table ta (v varchar(5)[]);
insert into ta values ('{ab,cd}');
alter table ta alter column v type varchar(2)[];
select v, format_type(atttypid, atttypmod) from ta, pg_attribute where attrelid = 'ta'::regclass and attname = 'v';

-- case alter_column_type_too_long
create table ta (v varchar(5)[]);
insert into ta values ('{abc}');
alter table ta alter column v type varchar(2)[];

-- case upsert_excluded
create table ta (id int primary key, v varchar(2)[]);
insert into ta values (1, '{a}');
insert into ta values (1, '{b,c}') on conflict (id) do update set v = excluded.v;
select id, v from ta;

-- case default_padded
create table ta (id int, c char(3)[] default '{x}');
insert into ta (id) values (1);
select id, c from ta;

-- case compare_padded_elements
create table ta (c char(3)[]);
insert into ta values ('{a}');
select c = '{a}'::char(3)[], c[1] = 'a', 'a  ' = any(c) from ta;

-- Multi-dimensional arrays are refused (0A000) everywhere for now (arrays_compat.sql), so with a
-- typmod too: never reshaped nor stored unchecked.
-- case multidim_cast
select '{{a},{b}}'::char(3)[];

-- case multidim_insert
create table ta (c char(3)[]);
insert into ta values ('{{a,b},{c,d}}');

-- case alter_column_type_scalar_too_long
create table ta (v varchar(5));
insert into ta values ('abc');
alter table ta alter column v type varchar(2);

-- case alter_column_type_scalar_fits
create table ta (v varchar(5), c char(5), n numeric(6,3));
insert into ta values ('ab  ', 'ab', 1.2345);
alter table ta alter column v type varchar(2), alter column c type char(2), alter column n type numeric(4,1);
select v, c, n, length(v) from ta;

-- case param_in_array_constructor
-- params: ["abc", "x"]
create table ta (v varchar(2)[]);
insert into ta values (array[$1, $2]);

-- case param_in_array_constructor_fits
-- params: ["ab", null]
create table ta (c char(3)[]);
insert into ta values (array[$1, $2]) returning c;
