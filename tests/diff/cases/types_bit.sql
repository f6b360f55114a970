-- bit(n) / bit varying(n): B'' and X'' literals, input and output, typmods (22026 / 22001 on assignment, truncation on explicit casts), operators & | # ~ << >> ||, get_bit/set_bit/bit_count, the length family, casts to and from integers and text, ordering and grouping.

-- case bit_literals
select B'101', X'1F', pg_typeof(B'101'), B'101'::bit(2), B'1'::bit(3), '101'::varbit, B'101' || B'11', pg_typeof(B'101' || B'11');

-- case bit_operators
select B'1010' & B'1100', ~B'1010', B'1010' << 1, B'1010' >> 2, B'1010' # B'0110', B'1010' | B'0001', pg_typeof(~B'1010');

-- case bit_input_casts
select '101'::bit(2), '101'::varbit(2), 'X1F'::bit(8), 'B101'::varbit, '101'::bit;

-- case bit_int_casts
select B'101'::varbit(2), 5::bit(4), B'0101'::int4, 300::bit(8), (-1)::bit(40), 5::int8::bit(3), B'11111111111111111111111111111111'::int4;

-- case bit_functions
select get_bit(B'0101', 1), set_bit(B'0101', 0, 1), length(B'0101'), octet_length(B'010101010'), bit_length(B'0101'), bit_count(B'0111');

-- case bit_and_different_sizes
select B'10' & B'101';

-- case bit_bad_digit
select '102'::bit(3);

-- case bit_to_int4_overflow
select B'1'::bit(33)::int4;

-- case bit_get_bit_range
select get_bit(B'0101', 4);

-- case bit_comparisons
select B'101'::text, B'101' = B'101', B'101' < B'11', B'101'::varbit = B'101', B'0' < B'00';

-- case bit_columns
create table t (a bit(3), b varbit(4));
insert into t values (B'101', B'1'), ('010', '0110'), (B'111', B'');
select a, b, a & B'110', b || a, length(b) from t order by a;

-- case bit_insert_wrong_length
create table t (a bit(3));
insert into t values (B'10');

-- case bit_insert_literal_wrong_length
create table t (a bit(3));
insert into t values ('1010');

-- case varbit_insert_too_long
create table t (b varbit(2));
insert into t values (B'101');

-- case varbit_insert_literal_too_long
create table t (b varbit(2));
insert into t values ('101');

-- case bit_group_by
create table t (a bit(4));
insert into t values (B'0001'), (B'1000'), (B'0100'), (B'0001');
select a, count(*) from t group by a order by a desc;

-- case varbit_distinct_order
create table t (a varbit);
insert into t values (B'1'), (B'10'), (B'01'), (B''), (B'1');
select distinct a from t order by a;

-- case bit_primary_key
create table t (a bit(4) primary key);
insert into t values (B'0001'), (B'0001');

-- case bit_no_text_functions
select upper(B'101');

-- case bit_hex_concat_unknown
select x'ff'::bit(4), X'F0F0' >> 4, B'1' || '01', '01' || B'1';

-- case bit_edge_shifts
select ~B'', B'101' # B'101', B'1100' << 5, B'1100' >> -1;

-- case bit_no_max
select max(a), min(a), array_agg(a order by a) from (values (B'01'), (B'10')) v(a);

-- case bit_set_bit_bad_value
select set_bit(B'0101', 1, 2);

-- case bit_varbit_casts
select B'0101'::bit(4)::varbit(8), B'0101'::varbit::bit(6), 5::bit(3)::text;

-- case bit_typed_literal_keeps_length
select bit '101', bit 'X1F', '101'::bit, bit '101' || B'1', pg_typeof(bit '1');

-- case bit_substring_overlay_types
select substring(B'010110' from 2 for 3), overlay(B'0000' placing B'11' from 2), substring('abc' from 2), overlay('abcd' placing 'x' from 2);

-- case bit_position
select position(B'11' in B'0110');
