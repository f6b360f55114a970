-- Multidimensional arrays (stored as nested JSON arrays): literals, ARRAY[[...]], output, subscripts, dimension functions, unnest, comparison, table columns.

-- case md_literal_output
select '{{1,2},{3,4}}'::int[], '{{a,"b c"},{"{x}",NULL}}'::text[], '{{{1}},{{2}}}'::int[], '[1:2][1:1]={{1},{2}}'::int[];

-- case md_array_constructor
select ARRAY[[1,2],[3,4]], array[array['a','b'],array['c',null]], ARRAY['{1,2}'::int[], '{3,4}'::int[]], pg_typeof(ARRAY[[1,2],[3,4]]);

-- case md_array_constructor_numeric
select ARRAY[[1.5,2],[3,4]], ARRAY[[1,2],[3.5,4]];

-- case md_literal_ragged
select '{{1,2},{3}}'::int[];

-- case md_literal_mixed
select '{{1,2},3}'::int[];

-- case md_literal_empty_subarrays
select '{{},{}}'::int[];

-- case md_literal_unclosed
select '{{1,2}'::int[];

-- case md_constructor_mismatch
select array[[1,2],[3]];

-- case md_subscripts
select (ARRAY[[1,2],[3,4]])[2][1], ('{{1,2},{3,4}}'::int[])[1][2], ('{{1,2},{3,4}}'::int[])[3][1], ('{{1,2},{3,4}}'::int[])[0][1], ('{1,2}'::int[])[1][1];

-- case md_subscripts_expressions
select ('{{1,2},{3,4}}'::int[])[g][3 - g] from generate_series(1, 2) g order by g;

-- case md_dims
select array_dims('{{1,2},{3,4}}'::int[]), array_ndims('{{1,2},{3,4}}'::int[]), array_dims('{}'::int[]), array_dims('{1,2}'::int[]), array_dims('{{{1,2}},{{3,4}}}'::int[]);

-- case md_lengths
select array_length('{{1,2,3},{3,4,5}}'::int[], 2), array_length('{{1,2,3},{3,4,5}}'::int[], 1), array_length('{{1,2,3},{3,4,5}}'::int[], 3), cardinality('{{1,2,3},{3,4,5}}'::int[]);

-- case md_upper_lower
select array_upper('{{1,2,3},{3,4,5}}'::int[], 2), array_lower('{{1,2,3},{3,4,5}}'::int[], 2), array_upper('{1,2}'::int[], 2), array_upper('{{1,2,3},{3,4,5}}'::int[], 1);

-- case md_comparisons
select '{{1,2},{3,4}}'::int[] = ARRAY[[1,2],[3,4]], '{{1,2},{3,4}}'::int[] <> ARRAY[[1,2],[3,5]], '{{1,2},{3,4}}'::int[] is distinct from '{{1,2},{3,4}}'::int[];

-- case md_array_to_string
select array_to_string('{{1,2},{3,4}}'::int[], ','), array_to_string('{{a,NULL},{c,d}}'::text[], '-', '*');

-- case md_unnest_select_list
select unnest('{{1,2},{3,4}}'::int[]);

-- case md_unnest_from ordered
select u, n from unnest('{{1,2},{3,4}}'::int[]) with ordinality as x(u, n) order by n;

-- case md_unnest_column ordered
create table md_u (id int, a int[][]);
insert into md_u values (1, '{{1,2},{3,4}}'), (2, '{5,6}');
select id, unnest(a) from md_u order by id, 2;

-- case md_table_column ordered
create table md_t (id int, a int[][], t text[]);
insert into md_t values (1, '{{1,2},{3,4}}', '{{x,y}}'), (2, ARRAY[[5,6],[7,8]], null), (3, '{1,2}', '{a}');
select id, a, a[2][2], array_dims(a), t from md_t order by id;

-- case md_table_where
create table md_w (id int, a int[]);
insert into md_w values (1, '{{1,2},{3,4}}'), (2, '{{5,6},{7,8}}');
select id from md_w where a = '{{5,6},{7,8}}';

-- case md_casts
select '{{1,2},{3,4}}'::int[]::text[], '{{1.5,2},{3,4}}'::numeric[]::int[], '{{1,2}}'::text[]::int[];

-- case md_dates
select array[['2003-02-01'::date]], '{{2003-02-01,2003-02-02}}'::date[];

-- case md_array_agg_of_arrays
select array_agg(a) from (values ('{1,2}'::int[]), ('{3,4}'::int[])) v(a);

-- case md_array_agg_ordered
select array_agg(a order by a desc) from (values ('{1,2}'::int[]), ('{3,4}'::int[])) v(a);

-- case md_array_agg_different_dimensions
select array_agg(a) from (values ('{1}'::int[]), ('{2,3}'::int[])) v(a);

-- case md_array_agg_null_array
select array_agg(a) from (values ('{1}'::int[]), (null::int[])) v(a);

-- case md_array_agg_empty_arrays
select array_agg(a) from (values ('{}'::int[]), ('{}'::int[])) v(a);

-- case md_array_agg_no_rows
select array_agg(a) from (values ('{1}'::int[])) v(a) where false;

-- case md_array_subquery_of_arrays
select array(select a from (values ('{1,2}'::int[]), ('{3,4}'::int[])) v(a));

-- case md_array_subquery_no_rows
select array(select array[1] where false);

-- refused md_slices
select ('{{1,2},{3,4}}'::int[])[1:2][1:1];

-- case md_partial_subscript
select ('{{1,2},{3,4}}'::int[])[1];
