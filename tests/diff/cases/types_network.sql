-- inet / cidr: input and output (v4, v6, masks, cidr's classful defaults), casts, functions, containment and arithmetic operators, ordering, grouping and unique indexes (storage keys sort as network_cmp).

-- case net_input_output
select '10.1.2.3'::inet, '10.1.2.3/24'::inet, '::ffff:1.2.3.4'::inet, '2001:DB8::1/64'::inet, '0.0.0.0/0'::inet, '10/8'::cidr, '192.168'::cidr;

-- case net_cidr_bits_right_of_mask
select '10.1.2.3/8'::cidr;

-- case net_bad_mask
select '10.1.2.3/33'::inet;

-- case net_bad_input
select 'abc'::inet;

-- case net_casts
select '10.1.2.3'::inet::text, '10.0.0.0/8'::cidr::text, '10.1.2.3/8'::inet::cidr, '10.0.0.0/8'::cidr::inet, pg_typeof('1.2.3.4'::inet), pg_typeof('10/8'::cidr);

-- case net_functions
select host('10.1.2.3/8'::inet), masklen('10.1.2.3/8'::inet), network('10.1.2.3/8'::inet), broadcast('10.1.2.3/8'::inet), netmask('10.1.2.3/8'::inet), hostmask('10.1.2.3/8'::inet), family('::1'::inet), family('1.2.3.4'::inet);

-- case net_set_masklen
select set_masklen('10.1.2.3/8'::inet, 16), set_masklen('10.0.0.0/8'::cidr, 16), set_masklen('10.1.2.3'::inet, 33);

-- case net_containment
select '10.1.2.3'::inet << '10.0.0.0/8'::inet, '10.0.0.0/8'::inet << '10.0.0.0/8'::inet, '10.0.0.0/8'::cidr >> '10.1.0.0/16'::cidr, '10.0.0.0/8'::inet && '10.1.0.0/16'::inet, '10.0.0.0/8'::inet && '11.1.0.0/16'::inet;

-- case net_arithmetic
select '10.0.0.255'::inet + 1, 1 + '10.0.0.255'::inet, '10.0.1.0'::inet - 1, '10.0.1.0'::inet - '10.0.0.0'::inet, '255.255.255.255'::inet + 1;

-- case net_comparisons
select '10.0.0.1'::inet = '10.0.0.1/32'::inet, '10.0.0.1'::inet < '10.0.0.2'::inet, '10.0.0.0/8'::inet < '10.0.0.0/16'::inet, '::1'::inet > '255.1.1.1'::inet, '10.0.0.0/8'::cidr = '10.0.0.0/8'::inet;

-- case net_order_by_column
create table t (a inet);
insert into t values ('10.0.0.1'), ('::1'), ('10.0.0.0/8'), ('9.255.255.255'), ('10.0.0.1/24'), ('192.168.1.1'), (null);
select a, host(a), masklen(a) from t order by a;

-- case net_unique_index
create table t (a inet);
create unique index on t(a);
insert into t values ('10.0.0.1'), ('10.0.0.1/32');

-- case net_join_contained
create table t (a inet primary key, b cidr);
insert into t values ('10.0.0.1', '10.0.0.0/24'), ('10.0.1.1', '10.0.1.0/24');
select a, b from t where a << b order by a;

-- case net_group_by
create table t (a inet);
insert into t values ('10.0.0.1'), ('10.0.0.1/32'), ('10.0.0.2');
select a, count(*) from t group by a order by a;

-- case net_where_literal
create table t (a inet);
insert into t values ('10.0.0.1');
select * from t where a = '10.0.0.1';

-- case net_bitwise_abbrev_merge
select ~'10.0.0.1'::inet, '10.0.0.1'::inet & '255.0.0.255'::inet, '10.0.0.1'::inet | '0.0.0.255'::inet, abbrev('10.1.0.0/16'::cidr), abbrev('10.1.0.0/16'::inet), inet_same_family('1.2.3.4', '::1'), inet_merge('192.168.1.5/24', '192.168.2.5/24');

-- case net_ipv6_forms
select '2001:db8::1'::inet - '2001:db8::'::inet, '::1.2.3.4'::inet, '::'::inet, 'fe80::1:0:0:0:1'::inet, '1:0:0:2:0:0:0:3'::inet;

-- case net_arrays
select array['10.0.0.1'::inet, '::1'], '{10.0.0.1,::1/64}'::inet[], pg_typeof('{}'::cidr[]);

-- case net_min_max
select max(x), min(x) from (values ('10.0.0.1'::inet), ('9.0.0.1'::inet)) v(x);

-- case net_any_type_functions_print
select concat('10.0.0.1'::inet, '/', '10/8'::cidr), to_json('::1'::inet), format('%s', '1.2.3.4/24'::inet), coalesce(null, '1.2.3.4'::inet), greatest('1.2.3.4'::inet, '1.2.3.5'::inet), json_build_object('a', '10.1.2.3'::inet);

-- case net_no_text_functions
select upper('1.2.3.4'::inet);

-- case net_assignment_casts
create table t (a inet, b cidr, c text);
insert into t values ('10.0.0.1/8', '10.0.0.0/8', '10.0.0.1'::inet);
insert into t (b) select a from t;
select a, b, c from t order by b;

-- case net_contained_or_equal
select '10.0.0.0/8'::inet <<= '10.0.0.0/8'::inet, '10.1.0.0/16'::inet <<= '10.0.0.0/8'::inet, '10.0.0.0/8'::cidr >>= '10.0.0.0/8'::cidr, '10.0.0.0/8'::inet >>= '11.0.0.0/16'::inet, 1 <= 2, 3 >= 2;

-- case net_contained_or_equal_on_integers
select 1 <<= 2;

-- case net_column_contained_or_equal
create table t (a inet);
insert into t values ('10.0.0.1'), ('10.0.0.0/8'), ('11.0.0.1');
select a from t where a <<= '10.0.0.0/8' order by a;

-- case net_inet_cidr_column_comparisons
create table t (a inet, b cidr);
insert into t values ('1.2.3.4', '1.2.3.0/24');
select a = b, b = a, a < b, a::cidr, b::inet, a::text, b::text from t;

-- refused net_inet_client_addr
select inet_client_addr() is not null;

-- case net_in_between_any
create table t (a inet, r int4range, b bit(3));
insert into t values ('10.0.0.1', '[1,2)', B'101'), ('10.0.0.2', '[2,3)', B'011');
select a from t where a in ('10.0.0.1', '10.0.0.3') and r in ('[1,2)', '[5,6)') and b in (B'101', '111');

-- case net_between
create table t (a inet);
insert into t values ('10.0.0.1'), ('10.0.0.2');
select a from t where a between '10.0.0.0' and '10.0.0.1';

-- case net_case_coalesce_greatest
select case when true then '10.0.0.1'::inet else '::1' end, coalesce(null::int4range, '[1,2)'), greatest(B'01', B'10');

-- case net_any_array
create table t (a inet);
insert into t values ('10.0.0.1'), ('10.0.0.2');
select a from t where a = any(array['10.0.0.1'::inet, '10.0.0.3']) or a = any('{10.0.0.2}');

-- case net_view_of_new_types
create view v as select '10.0.0.1'::inet as a, int4range(1,3) as r, B'10'::bit(2) as b;
select * from v;

-- case net_range_arrays
select array['10.0.0.1'::inet, '::1'], array[int4range(1,2), 'empty'], array_agg(x) from (values ('10.0.0.0/8'::cidr)) v(x);

-- case net_range_unnest
select unnest(array['10.0.0.1'::inet, '::1']), unnest(array[int4range(1,2)]);

-- case net_json_build_object
select json_build_object('a', '10.0.0.1'::inet);

-- refused net_to_jsonb_of_inet_array
select to_jsonb(array['10.0.0.1'::inet]);

-- case net_range_array_columns
create table t (a inet[], r int4range[]);
insert into t values ('{10.0.0.1,::1}', '{"[1,2)",empty}');
select a, r, a[1], r[2] from t;
