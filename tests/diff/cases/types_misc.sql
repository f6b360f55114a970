-- uuid, json/jsonb, arrays, serial/identity, sequences, enums.

-- case uuid_literal
select 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid, '{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}'::uuid, pg_typeof('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid);

-- case uuid_bad
select 'not-a-uuid'::uuid;

-- case uuid_gen
select length(gen_random_uuid()::text), pg_typeof(gen_random_uuid()), gen_random_uuid() <> gen_random_uuid(), substr(gen_random_uuid()::text, 15, 1);

-- case uuid_column
create table tu (id uuid primary key default gen_random_uuid(), n int);
insert into tu (n) values (1), (2);
insert into tu values ('00000000-0000-0000-0000-000000000001', 3);
select count(distinct id), count(*), max(n) from tu;

-- case uuid_order_compare
create table tu (id uuid);
insert into tu values ('ffffffff-0000-0000-0000-000000000000'), ('00000000-0000-0000-0000-00000000000a'), ('0000000a-0000-0000-0000-000000000000');
select id from tu where id > '00000000-0000-0000-0000-000000000000' order by id;

-- case json_literal
select '{"b": 1, "a": [1, 2, {"c": null}]}'::json, '{"b": 1, "a": [1, 2, {"c": null}]}'::jsonb;

-- case jsonb_normalisation
select '{"bb": 1, "a": 2, "a": 3, "c": {"z": 1, "y": 2}}'::jsonb, '[1,  2 , "x"]'::jsonb, '1.50'::jsonb, '"s"'::jsonb;

-- case json_bad
select '{"a": }'::json;

-- case jsonb_bad
select '{a: 1}'::jsonb;

-- case jsonb_arrow
select '{"a": {"b": [10, 20]}}'::jsonb -> 'a', '{"a": {"b": [10, 20]}}'::jsonb -> 'a' -> 'b' -> 1, '{"a": "x"}'::jsonb ->> 'a', '[1, 2, 3]'::jsonb -> 0, '[1, 2, 3]'::jsonb ->> -1;

-- case json_arrow_types
select pg_typeof('{"a": 1}'::jsonb -> 'a'), pg_typeof('{"a": 1}'::jsonb ->> 'a'), pg_typeof('{"a": 1}'::json -> 'a');

-- case jsonb_path_ops
select '{"a": {"b": [10, 20]}}'::jsonb #> '{a,b,1}', '{"a": {"b": [10, 20]}}'::jsonb #>> '{a,b}', '{"a": {"b": "x"}}'::jsonb #>> '{a,b}';

-- case jsonb_missing_key
select '{"a": 1}'::jsonb -> 'zz', '{"a": 1}'::jsonb ->> 'zz', '[1]'::jsonb -> 5;

-- case jsonb_contains
select '{"a": 1, "b": 2}'::jsonb @> '{"a": 1}', '{"a": 1}'::jsonb @> '{"a": 2}', '[1, 2, 3]'::jsonb @> '[3, 1]', '{"a": 1}'::jsonb <@ '{"a": 1, "b": 2}';

-- case jsonb_exists
select '{"a": 1, "b": 2}'::jsonb ? 'a', '{"a": 1}'::jsonb ? 'z', '["x", "y"]'::jsonb ? 'x', '{"a": 1, "b": 2}'::jsonb ?| array['z', 'b'], '{"a": 1, "b": 2}'::jsonb ?& array['a', 'b'];

-- case jsonb_build_object
select jsonb_build_object('a', 1, 'b', 'x', 'c', null, 'd', true, 'e', 1.50), json_build_object('k', 2);

-- case jsonb_build_array
select jsonb_build_array(1, 'a', null, false), json_build_array();

-- case jsonb_typeof
select jsonb_typeof('{}'), jsonb_typeof('[]'), jsonb_typeof('1'), jsonb_typeof('"s"'), jsonb_typeof('null'), jsonb_typeof('true'), json_typeof('1.5');

-- case jsonb_set
select jsonb_set('{"a": 1, "b": {"c": 2}}', '{b,c}', '5'), jsonb_set('{"a": 1}', '{z}', '"new"'), jsonb_set('[1, 2]', '{0}', '9');

-- case json_agg
create table tj (n int, s text);
insert into tj values (1, 'a'), (2, 'b'), (3, null);
select json_agg(n order by n), jsonb_agg(s order by n) from tj;

-- case json_object_agg
create table tj (k text, v int);
insert into tj values ('a', 1), ('b', 2);
select jsonb_object_agg(k, v) from tj;

-- case jsonb_column
create table tj (id int, doc jsonb);
insert into tj values (1, '{"name": "ann", "tags": ["x", "y"], "age": 30}'), (2, '{"name": "bob", "age": 25}');
select id, doc ->> 'name', doc -> 'tags', (doc ->> 'age')::int + 1 from tj where doc @> '{"name": "ann"}' or doc ? 'tags' order by id;

-- case jsonb_column_filter
create table tj (id int, doc jsonb);
insert into tj values (1, '{"a": 1}'), (2, '{"a": 2}'), (3, '{"b": 1}');
select id from tj where (doc ->> 'a')::int > 1 or doc ? 'b' order by id;

-- case jsonb_each_keys
select key, value from jsonb_each('{"a": 1, "b": [2]}') order by key;

-- case jsonb_object_keys
select jsonb_object_keys('{"b": 1, "a": 2}');

-- case jsonb_array_elements
select value from jsonb_array_elements('[1, "two", {"three": 3}]');

-- case jsonb_array_elements_text
select jsonb_array_elements_text('["a", "b", 3]');

-- case jsonb_array_length
select jsonb_array_length('[1, 2, 3]'), json_array_length('[]');

-- case to_jsonb
select to_jsonb(1), to_jsonb('x'::text), to_json(array[1, 2]), to_jsonb(true), row_to_json(row(1, 'a'));

-- case jsonb_concat_delete
select '{"a": 1}'::jsonb || '{"b": 2}'::jsonb, '{"a": 1, "b": 2}'::jsonb - 'a', '[1, 2, 3]'::jsonb - 0;

-- case jsonb_strip_nulls_pretty
select jsonb_strip_nulls('{"a": null, "b": 1}'), jsonb_pretty('{"a": 1}');

-- case json_text_cast
select '{"a": 1}'::jsonb::text, '{"a":1}'::json::text, '5'::jsonb::text::int;

-- case jsonb_equality
select '{"a": 1, "b": 2}'::jsonb = '{"b": 2, "a": 1}'::jsonb, '[1, 2]'::jsonb = '[2, 1]'::jsonb;

-- case jsonb_numeric_cast
select ('{"a": 1.5}'::jsonb -> 'a')::numeric, ('{"a": 2}'::jsonb -> 'a')::int, ('{"a": true}'::jsonb -> 'a')::bool;

-- case jsonb_unicode
select '{"k": "h\u00e9llo"}'::jsonb, '{"k": "h\u00e9llo"}'::json ->> 'k';

-- case array_literal
select '{1,2,3}'::int[], array[1, 2, 3], array['a', 'b c', null, '"q"'], '{}'::text[], array[1.5, 2];

-- case array_types
select pg_typeof(array[1, 2]), pg_typeof(array['a']), pg_typeof(array[1::bigint]), pg_typeof('{}'::int[]), pg_typeof(array[true]);

-- case array_subscript
select (array[10, 20, 30])[1], (array[10, 20, 30])[3], (array[10, 20, 30])[4], ('{a,b}'::text[])[0];

-- case array_slice
select (array[1, 2, 3, 4])[2:3], (array[1, 2, 3, 4])[:2], (array[1, 2, 3, 4])[3:];

-- case array_length_fns
select array_length(array[1, 2, 3], 1), array_length('{}'::int[], 1), cardinality(array[1, 2]), array_upper(array[5, 6], 1), array_lower(array[5, 6], 1), array_ndims(array[1]);

-- case array_any_all
select 2 = any(array[1, 2, 3]), 5 = any(array[1, 2]), 3 > all(array[1, 2]), 1 = all(array[1, 1]), 1 = any('{}'::int[]), null = any(array[1]), 1 = any(array[null, 1]);

-- case array_any_param
-- params: [[1, 3]]
select x from (values (1), (2), (3)) v(x) where x = any($1) order by x;

-- case array_unnest
select unnest(array[3, 1, 2]);

-- case array_unnest_from
select x, x * 2 from unnest(array[1, 2, 3]) as t(x) order by x desc;

-- case array_unnest_ordinality
select * from unnest(array['a', 'b']) with ordinality as t(v, n);

-- case array_agg_basic
create table ta (g int, v text);
insert into ta values (1, 'x'), (1, 'y'), (2, 'z'), (2, null);
select g, array_agg(v order by v) from ta group by g order by g;

-- case array_agg_int
create table ta (v int);
insert into ta values (3), (1), (2);
select array_agg(v order by v desc), pg_typeof(array_agg(v)) from ta;

-- case array_column
create table ta (id int, tags text[], nums integer[], big bigint[]);
insert into ta values (1, '{a,b}', '{1,2,3}', array[9223372036854775807]), (2, array['c'], '{}', null);
select * from ta order by id;

-- case array_column_ops
create table ta (id int, nums int[]);
insert into ta values (1, '{1,2,3}'), (2, '{4,5}'), (3, '{}');
select id, nums[1], array_length(nums, 1), 2 = any(nums) from ta order by id;

-- case array_concat
select array[1, 2] || array[3], array[1] || 2, 0 || array[1], array_append(array[1], 2), array_prepend(0, array[1]), array_cat(array[1], array[2]);

-- case array_position_remove
select array_position(array['a', 'b', 'c'], 'b'), array_remove(array[1, 2, 1], 1), array_replace(array[1, 2, 1], 1, 9);

-- case array_contains
select array[1, 2, 3] @> array[2], array[1] <@ array[1, 2], array[1, 2] && array[2, 3], array[1, 2] = array[1, 2];

-- case array_to_string
select array_to_string(array[1, 2, null, 3], ','), array_to_string(array['a', null], ',', '*'), string_to_array('a,b,c', ',');

-- case array_text_quoting
select array['', 'a b', 'NULL', 'x,y', 'q"', 'b\s'];

-- case array_bad_literal
select '{1,2'::int[];

-- case array_bad_element
select '{1,x}'::int[];

-- case array_text_cast
select array[1, 2]::text, '{3,4}'::int[]::text[], array['1', '2']::int[];

-- case array_in_subquery
select array(select x from generate_series(1, 3) x order by x desc);

-- case serial_column
create table ts (id serial, v text);
insert into ts (v) values ('a'), ('b');
insert into ts (v) values ('c') returning id;

-- case bigserial_column
create table ts (id bigserial primary key, v text);
insert into ts (v) values ('a'), ('b');
select id, pg_typeof(id) from ts order by id;

-- case smallserial_column
create table ts (id smallserial, v text);
insert into ts (v) values ('a');
select id, pg_typeof(id) from ts;

-- case identity_by_default
create table ts (id int generated by default as identity, v text);
insert into ts (v) values ('a');
insert into ts values (10, 'b');
insert into ts (v) values ('c');
select * from ts order by v;

-- case identity_always_rejects
create table ts (id int generated always as identity, v text);
insert into ts values (10, 'b');

-- case identity_always_override
create table ts (id int generated always as identity, v text);
insert into ts overriding system value values (10, 'b');
insert into ts (v) values ('c');
select * from ts order by v;

-- case identity_start_increment
create table ts (id bigint generated by default as identity (start with 100 increment by 10), v text);
insert into ts (v) values ('a'), ('b');
select * from ts order by id;

-- case serial_sequence_name
create table ts (id serial, v text);
select pg_get_serial_sequence('ts', 'id'), nextval('ts_id_seq'), currval('ts_id_seq');

-- case sequence_basic
create sequence sq;
select nextval('sq'), nextval('sq'), currval('sq');

-- case sequence_options
create sequence sq start with 10 increment by 5;
select nextval('sq'), nextval('sq');

-- case sequence_setval
create sequence sq;
select setval('sq', 42), nextval('sq'), setval('sq', 7, false), nextval('sq');

-- case sequence_currval_before_nextval
create sequence sq;
select currval('sq');

-- case sequence_missing
select nextval('no_such_seq');

-- case sequence_maxvalue
create sequence sq maxvalue 2;
select nextval('sq'), nextval('sq'), nextval('sq');

-- case sequence_cycle
create sequence sq maxvalue 2 cycle;
select nextval('sq'), nextval('sq'), nextval('sq');

-- case sequence_descending
create sequence sq increment by -1;
select nextval('sq'), nextval('sq');

-- case sequence_alter_restart
create sequence sq;
select nextval('sq');
alter sequence sq restart with 100;
select nextval('sq');

-- case sequence_alter_increment
create sequence sq;
select nextval('sq');
alter sequence sq increment by 10;
select nextval('sq');

-- case sequence_drop
create sequence sq;
drop sequence sq;
select nextval('sq');

-- case sequence_drop_if_exists
drop sequence if exists sq_never;

-- case sequence_as_default
create sequence sq start 5;
create table ts (id int default nextval('sq'), v text);
insert into ts (v) values ('a'), ('b');
select * from ts order by id;

-- case sequence_lastval
create sequence sq;
select nextval('sq');
select lastval();

-- case sequence_bigint
create sequence sq as bigint start with 9223372036854775806;
select nextval('sq'), nextval('sq');

-- case sequence_bigint_exhausted
create sequence sq as bigint start with 9223372036854775807;
select nextval('sq'), nextval('sq');

-- case sequence_create_exists
create sequence sq;
create sequence sq;

-- case sequence_if_not_exists
create sequence sq;
create sequence if not exists sq;

-- case enum_basic
create type mood as enum ('sad', 'ok', 'happy');
create table te (m mood);
insert into te values ('happy'), ('sad'), ('ok');
select m from te order by m;

-- case enum_compare
create type mood as enum ('sad', 'ok', 'happy');
create table te (m mood);
insert into te values ('happy'), ('sad'), ('ok');
select m from te where m > 'sad' order by m desc;

-- case enum_bad_value
create type mood as enum ('sad', 'ok', 'happy');
create table te (m mood);
insert into te values ('angry');

-- case enum_cast
create type mood as enum ('sad', 'ok', 'happy');
select 'ok'::mood, 'ok'::mood::text, pg_typeof('ok'::mood)::text;

-- case enum_functions
create type mood as enum ('sad', 'ok', 'happy');
select enum_range(null::mood), enum_first(null::mood), enum_last(null::mood);

-- case enum_min_max
create type mood as enum ('sad', 'ok', 'happy');
create table te (m mood);
insert into te values ('ok'), ('sad'), ('happy');
select min(m), max(m) from te;

-- case enum_alter_add_value
create type mood as enum ('sad', 'happy');
alter type mood add value 'ok' after 'sad';
select enum_range(null::mood);

-- case enum_drop_type
create type mood as enum ('sad', 'happy');
drop type mood;
select 'sad'::mood;

-- case enum_text_compare
create type mood as enum ('sad', 'happy');
create table te (m mood);
insert into te values ('happy');
select m = 'happy', m::text || '!' from te;

-- case array_remove_replace_prepend
select array_remove(array[1, 2, 1], 1), array_replace(array[1, 2, 1], 1, 9), array_prepend(0, array[1]), array_remove(array['a', 'b'], 'c'), array_remove(array[1, null], null);

-- case array_remove_column
create table ta (a int[]);
insert into ta values ('{1,2,3,2}'), (null);
select array_remove(a, 2), array_prepend(9, a) from ta;

-- case array_ndims_upper_lower
select array_ndims(array[1, 2]), array_ndims('{}'::int[]), array_upper(array[5, 6, 7], 1), array_lower(array['a'], 1), array_upper('{}'::int[], 1);

-- case jsonb_pretty_forms
select jsonb_pretty('{"a": 1, "b": [1, 2.50, {"c": null}], "d": {}}'), jsonb_pretty('[]'), jsonb_pretty('"x"');

-- case json_object_agg_forms
create table tj (k text, v int, s text);
insert into tj values ('a', 1, 'x'), ('b', null, 'y'), ('c', 3, null);
select jsonb_object_agg(k, v), jsonb_object_agg(k, s), json_object_agg(k, v), json_object_agg(k, s) from tj;

-- case json_object_agg_empty
create table tj (k text, v int);
select jsonb_object_agg(k, v), json_object_agg(k, v) from tj;

-- case uuid_input_forms
select '{a0eebc99-9c0b4ef8-bb6d6bb9-bd380a11}'::uuid, 'a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11'::uuid, 'A0EEBC999C0B4EF8BB6D6BB9BD380A11'::uuid;

-- case uuid_bad_double_hyphen message
select 'a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11'::uuid;

-- case uuid_bad_unbalanced_brace message
select '{a0eebc999c0b4ef8bb6d6bb9bd380a11'::uuid;

-- case json_build_layout
select json_build_object('k', 2, 'b', true, 'n', null, 's', 'x', 'd', 1.50), json_build_array(1, 'a', null, false), json_build_object(), json_build_array(), json_build_object(1, 2);

-- case json_build_object_odd
select json_build_object('a');

-- case identity_always_subquery
create table ts (id int generated always as identity, v text);
insert into ts (id, v) select 5, 'x';

-- case identity_always_update
create table ts (id int generated always as identity, v text);
insert into ts (v) values ('a');
update ts set id = 5;

-- case identity_always_update_default
create table ts (id int generated always as identity, v text);
insert into ts (v) values ('a');
update ts set id = default;
select * from ts;

-- case identity_overriding_user
create table ts (id int generated always as identity, v text);
insert into ts (v) values ('a');
insert into ts overriding user value values (77, 'u');
insert into ts (id, v) overriding user value select 88, 'w';
select * from ts order by id;

-- case identity_by_default_accepts_values
create table ts (id int generated by default as identity, v text);
insert into ts values (10, 'b');
insert into ts (v) values ('c');
select * from ts order by id;

-- case identity_descending
create table ts (id int generated always as identity (start with -5 increment by -1 minvalue -100 maxvalue 10), v text);
insert into ts (v) values ('a'), ('b');
select * from ts order by id;

-- case update_set_default
create table ts (id int, v text default 'dflt', n int);
insert into ts values (1, 'x', 5);
update ts set v = default, n = default;
select * from ts;

-- case json_agg_layout
create table tj2 (id int, doc jsonb, t text);
insert into tj2 values (1, '{"b": 1, "a": [1, 2]}', 'x'), (2, null, null), (3, '"s"', 'q"r');
select json_agg(doc order by id), jsonb_agg(doc order by id), json_agg(t order by id), jsonb_agg(t order by id) from tj2;

-- case json_agg_empty
create table tj3 (a int);
select json_agg(a), jsonb_agg(a), json_agg(a) is null from tj3;

-- case pg_typeof_char_types
select pg_typeof('a'::char), pg_typeof('ab'::char(2)), pg_typeof('a'::varchar), pg_typeof('a'::"char"), pg_typeof('a'::name);

-- case jsonb_srfs_in_from
select * from jsonb_array_elements('[1, "a", {"k": [true, null]}, null]');

-- case jsonb_srfs_text_in_from
select value, pg_typeof(value) from jsonb_array_elements_text('[1, "a", {"k": null}, null]') order by 1;

-- case jsonb_object_keys_from
select k from jsonb_object_keys('{"bb": 1, "a": 2, "ccc": {"x": 1}}') as k;

-- case jsonb_srf_select_list_lateral
create table tjs (id int, doc jsonb);
insert into tjs values (1, '{"tags": ["x", "y"]}'), (2, '{"tags": []}'), (3, '{"tags": ["z"]}');
select id, jsonb_array_elements_text(doc -> 'tags') as tag from tjs order by id, tag;

-- case jsonb_srf_lateral_join
create table tjs (id int, doc jsonb);
insert into tjs values (1, '{"a": 1, "b": 2}'), (2, '{"c": 3}');
select t.id, k from tjs t, lateral jsonb_object_keys(t.doc) k order by 1, 2;

-- case jsonb_array_elements_of_object
select jsonb_array_elements('{"a": 1}');

-- case jsonb_object_keys_of_array
select jsonb_object_keys('[1, 2]');

-- case json_array_elements_text_basic
select json_array_elements_text('["p", "q"]'), json_object_keys('{"m": 1}');

-- case json_operator_inside_function_call
create table tjs (id int, doc jsonb);
insert into tjs values (1, '{"a": {"b": "x"}, "n": 5}');
select jsonb_typeof(doc -> 'a'), upper(doc -> 'a' ->> 'b'), length(doc ->> 'n'), coalesce(doc -> 'zz', doc -> 'n') from tjs;

-- case array_element_casts
select array[1.5, 2.5]::int[], array['t', 'false']::bool[], '{1,NULL,3}'::int[]::bigint[];

-- case array_element_casts_multidimensional
select array[[1, 2], [3, 4]]::text[];

-- case array_element_cast_error
select array['1', 'x']::int[];

-- case row_constructor_output
select row(1, 'a b', null, true, 2.50), row('x"y', '', 'p,q');

-- case row_to_json_whole_row
create table rj (id int, name text, ok boolean, n numeric(5,2));
insert into rj values (1, 'ann', true, 1.50), (2, null, false, null);
select row_to_json(rj) from rj order by id;

-- case row_to_json_alias
create table rj (id int, name text);
insert into rj values (1, 'ann');
select row_to_json(t), to_jsonb(t), to_json(t) from rj t;

-- case to_jsonb_values
select to_jsonb(array[1, 2]), to_jsonb('{"b": 1, "a": 2}'::json), to_jsonb(1.50), to_jsonb(null::text), to_json('x'::text);

-- case array_slice_edges
create table tas (a int[], t text[]);
insert into tas values ('{10,20,30,40}', '{a,b,c}'), ('{}', null), (null, '{x}');
select a[2:3], a[0:1], a[3:10], a[5:9], a[3:2], t[2:], t[:1], a[null:2], array_length(a[2:3], 1) from tas order by a nulls last;
