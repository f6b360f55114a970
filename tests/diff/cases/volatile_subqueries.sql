-- Side-effecting and volatile functions inside FROM subqueries: each call happens once per row
-- of the subquery, whether the outer query uses its column or not, and a column used twice is
-- one value (SQLite prunes unused subquery columns and copies flattened expressions: the
-- translator materializes such subqueries).
create sequence vs_seq;
create table vs_t (id int primary key);
insert into vs_t values (1), (2), (3);

-- case unused_column_still_advances
select count(*) from (select nextval('vs_seq') from generate_series(1, 10)) x;
select last_value, is_called from vs_seq;

-- case constant_select_over_unused_call
select 2 from (select nextval('vs_seq')) s;
select last_value from vs_seq;

-- case count_of_unused_calls
select count(*) from (select nextval('vs_seq') as n from vs_t) s;

-- case unused_then_sequence_position
select count(*) from (select nextval('vs_seq') as n from vs_t) s;
select nextval('vs_seq');

-- case column_used_twice_is_one_value
select a = b from (select a, a as b from (select nextval('vs_seq') as a) x) y;

-- case random_used_twice_is_one_value
select v = w from (select v, v as w from (select random() as v from generate_series(1, 5)) a) b;

-- case joined_volatile_subqueries ordered
select x.a, y.b from (select nextval('vs_seq') as a) x, (select nextval('vs_seq') as b) y;

-- case volatile_subquery_with_where ordered
select n from (select id, nextval('vs_seq') as n from vs_t) s where id >= 2 order by n;

-- case setval_in_unused_subquery
select count(*) from (select setval('vs_seq', 42)) s;
select nextval('vs_seq');
