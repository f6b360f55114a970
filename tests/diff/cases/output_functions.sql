-- Functions taking "any" print each argument with its type's output function (concat,
-- concat_ws, format), and greatest/least over columns of the row (not only constants).

-- case concat_output_functions
create table of1 (d date, t timestamp, tz timestamptz, b bool, n numeric(6,2), i int8, a int[], c char(3), by bytea, iv interval, f float8);
insert into of1 values ('2020-01-02', '2020-01-02 03:04:05.5', '2020-01-02 03:04:05+00', true, 1.50, 7, '{1,2}', 'x', '\x01ff', '1 day 02:00', 1.5),
                       ('0044-03-15 BC', '0044-03-15 10:00 BC', '0044-03-15 10:00+00 BC', false, null, null, null, null, null, null, null);
set local timezone = 'Asia/Tokyo';
select concat(d, '|', t, '|', tz, '|', b, '|', n, '|', i, '|', a, '|', c, '|', by, '|', iv, '|', f) from of1 order by d;

-- case concat_ws_output_functions
create table of2 (tz timestamptz, b bool, x text);
insert into of2 values ('2020-01-02 03:04:05+00', true, 'x'), (null, false, null);
set local timezone = 'America/New_York';
select concat_ws(',', tz, b, x), concat_ws(b::text, x, x), concat_ws(null, 1, 2) from of2 order by b;

-- case concat_bool_expression_once
select concat(random() > 2, 1 = 1, null::bool), format('%s|%s', random() > 2, 2 > 1);

-- case concat_no_arguments
select concat();

-- case concat_ws_one_argument
select concat_ws(',');

-- case greatest_least_over_columns
create table of3 (i int, n numeric, d date, b bool, s text);
insert into of3 values (1, 2.50, '2020-01-01', true, 'b'), (5, null, null, false, null), (null, 10, '1999-12-31', null, 'a');
select i, greatest(i, 3), least(i, 3, null), greatest(n, 2.5, 3), least(d, '2000-01-01'::date), greatest(b, false), least(s, 'aa'), greatest(i, n) from of3 order by i;

-- case values_referring_to_outer_columns
create table of4 (a int, b int);
insert into of4 values (1, 5), (7, 2);
select a, (select max(column1) from (values (a), (b)) v) as m, (select sum(x) from (values (a), (3)) v(x)) as s from of4 order by a;

-- case lateral_values_first_row_outer
create table of5 (a int, b int);
insert into of5 values (1, 5), (7, 2);
select o.a, v.x from of5 o, lateral (values (o.a), (o.b)) v(x) order by 1, 2;
