-- Set-returning functions: unnest / generate_series / generate_subscripts in the SELECT list
-- (evaluated per row, several in lockstep) and in FROM, WITH ORDINALITY; array and int2vector
-- subscripts.
create table tg (id int primary key, tags text[]);
insert into tg values (1, '{a,b}'), (2, null), (3, '{}'), (4, '{c}');

-- case unnest_select_list
select unnest(array[1, 2, 3]);

-- case unnest_select_list_alias_type
select unnest(array['x', 'y']) as v, pg_typeof(unnest(array['x', 'y']));

-- case unnest_per_row
select id, unnest(tags) from tg order by id, 2;

-- case unnest_per_row_where
select unnest(tags) as tag from tg where id > 1 order by tag;

-- case unnest_in_expression
select unnest(array[1, 2]) * 10 as x, 'k' as k;

-- case unnest_order_by_output
select unnest(array[3, 1, 2]) as v order by v desc;

-- case unnest_distinct_limit
select distinct unnest(array[1, 1, 2, 2, 3]) as v order by v limit 2;

-- case generate_series_select_list
select generate_series(1, 3) as g, 'x';

-- case generate_series_select_list_bigint
select generate_series(1::bigint, 2), pg_typeof(generate_series(1::bigint, 2));

-- case generate_series_select_list_empty
select generate_series(1, 0);

-- case generate_series_per_row
select id, generate_series(1, id) as n from tg order by id, n;

-- case srf_lockstep
select generate_series(1, 3) as g, unnest(array['a', 'b']) as u;

-- case srf_lockstep_per_row
select id, unnest(tags) as tag, generate_subscripts(tags, 1) as i from tg order by id, i;

-- case generate_subscripts_select_list
select generate_subscripts(array['a', 'b', 'c'], 1) as i, unnest(array['a', 'b', 'c']) as v;

-- case generate_subscripts_from_reverse
select * from generate_subscripts(array[10, 20, 30], 1, true) as s;

-- case generate_subscripts_second_dimension
select generate_subscripts(array[[1, 2, 3], [4, 5, 6]], 2);

-- case generate_subscripts_missing_dimension
select generate_subscripts(array[1, 2], 2);

-- case srf_in_scalar_subquery
select id, (select count(*) from unnest(tags)) as n from tg order by id;

-- case unnest_ordinality_aliases
select * from unnest(array['a', 'b']) with ordinality as u(x, n);

-- case unnest_ordinality_default_names
select * from unnest(array['a', 'b']) with ordinality;

-- case unnest_ordinality_table_alias
select u.* from unnest(array['a', 'b']) with ordinality u;

-- case unnest_ordinality_type
select pg_typeof(n), n from unnest(array[5]) with ordinality as u(x, n);

-- case generate_series_ordinality
select * from generate_series(5, 7) with ordinality as g(v, n);

-- case generate_series_ordinality_default_names
select * from generate_series(5, 7) with ordinality;

-- case unnest_ordinality_per_row
select tg.id, u.* from tg, unnest(tg.tags) with ordinality as u(tag, pos) order by 1, 3;

-- case unnest_ordinality_lateral
select tg.id, u.tag, u.pos from tg cross join lateral unnest(tg.tags) with ordinality as u(tag, pos) order by 1, 3;

-- case unnest_ordinality_left_join_lateral
select tg.id, u.tag, u.pos from tg left join lateral unnest(tg.tags) with ordinality as u(tag, pos) on true order by 1, 3;

-- case generate_series_ordinality_lateral
select tg.id, g.v, g.n from tg cross join lateral generate_series(1, tg.id) with ordinality as g(v, n) order by 1, 3;

-- case int2vector_unnest
select unnest('3 1 2'::int2vector) as k, pg_typeof(unnest('3 1 2'::int2vector));

-- case int2vector_subscripts
select ('3 1 2'::int2vector)[0], ('3 1 2'::int2vector)[2], ('3 1 2'::int2vector)[3];

-- case int2vector_generate_subscripts
select generate_subscripts('3 1 2'::int2vector, 1);

-- case vector_text
select '3 1 2'::int2vector, '1 2'::oidvector;

-- case array_subscript_expression
select (array[10, 20, 30])[i] as v, (array[10, 20, 30])[0] as z, (array[10, 20, 30])[-1] as m from (values (1), (2), (4)) v(i) order by i;

-- case unnest_not_an_array
select unnest(1);

-- case unnest_unknown_literal
select unnest('{a,b}');

-- case srf_in_where
select 1 where unnest(array[true]);

-- refused srf_with_aggregate
select count(*), unnest(array[1, 2]);
