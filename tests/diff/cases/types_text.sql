-- text / varchar(n) / char(n) / boolean / bytea.

-- case text_basic
select 'abc', 'it''s', E'a\tb', length('héllo'), octet_length('héllo'), pg_typeof('x'::text);

-- case varchar_too_long
create table tt (v varchar(3));
insert into tt values ('abcd');

-- case varchar_trailing_spaces_ok
create table tt (v varchar(3));
insert into tt values ('ab   ');
select v, length(v) from tt;

-- case varchar_cast_truncates
select 'abcdef'::varchar(3), 'abcdef'::char(2);

-- case char_padding
create table tt (c char(5));
insert into tt values ('ab');
select c, length(c), octet_length(c), c || '|', c = 'ab', c = 'ab   ' from tt;

-- case char_too_long
create table tt (c char(2));
insert into tt values ('abc');

-- case char_default_length_1
create table tt (c char);
insert into tt values ('a');
select c, pg_typeof(c) from tt;

-- case char_types
create table tt (a varchar(10), b char(3), c text, d character varying, e character(2));
insert into tt values ('x', 'y', 'z', 'w', 'v');
select * from tt;

-- case text_concat
select 'a' || 'b', 'a' || 1, 1 || 'a', 'a' || null, 'x' || true;

-- case text_concat_fn
select concat('a', 1, null, 2.5), concat_ws(',', 'a', null, 'b');

-- case text_upper_lower
select upper('abc'), lower('ABC'), initcap('hello world');

-- case text_substr
select substr('hello', 2), substr('hello', 2, 3), substring('hello' from 2 for 2), substring('hello', 0, 3), left('hello', 2), right('hello', 3), left('hello', -1);

-- case text_position
select position('l' in 'hello'), strpos('hello', 'lo'), position('z' in 'hello');

-- case text_trim
select trim('  x  '), ltrim('  x  '), rtrim('  x  '), trim(both 'x' from 'xxaxx'), btrim('xyax', 'xy'), trim(leading from '  a'), trim(trailing 'b' from 'abb');

-- case text_replace_repeat
select replace('hello', 'l', 'L'), repeat('ab', 3), reverse('abc'), translate('hello', 'el', 'ip');

-- case text_pad
select lpad('5', 3, '0'), rpad('ab', 5, '*'), lpad('hello', 3), rpad('x', 3);

-- case text_split_part
select split_part('a,b,c', ',', 2), split_part('a,b,c', ',', 5);

-- case text_like
select 'hello' like 'h%', 'hello' like 'H%', 'hello' ilike 'H%', 'hello' not like '%z%', 'h_llo' like 'h\_llo', 'a%' like 'a\%';

-- case text_like_column
create table tt (s text);
insert into tt values ('apple'), ('Apple'), ('banana'), (null);
select s from tt where s like 'a%' or s ilike 'B%' order by s;

-- case text_regex
select 'abc' ~ 'b', 'abc' ~* 'B', 'abc' !~ 'z', 'abc' !~* 'A';

-- case text_regexp_replace
select regexp_replace('hello world', 'o', '0'), regexp_replace('hello world', 'o', '0', 'g');

-- case text_ordering_bytewise
create table tt (s text);
insert into tt values ('b'), ('B'), ('a'), ('A'), ('_'), ('1');
select s from tt order by s;

-- case text_compare
select 'a' < 'b', 'B' < 'a', 'abc' = 'abc', 'a' <> 'b';

-- case text_chr_ascii
select chr(65), ascii('A'), md5('abc');

-- case text_format
select format('%s-%s', 'a', 2), format('%I', 'Col'), format('%L', 'it''s');

-- case text_quote
select quote_ident('a b'), quote_literal('x''y'), quote_nullable(null);

-- case text_starts_with
select starts_with('hello', 'he'), 'hello' ^@ 'x';

-- case text_to_int_cast
select '42'::text::int + 1;

-- case bool_literals
select true, false, 't'::boolean, 'yes'::bool, 'off'::bool, '1'::bool, 'f'::bool;

-- case bool_bad_input
select 'maybe'::boolean;

-- case bool_ops
select true and null, false and null, true or null, not true, null::bool is null, true is true, null is not true, false is distinct from null;

-- case bool_column
create table tb (b boolean);
insert into tb values (true), (false), (null);
select b, b::text, b::int from tb order by 1 nulls first;

-- case bool_aggregates
create table tb (b boolean);
insert into tb values (true), (false), (true);
select bool_and(b), bool_or(b), every(b), count(*) filter (where b) from tb;

-- case bool_int_cast
select 1::bool, 0::bool, true::int, false::int;

-- case bool_order
create table tb (b boolean);
insert into tb values (true), (false), (null);
select b from tb order by b desc;

-- case bytea_hex
select '\x414243'::bytea, 'abc'::bytea, '\x'::bytea;

-- case bytea_column
create table tby (b bytea);
insert into tby values ('\xdeadbeef'), ('hello'), (null);
select b, length(b), octet_length(b) from tby order by b;

-- case bytea_functions
select encode('abc'::bytea, 'hex'), encode('abc'::bytea, 'base64'), decode('616263', 'hex'), decode('YWJj', 'base64');

-- case bytea_concat
select '\x01'::bytea || '\x02'::bytea, md5('abc'::bytea);

-- case bytea_escape_input
select E'\\001\\002'::bytea, 'a\\b'::bytea;

-- case bytea_bad_hex
select '\xZZ'::bytea;

-- case text_length_null
select length(null::text), upper(null), coalesce(null::text, 'd');

-- case bytea_encode_decode
select encode('abc'::bytea, 'hex'), encode('abc'::bytea, 'base64'), decode('616263', 'hex'), decode('YWJj', 'base64');

-- case bytea_encode_escape
select encode('\x00415c'::bytea, 'escape'), decode('a\\b\001', 'escape'), encode(decode('ff00', 'hex'), 'hex');

-- case bytea_encode_long_base64
select encode(decode(repeat('ab', 60), 'hex'), 'base64');

-- case bytea_encode_bad_format
select encode('abc'::bytea, 'rot13');

-- case bytea_decode_bad_hex
select decode('zz', 'hex');

-- case text_format_only
select format('%s-%s', 'a', 2), format('%I', 'Col'), format('%L', 'it''s'), format('%I', 'abc'), format('%L', null), format('%s|', null);

-- case text_format_positions
select format('%2$s %1$s', 'a', 'b'), format('[%5s]', 'x'), format('[%-5s]', 'x'), format('100%%'), format('%s %s', true, 1.50);

-- case text_format_too_few
select format('%s %s', 'a');

-- case text_format_bad_specifier
select format('%d', 1);

-- case bytea_bad_hex_odd message
select '\x123'::bytea;

-- case bytea_bad_hex_digit message
select '\x12g4'::bytea;

-- case bytea_concat_forms
create table tby (b bytea);
insert into tby values ('\x0102'), (null);
select b || '\xff'::bytea, '\x00'::bytea || b, b || '\x03', pg_typeof(b || b) from tby;
