-- case select_one
select 1;

-- case literals
select 1, 2.50, 'x', true, null, 3000000000, 1 + 2 as three;

-- case table_roundtrip
create table d_t (a int, b text);
insert into d_t values (1, 'x'), (2, null);
select * from d_t order by a;

-- case int_overflow_add
select 2147483647 + 1;

-- case param_int
-- params: [41]
select $1::int + 1;

-- case div_zero
select 1 / 0;
