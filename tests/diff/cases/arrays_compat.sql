-- Arrays: elements with control and non-ASCII characters, bytea[] and json[] elements,
-- multidimensional arrays (refused with 0A000, never reshaped into text[]). Issue 10.

-- case text_array_control_chars
select array[chr(28) || 'a', chr(133), chr(160), ' x ', '', null, 'NULL', 'a,b', 'q"q', 'b\s']::text[];

-- case text_array_literal_nonascii_blanks
select ('{' || chr(160) || 'a' || chr(133) || ',' || chr(28) || ', b ,"c "}')::text[];

-- case text_array_unnest_control_chars
select u, length(u) from unnest(('{' || chr(160) || 'a' || chr(133) || ',' || chr(28) || '}')::text[]) u;

-- case bytea_array
select array['\x00ff'::bytea, '', null], '{"\\x00ff",NULL}'::bytea[];

-- case bytea_array_to_text
select array['\x01'::bytea]::text[], '{"\\x6869"}'::text[]::bytea[];

-- case jsonb_array_to_text
select array['true'::jsonb, '{"b":1.50, "a":[1,null]}'::jsonb, '"s"'::jsonb]::text[];

-- case jsonb_array_out
select array['true'::jsonb, '{"a":1}'::jsonb], '{"{\"b\":2,\"a\":1}","\"s\""}'::jsonb[];

-- case empty_arrays
select '{}'::int[], array[]::text[], cardinality('{}'::int[]);

-- case multidim_unnest
select unnest(array[array[14, 41, 7], array[54, 9, 49]]);

-- case multidim_cardinality
select cardinality(array[[1, 2], [3, 4]]);

-- case multidim_pg_typeof
select pg_typeof(array[array['a']]);

-- case multidim_array_subquery
select array(select array[1]);

-- case multidim_array_agg
select array_agg(x) from (values (array[1]), (array[2])) v(x);

-- case multidim_literal
select '{{1,2},{3,4}}'::int[];

-- case minus_nan
select -'NaN'::float8, -'NaN'::numeric, -'Infinity'::float8, -'-Infinity'::float4, -'Infinity'::numeric, -'2.50'::numeric;

-- case minus_float_column
select -x from (values ('NaN'::float8), ('-0'::float8), ('1e308'::float8)) v(x);

-- case array_to_string_typed_elements
select array_to_string(array['{"a":1}'::jsonb, 'true'], ','), array_to_string(array[true, false], ','), array_to_string(array['\x01'::bytea, null], ',', '*');

-- case unnest_jsonb_elements
select unnest(array['{"a":1}'::jsonb, 'true', '"s"', '1.50', null]);

-- case unnest_bytea_elements_from
select u, length(u) from unnest(array['\x01ff'::bytea, null, '']) u;

-- case unnest_jsonb_with_ordinality
select * from unnest(array['{"a":1}'::jsonb, '[2]']) with ordinality;

-- case array_agg_jsonb_bytea
select array_agg(x), array_agg(y) from (values ('{"a":1}'::jsonb, '\x01'::bytea), ('[1]', '\x')) v(x, y);

-- case array_subquery_jsonb
select array(select '{"a":1}'::jsonb);

-- case subscript_jsonb_bytea
select (array['{"a":1}'::jsonb, 'true'])[2], (array['{"a":1}'::jsonb])[1], (array['\x01ff'::bytea])[1];

-- case array_append_bytea
select array_append(array['\x01'::bytea], '\x02'::bytea), array_prepend('\x02'::bytea, array['\x01'::bytea]);

-- case unnest_bytea_star
select * from unnest(array['\x01'::bytea, null]);
