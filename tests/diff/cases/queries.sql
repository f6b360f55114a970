-- Queries: joins, LATERAL, subqueries, CTEs, windows, set operations, DISTINCT ON, grouping,
-- ordering (NULLS FIRST/LAST), LIMIT/OFFSET/FETCH, locking clauses.
create table emp (id int primary key, name text not null, dept int, salary numeric(8,2), boss int, hired date);
create table dept (id int primary key, dname text);
insert into dept values (1, 'eng'), (2, 'ops'), (3, 'empty');
insert into emp values (1, 'ann', 1, 100.00, null, '2020-01-01'), (2, 'bob', 1, 80.50, 1, '2021-03-04'), (3, 'cid', 2, 70.00, 1, '2019-07-08'), (4, 'dan', null, 50.00, 2, '2022-02-02'), (5, 'eve', 2, null, 3, null);

-- case inner_join
select e.name, d.dname from emp e join dept d on d.id = e.dept order by e.name;

-- case left_join
select e.name, d.dname from emp e left join dept d on d.id = e.dept order by e.name;

-- case right_join
select e.name, d.dname from emp e right join dept d on d.id = e.dept order by d.dname, e.name;

-- case full_join
select e.name, d.dname from emp e full outer join dept d on d.id = e.dept order by e.name nulls first, d.dname;

-- case cross_join
select count(*) from emp cross join dept;

-- case comma_join
select e.name, d.dname from emp e, dept d where e.dept = d.id and d.dname = 'ops' order by 1;

-- case join_using
create table a1 (k int, x text);
create table b1 (k int, y text);
insert into a1 values (1, 'a'), (2, 'b');
insert into b1 values (2, 'B'), (3, 'C');
select * from a1 join b1 using (k);

-- case join_using_full
create table a1 (k int, x text);
create table b1 (k int, y text);
insert into a1 values (1, 'a'), (2, 'b');
insert into b1 values (2, 'B'), (3, 'C');
select k, x, y from a1 full join b1 using (k) order by k;

-- case natural_join
create table a1 (k int, x text);
create table b1 (k int, y text);
insert into a1 values (1, 'a'), (2, 'b');
insert into b1 values (2, 'B'), (3, 'C');
select * from a1 natural join b1;

-- case self_join
select e.name, b.name as boss from emp e left join emp b on b.id = e.boss order by e.id;

-- case join_three_way
select e.name, d.dname, b.name from emp e join dept d on d.id = e.dept join emp b on b.id = e.boss order by e.name;

-- case join_on_complex
select e.name, d.dname from emp e left join dept d on d.id = e.dept and d.dname <> 'eng' order by e.id;

-- case lateral_subquery
select d.dname, x.name from dept d, lateral (select e.name from emp e where e.dept = d.id order by e.salary desc nulls last limit 1) x order by d.dname;

-- case lateral_left_join
select d.dname, x.n from dept d left join lateral (select count(*) as n from emp e where e.dept = d.id) x on true order by d.dname;

-- case lateral_left_join_multi
select d.dname, x.name from dept d left join lateral (select e.name from emp e where e.dept = d.id order by e.name limit 2) x on true order by d.dname, x.name;

-- case lateral_generate_series
select d.id, g from dept d, lateral generate_series(1, d.id) g order by d.id, g;

-- case lateral_unnest
create table tl (id int, arr int[]);
insert into tl values (1, '{1,2}'), (2, '{3}');
select tl.id, u from tl, lateral unnest(tl.arr) u order by 1, 2;

-- case scalar_subquery
select name, (select dname from dept where id = emp.dept) from emp order by id;

-- case scalar_subquery_multiple_rows
select (select id from emp);

-- case exists_subquery
select dname from dept d where exists (select 1 from emp e where e.dept = d.id) order by 1;

-- case not_exists_subquery
select dname from dept d where not exists (select 1 from emp e where e.dept = d.id);

-- case in_subquery
select name from emp where dept in (select id from dept where dname like 'e%') order by 1;

-- case not_in_subquery_with_null
select name from emp where dept not in (select dept from emp where dept is not null and dept > 1) order by 1;

-- case not_in_null_semantics
select 1 where 3 not in (select dept from emp);

-- case any_subquery
select name from emp where salary > any (select salary from emp where dept = 2) order by 1;

-- case all_subquery
select name from emp where salary >= all (select salary from emp where salary is not null) order by 1;

-- case derived_table
select t.d, t.total from (select dept as d, sum(salary) as total from emp group by dept) t order by t.d nulls first;

-- case derived_table_column_aliases
select * from (select 1, 2) as t(a, b);

-- case values_table
select * from (values (1, 'a'), (2, 'b')) as v(n, s) order by n desc;

-- case values_standalone
values (1, 'x'), (2, 'y');

-- case cte_basic
with big as (select * from emp where salary > 60) select name from big order by name;

-- case cte_multiple
with a as (select 1 as x), b as (select x + 1 as y from a) select * from a, b;

-- case cte_recursive_counter
with recursive t(n) as (select 1 union all select n + 1 from t where n < 5) select * from t;

-- case cte_recursive_tree
with recursive chain as (select id, name, boss, 1 as depth from emp where boss is null union all select e.id, e.name, e.boss, c.depth + 1 from emp e join chain c on e.boss = c.id) select name, depth from chain order by depth, name;

-- case cte_recursive_union_dedup
with recursive t(n) as (select 1 union select (n % 3) + 1 from t) select n from t order by n;

-- case cte_column_list
with c(a, b) as (select 1, 'x') select b, a from c;

-- case window_row_number
select name, row_number() over (order by salary desc nulls last) from emp order by 2;

-- case window_partition
select name, dept, rank() over (partition by dept order by salary desc) from emp order by dept nulls first, 3, name;

-- case window_rank_dense
create table tw (v int);
insert into tw values (1), (1), (2), (3), (3), (3);
select v, rank() over w, dense_rank() over w, row_number() over w, percent_rank() over w, cume_dist() over w from tw window w as (order by v) order by v, 4;

-- case window_running_sum
select name, salary, sum(salary) over (order by id) from emp order by id;

-- case window_frame_rows
select id, sum(id) over (order by id rows between 1 preceding and 1 following) from emp order by id;

-- case window_lag_lead
select id, lag(id) over (order by id), lead(id, 2) over (order by id), lag(id, 1, 0) over (order by id) from emp order by id;

-- case window_first_last
select id, first_value(name) over (order by id), last_value(name) over (order by id rows between unbounded preceding and unbounded following), nth_value(name, 2) over (order by id) from emp order by id;

-- case window_agg_partition
select name, dept, count(*) over (partition by dept), avg(salary) over (partition by dept) from emp order by id;

-- case window_ntile
select id, ntile(2) over (order by id) from emp order by id;

-- case window_types
select pg_typeof(row_number() over ()), pg_typeof(rank() over ()), pg_typeof(sum(id) over ()), pg_typeof(count(*) over ()) from emp limit 1;

-- case union_all
select id from emp where id < 3 union all select id from dept order by 1;

-- case union_distinct
select dept from emp union select id from dept order by 1 nulls first;

-- case intersect
select dept from emp intersect select id from dept order by 1;

-- case except
select id from dept except select dept from emp;

-- case intersect_all_except_all
select x from (values (1), (1), (2)) v(x) intersect all select x from (values (1), (1), (1)) w(x);

-- case except_all
select x from (values (1), (1), (2)) v(x) except all select x from (values (1)) w(x) order by x;

-- case union_type_resolution
select 1 union select 2.5 order by 1;

-- case union_column_names
select 1 as a, 'x' as b union all select 2, 'y' order by a;

-- case union_limit
(select id from emp order by id limit 2) union all (select id from dept order by id desc limit 1);

-- case distinct_basic
select distinct dept from emp order by dept nulls first;

-- case distinct_on
select distinct on (dept) dept, name, salary from emp order by dept, salary desc;

-- case distinct_on_expression
select distinct on (salary > 75) name, salary from emp where salary is not null order by salary > 75, name;

-- case group_by_having
select dept, count(*), sum(salary) from emp group by dept having count(*) > 1 order by dept;

-- case group_by_ordinal
select dept, count(*) from emp group by 1 order by 1 nulls last;

-- case group_by_expression
select salary > 75 as rich, count(*) from emp group by salary > 75 order by 1;

-- case group_by_alias
select coalesce(dept, 0) as d, count(*) from emp group by d order by d;

-- case group_by_error
select name, count(*) from emp;

-- case having_without_group
select count(*) from emp having count(*) > 3;

-- case aggregate_empty
select count(*), sum(salary), max(name), avg(salary), bool_and(true) from emp where false;

-- case aggregate_distinct
select count(distinct dept), sum(distinct id % 2) from emp;

-- case aggregate_filter
select count(*) filter (where salary > 60), sum(id) filter (where dept = 1) from emp;

-- case string_agg
select string_agg(name, ',' order by name desc), string_agg(name, '') from emp;

-- case rollup
select dept, count(*) from emp group by rollup (dept) order by dept nulls last, 2;

-- case grouping_sets
select dept, boss, count(*) from emp group by grouping sets ((dept), (boss)) order by 1, 2, 3;

-- case order_nulls_default_asc
select dept from emp order by dept;

-- case order_nulls_default_desc
select dept from emp order by dept desc;

-- case order_nulls_first_last
select name from emp order by salary nulls first, name;

-- case order_desc_nulls_last
select name from emp order by salary desc nulls last;

-- case order_by_alias_and_ordinal
select name as n, salary as s from emp order by s desc nulls last, 1;

-- case order_by_expression
select name from emp order by length(name) * -1, name;

-- case order_by_unselected
select name from emp order by hired desc nulls last;

-- case limit_offset
select id from emp order by id limit 2 offset 1;

-- case offset_only
select id from emp order by id offset 3;

-- case fetch_first
select id from emp order by id fetch first 2 rows only;

-- case fetch_next_offset
select id from emp order by id offset 1 row fetch next 1 row only;

-- case limit_all
select id from emp order by id limit all;

-- case limit_null
select id from emp order by id limit null;

-- case limit_negative
select id from emp limit -1;

-- case limit_param
-- params: [2]
select id from emp order by id limit $1;

-- case for_update
select id from emp where id = 1 for update;

-- case for_share_nowait
select id from emp where id = 2 for share nowait;

-- case for_update_skip_locked
select id from emp order by id limit 1 for update skip locked;

-- case for_update_of
select e.id from emp e join dept d on d.id = e.dept where e.id = 1 for update of e;

-- case for_no_key_update
select id from emp where id = 3 for no key update;

-- case select_no_from
select 1 + 1 as two, 'a' as letter;

-- case table_statement
table dept;

-- case column_name_rules
select id, e.name, salary * 2, count(*) over (), coalesce(dept, 0), id::text, cast(id as bigint), case when true then 1 end, upper(name), (select 1), exists(select 1), array[1], row(1, 2) from emp e order by e.id limit 1;

-- case case_expressions
select name, case when salary > 90 then 'high' when salary > 60 then 'mid' else 'low' end, case dept when 1 then 'one' when 2 then 'two' end from emp order by id;

-- case coalesce_nullif
select coalesce(null, null, 3), coalesce(salary, 0), nullif(dept, 1), nullif('a', 'a') from emp order by id;

-- case greatest_least
select greatest(1, 3, 2), least(1, 3, 2), greatest('a', 'b'), greatest(1, null, 2), least(null::int, null), greatest(1, 2.5);

-- case coalesce_type_mismatch
select coalesce(1, 'x');

-- case case_type_mismatch
select case when true then 1 else 'x' end;

-- case is_distinct
select null is distinct from null, 1 is distinct from null, 1 is not distinct from 1;

-- case row_comparison
select (1, 2) < (1, 3), (1, 2) = (1, 2), (2, 'a') > (1, 'b');

-- case in_tuple_list
select id from emp where (dept, boss) in ((1, 1), (2, 1)) order by id;

-- case generate_series_int
select * from generate_series(1, 5), generate_series(10, 1, -4) order by 1, 2;

-- case generate_series_select_list
select generate_series(1, 3) as g, 'x';

-- case generate_series_empty
select count(*) from generate_series(5, 1);

-- case generate_series_type
select pg_typeof(g) from generate_series(1, 1) g;

-- case generate_series_bigint
select g from generate_series(9223372036854775805::bigint, 9223372036854775807::bigint) g;

-- case generate_series_column_name
select * from generate_series(1, 2);

-- case insert_returning
create table tr (id serial, v text);
insert into tr (v) values ('a'), ('b') returning id, v, upper(v) as u;

-- case update_returning
update emp set salary = salary + 1 where dept = 1 returning id, salary;

-- case delete_returning
delete from emp where dept is null returning *;

-- case update_from
update emp set name = name || '@' || d.dname from dept d where d.id = emp.dept and d.dname = 'ops' returning emp.name;

-- case delete_using
delete from emp using dept where dept.id = emp.dept and dept.dname = 'eng';

-- case insert_select
create table tr (n text);
insert into tr select name from emp where salary > 60;

-- case insert_on_conflict_nothing
insert into dept values (1, 'dup'), (9, 'new') on conflict do nothing;

-- case insert_on_conflict_update
insert into dept values (1, 'dup') on conflict (id) do update set dname = excluded.dname || '!' returning *;

-- case insert_conflict_error
insert into dept values (1, 'dup');

-- case not_null_violation
insert into emp (id) values (99);

-- case update_count
update emp set boss = boss where true;

-- case delete_all_count
delete from emp;

-- case insert_default_values
create table tr (id serial, v text default 'd', n int);
insert into tr default values returning *;

-- case insert_multiple_defaults
create table tr (id serial, v text default 'd', n int);
insert into tr (v, n) values (default, 1), ('x', default) returning *;

-- case subquery_in_select_correlated_agg
select d.dname, (select max(salary) from emp e where e.dept = d.id) from dept d order by 1;

-- case nested_derived
select * from (select * from (select id, name from emp) a where id > 2) b order by id desc;

-- case with_in_subquery
select * from (with x as (select 5 as v) select v from x) s;

-- case count_star_types
select count(*), count(1), count(id), pg_typeof(count(*)) from emp;

-- case min_max_types
select min(hired), max(hired), min(name), max(salary), pg_typeof(max(hired)) from emp;

-- case ambiguous_column
select id from emp join dept on true;

-- case unknown_column
select nope from emp;

-- case unknown_table
select * from nope;

-- case syntax_error
select from where;

-- case division_in_where
select id from emp where id / 2 = 1 order by id;

-- case modulo_operator_and_fn
select id, id % 2, mod(id, 2) from emp order by id;

-- case integer_division_avg
select sum(id) / count(*), avg(id) from emp;

-- case order_by_ambiguous_output_name
select id, name as id from emp order by id;

-- case all_subquery_empty_and_null
select name, salary > all (select salary from emp where dept = 99), salary < all (select null::numeric) from emp order by 1;

-- case any_ops_array
select x, x > any (array[2, 3]), x <= all (array[2, 3]), x = all (array[x, x]), x <> any (array[1]) from (values (1), (2), (3), (null)) v(x) order by 1;

-- case all_array_nulls
select 3 > all (array[1, null]), 0 > all (array[1, null]), 1 < any (array[null, 0]), 1 < any (array[null, 2]), 1 = all ('{}'::int[]);

-- case any_subquery_text
select name from emp where name >= any (select name from emp where dept = 1) order by 1;

-- case offset_negative
select id from emp offset -1;

-- case limit_negative_param
-- params: [-2]
select id from emp limit $1;

-- case limit_null_param
-- params: [null]
select id from emp order by id limit $1;

-- case offset_param
-- params: [3]
select id from emp order by id offset $1;

-- case limit_zero
select id from emp limit 0;

-- case scalar_subquery_correlated_multiple_rows
select d.dname, (select e.name from emp e where e.dept = d.id) from dept d order by 1;

-- case scalar_subquery_correlated_one_row
select d.dname, (select e.name from emp e where e.dept = d.id order by e.id limit 1), (select max(salary) from emp e where e.dept = d.id) from dept d order by 1;

-- case scalar_subquery_empty_and_single
select (select name from emp where id = 99), (select name from emp where id = 2), (select salary from emp where id = 3), (select hired from emp where id = 1);

-- case scalar_subquery_union_multiple_rows
select (select 1 union all select 2);

-- case scalar_subquery_in_where
select name from emp where salary = (select max(salary) from emp where dept = 2) order by 1;

-- case scalar_subquery_where_multiple_rows
select name from emp where dept = (select id from dept where id > 1);

-- case order_by_ambiguous_alias
select id as x, name as x from emp order by x;

-- case order_by_duplicate_same_column
select id, id from emp order by id;

-- case order_by_ambiguous_qualified_ok
select e.id, e.name as id from emp e order by e.id;

-- case order_by_ambiguous_ordinal_ok
select id, name as id from emp order by 1;

-- case group_by_error_having
select dept, count(*) from emp group by dept having salary > 1;

-- case group_by_error_order
select dept, count(*) from emp group by dept order by name;

-- case group_by_error_expression
select dept + 1, name from emp group by dept + 1;

-- case group_by_primary_key_dependency
select e.id, e.name, e.salary, count(d.id) from emp e left join dept d on d.id = e.dept group by e.id order by e.id;

-- case group_by_pk_dependency_not_other_table
select e.id, d.dname from emp e left join dept d on d.id = e.dept group by e.id;

-- case group_by_expression_ok
select lower(name), count(*) from emp group by lower(name) order by 1;

-- case group_by_qualified_vs_bare
select e.dept, count(*) from emp e group by dept order by 1 nulls first;

-- case group_by_ordinal_alias
select dept as d, count(*) as n from emp group by d order by n desc, d;

-- case group_by_ordinal_coalesce
select coalesce(dept, 0), max(salary) from emp group by 1 order by 1;

-- case aggregate_without_group_error
select id, max(salary) from emp;

-- case aggregate_with_outer_reference
select d.dname, (select count(*) from emp e where e.dept = d.id and e.salary > 60) from dept d order by 1;

-- case group_by_star_pk
select * from dept group by id order by id;

-- case group_by_having_only
select 1 from emp having count(*) > 2;

-- case group_by_window_over_aggregate
select dept, sum(salary), rank() over (order by sum(salary) desc) from emp group by dept order by 2 desc nulls last;

-- case coalesce_unknown_arguments
select coalesce(null, null, 3), coalesce(null, '5', 1) + 1, coalesce('a', null), coalesce(null, null), pg_typeof(coalesce(null, 2.5));

-- case natural_full_join
create table a1 (k int, x text);
create table b1 (k int, y text);
insert into a1 values (1, 'a'), (2, 'b');
insert into b1 values (2, 'B'), (3, 'C');
select * from a1 natural full join b1 order by k;

-- case right_join_using_merged
create table a1 (k int, x text);
create table b1 (k int, y text);
insert into a1 values (1, 'a'), (2, 'b');
insert into b1 values (2, 'B'), (3, 'C');
select k, a1.k, b1.k, x, y from a1 right join b1 using (k) order by b1.k;

-- case full_join_using_two_keys
create table a2 (k int, j int, x text);
create table b2 (k int, j int, y text);
insert into a2 values (1, 1, 'a'), (2, 2, 'b');
insert into b2 values (2, 2, 'B'), (3, 3, 'C');
select k, j, x, y, a2.k from a2 full join b2 using (k, j) order by k;

-- case natural_join_no_common_columns
create table a3 (p int);
create table b3 (q int);
insert into a3 values (1), (2);
insert into b3 values (10);
select * from a3 natural join b3 order by p;

-- case natural_join_three_tables
create table n1 (k int, a text);
create table n2 (k int, b text);
create table n3 (b text, c int);
insert into n1 values (1, 'x'), (2, 'y');
insert into n2 values (1, 'p'), (2, 'q');
insert into n3 values ('p', 100), ('q', 200);
select * from n1 natural join n2 natural join n3 order by k;

-- case full_join_using_where_merged
create table a1 (k int, x text);
create table b1 (k int, y text);
insert into a1 values (1, 'a'), (2, 'b');
insert into b1 values (2, 'B'), (3, 'C');
select k from a1 full join b1 using (k) where k > 1 order by k;

-- case intersect_all_nulls_multicolumn
select a, b from (values (1, null), (1, null), (2, 'x'), (3, 'y')) v(a, b)
intersect all select c, d from (values (1, null), (2, 'x'), (2, 'x'), (3, 'z')) w(c, d) order by a;

-- case except_all_duplicates_limit
select x from (values (5), (5), (5), (1), (null), (null)) v(x)
except all select y from (values (5), (null)) w(y) order by x nulls first limit 3;

-- case except_all_table
create table ea (k int, v text);
insert into ea values (1, 'a'), (1, 'a'), (2, 'b');
select k, v from ea except all select k, v from ea where k = 1 limit 5;

-- case having_without_group_by_empty
create table he (a int);
select 1 as one, 'x' from he having count(*) = 0;

-- case having_without_group_by_false
select 1 from emp having count(*) > 100;

-- case order_by_computed_numeric
select dept, sum(salary) as s from emp group by dept order by s desc nulls last;

-- case order_by_numeric_expression
select name, salary * 2 from emp where salary is not null order by salary * 2, 2;

-- case order_by_numeric_union
select 9.5 as v union all select 10.25 union all select 100 order by v;

-- case duplicate_from_alias
select 1 from emp, emp;

-- case duplicate_from_alias_join
select 1 from emp e join dept e on true;

-- case same_table_two_aliases
select count(*) from emp a, emp b where a.id = b.id;

-- case lateral_types_round_trip
create table lt (id int, n numeric(6,2), ok boolean, t timestamp, j jsonb, f float8, s text);
insert into lt values (1, 2.50, true, '2024-01-02 03:04:05', '{"a": [1, 2]}', 1.5, 'x'), (2, null, false, null, null, 'NaN', null);
select lt.id, x.* from lt cross join lateral (select lt.n * 2 as n2, not lt.ok as nok, lt.t + interval '1 day' as t2, lt.j -> 'a' as ja, lt.f, lt.s || '!' as s2 from lt l2 where l2.id = lt.id) x order by lt.id;

-- case lateral_column_aliases_and_aggregate
select d.dname, x.* from dept d, lateral (select count(*), max(e.salary) from emp e where e.dept = d.id) as x(n, top) order by d.dname;

-- case lateral_two_outer_tables
select e.name, d.dname, x.peers from emp e join dept d on d.id = e.dept,
  lateral (select string_agg(o.name, ',' order by o.name) as peers from emp o where o.dept = d.id and o.id <> e.id) x order by e.name;

-- case lateral_left_join_where
select d.dname, x.name from dept d left join lateral (select e.name from emp e where e.dept = d.id and e.salary > 75 order by e.name) x on true where x.name is null or x.name <> 'bob' order by 1, 2;

-- case rollup_two_columns_grouping
select dept, boss, count(*), sum(salary), grouping(dept, boss) from emp group by rollup (dept, boss) order by 5, 1 nulls last, 2 nulls last;

-- case cube_columns
select dept, boss, count(*), grouping(boss) from emp group by cube (dept, boss) order by 1 nulls last, 2 nulls last, 3;

-- case grouping_sets_empty_and_having
select dept, count(*) as n from emp group by grouping sets ((dept), ()) having count(*) > 1 order by n, dept nulls last;

-- case rollup_with_plain_column
select dept, extract(year from hired) as y, count(*) from emp where hired is not null group by dept, rollup (extract(year from hired)) order by 1 nulls last, 2 nulls last;

-- case text_int_comparison_error
select id from emp where name = 1;

-- case int_text_comparison_error
select id from emp where id > 'x'::text;

-- case text_int_in_list_error
select id from emp where name in (1, 2);

-- case text_unknown_comparison_ok
select id from emp where name = '1' or id = '2' order by id;
