-- date / time / timestamp / timestamptz / interval: input, output, arithmetic, functions.

-- case date_literals
select '2024-01-02'::date, date '1999-12-31', '2024-1-2'::date, 'January 8, 1999'::date;

-- case date_bad
select '2024-02-30'::date;

-- case date_garbage
select 'not a date'::date;

-- case date_arith
select '2024-01-31'::date + 1, '2024-03-01'::date - 1, '2024-03-01'::date - '2024-01-01'::date, pg_typeof('2024-03-01'::date - '2024-01-01'::date);

-- case date_plus_interval
select '2024-01-31'::date + interval '1 month', pg_typeof('2024-01-31'::date + interval '1 day');

-- case date_infinity
select 'infinity'::date, '-infinity'::date, 'infinity'::date > '2024-01-01'::date;

-- case date_column_order
create table td (d date);
insert into td values ('2024-01-02'), ('1999-12-31'), (null), ('2000-02-29');
select d from td order by d;

-- case date_compare_string
create table td (d date);
insert into td values ('2024-01-02'), ('1999-12-31');
select d from td where d > '2000-1-1';

-- case time_literals
select '12:34:56'::time, '12:34:56.789'::time, time '01:02', '23:59:59.999999'::time;

-- case time_arith
select '12:00'::time + interval '90 minutes', '12:00'::time - '10:30'::time;

-- case time_bad
select '25:00:00'::time;

-- case timestamp_literals
select '2024-01-02 03:04:05'::timestamp, timestamp '2024-01-02 03:04:05.123456', '2024-01-02'::timestamp, '2024-01-02T03:04:05'::timestamp;

-- case timestamp_trim_micros
select '2024-01-02 03:04:05.100'::timestamp, '2024-01-02 03:04:05.000'::timestamp;

-- case timestamp_bad
select '2024-13-01 00:00'::timestamp;

-- case timestamp_arith
select '2024-01-02 03:04:05'::timestamp + interval '1 day 2 hours', '2024-01-02'::timestamp - '2023-12-25 12:00'::timestamp;

-- case timestamp_month_arith
select '2024-01-31 10:00'::timestamp + interval '1 month', '2024-03-31'::timestamp - interval '1 month';

-- case timestamptz_utc
select '2024-01-02 03:04:05+00'::timestamptz, '2024-01-02 03:04:05+02'::timestamptz, '2024-06-01 12:00'::timestamptz;

-- case timestamptz_session_tz
set timezone = 'America/New_York';
select '2024-01-02 03:04:05+00'::timestamptz, '2024-07-02 03:04:05+00'::timestamptz, '2024-01-02 12:00'::timestamptz::text;

-- case timestamptz_session_tz_offset
set time zone 'Asia/Kolkata';
select '2024-01-02 00:00:00+00'::timestamptz;

-- case timestamptz_column
set timezone = 'Europe/Berlin';
create table tz (t timestamptz);
insert into tz values ('2024-03-31 01:30:00+00'), ('2024-10-27 00:30:00+00');
select t, t::timestamp, t::date from tz order by 1;

-- case timestamp_to_timestamptz
set timezone = 'America/Los_Angeles';
select '2024-01-01 00:00'::timestamp::timestamptz, '2024-01-01 00:00+00'::timestamptz::timestamp;

-- case timestamptz_arith
select '2024-01-02 03:04:05+00'::timestamptz + interval '1 hour', '2024-01-03 00:00+00'::timestamptz - '2024-01-02 00:00+00'::timestamptz;

-- case interval_output
select interval '1 day', interval '1 year 2 months 3 days 04:05:06', interval '-1 day', interval '90 minutes', interval '1.5 hours', interval '36 hours';

-- case interval_input_forms
select '1 week'::interval, '2 mons'::interval, '00:00:01.5'::interval, 'P1Y2M'::interval, '1 day ago'::interval;

-- case interval_arith
select interval '1 day' + interval '2 hours', interval '1 hour' * 3, interval '1 day' / 2, - interval '1 day';

-- case interval_compare
select interval '24 hours' = interval '1 day', interval '1 month' > interval '29 days';

-- case interval_justify
select justify_hours(interval '36 hours'), justify_days(interval '40 days'), justify_interval(interval '1 month -1 hour');

-- case interval_column
create table ti (i interval);
insert into ti values ('1 day'), ('3 hours'), ('1 mon');
select i from ti order by i;

-- case interval_sum_avg
create table ti (i interval);
insert into ti values ('1 day'), ('3 hours'), ('1 mon');
select sum(i), avg(i) from ti;

-- case extract_fields
select extract(year from timestamp '2024-02-03 04:05:06.5'), extract(month from date '2024-02-03'), extract(day from timestamp '2024-02-03 04:05:06'), extract(hour from timestamp '2024-02-03 04:05:06'), extract(minute from time '04:05:06'), extract(second from timestamp '2024-02-03 04:05:06.5');

-- case extract_dow_doy_epoch
select extract(dow from date '2024-02-03'), extract(doy from date '2024-02-03'), extract(epoch from timestamp '2024-01-01 00:00:00'), extract(week from date '2024-02-03'), extract(quarter from date '2024-05-01'), extract(isodow from date '2024-02-04');

-- case extract_type
select pg_typeof(extract(year from date '2024-02-03'));

-- case extract_interval
select extract(epoch from interval '1 day 2 hours'), extract(hour from interval '26 hours'), extract(day from interval '3 days');

-- case date_part_fn
select date_part('year', timestamp '2024-02-03'), date_part('dow', date '2024-02-03'), pg_typeof(date_part('year', timestamp '2024-02-03'));

-- case date_trunc_ts
select date_trunc('month', timestamp '2024-02-13 04:05:06'), date_trunc('hour', timestamp '2024-02-13 04:05:06'), date_trunc('year', timestamp '2024-02-13'), date_trunc('week', timestamp '2024-02-15 10:00'), date_trunc('day', timestamp '2024-02-13 23:59');

-- case date_trunc_tz
set timezone = 'America/New_York';
select date_trunc('day', timestamptz '2024-02-13 03:00:00+00'), pg_typeof(date_trunc('day', timestamptz '2024-02-13 03:00:00+00'));

-- case date_trunc_date
select date_trunc('month', date '2024-02-13'), pg_typeof(date_trunc('month', date '2024-02-13'));

-- case age_fn
select age(timestamp '2024-03-15', timestamp '2020-01-20'), age(date '2024-03-01', date '2024-01-31');

-- case to_char_ts
select to_char(timestamp '2024-02-03 14:05:06', 'YYYY-MM-DD HH24:MI:SS'), to_char(timestamp '2024-02-03 14:05:06', 'DD Mon YYYY HH12:MI AM'), to_char(date '2024-02-03', 'Day, Month DD'), to_char(timestamp '2024-02-03 14:05:06.123', 'YYYYMMDD"T"HH24MISS.MS');

-- case to_char_fm
select to_char(date '2024-02-03', 'FMDay FMMonth FMDD'), to_char(timestamp '2024-02-03 04:05:06', 'FMHH12:MI'), to_char(date '2024-02-03', 'YY Q WW DDD D');

-- case to_char_number
select to_char(1234.5, '9999.99'), to_char(42, '000'), to_char(1234567.891, 'FM999,999,990.00'), to_char(-5, '999');

-- case to_date_to_timestamp
select to_date('2024-02-03', 'YYYY-MM-DD'), to_timestamp('2024-02-03 04:05:06', 'YYYY-MM-DD HH24:MI:SS'), to_timestamp(0);

-- case make_date_time
select make_date(2024, 2, 29), make_time(1, 2, 3.5), make_timestamp(2024, 1, 2, 3, 4, 5), make_interval(days => 3, hours => 2);

-- case date_cast_from_timestamp
select timestamp '2024-02-03 23:59:59'::date, date '2024-02-03'::timestamp, '2024-02-03 10:00'::timestamp::time;

-- case now_types
select pg_typeof(now()), pg_typeof(current_date), pg_typeof(current_timestamp), pg_typeof(localtimestamp), pg_typeof(current_time), now() = current_timestamp, now() = transaction_timestamp();

-- case timestamp_ordering_table
create table tts (t timestamp);
insert into tts values ('2024-01-02 03:04:05'), ('2024-01-02 03:04:05.5'), ('2023-12-31 23:59'), (null);
select t from tts order by t desc nulls last;

-- case date_between
select date '2024-02-03' between '2024-01-01' and '2024-12-31';

-- case timestamp_infinity
select 'infinity'::timestamp, '-infinity'::timestamptz, isfinite('infinity'::timestamp), isfinite(date '2024-01-01');

-- case date_series_days
select d::date from generate_series(timestamp '2024-01-30', timestamp '2024-02-02', interval '1 day') as g(d);

-- case timestamp_epoch_roundtrip
select to_timestamp(1700000000), extract(epoch from to_timestamp(1700000000));

-- case overlaps
select (date '2024-01-01', date '2024-01-10') overlaps (date '2024-01-05', date '2024-01-20');

-- case date_leap
select '2024-02-29'::date + interval '1 year', '2023-02-29'::date;

-- case to_date_only
select to_date('2024-02-03', 'YYYY-MM-DD'), to_date('03/02/2024', 'DD/MM/YYYY'), to_date('2024 Mar 05', 'YYYY Mon DD'), to_date('20240229', 'YYYYMMDD');

-- case to_timestamp_format
select to_timestamp('2024-02-03 04:05:06', 'YYYY-MM-DD HH24:MI:SS'), to_timestamp('2024-02-03 04:05 PM', 'YYYY-MM-DD HH12:MI AM'), to_timestamp(0), pg_typeof(to_timestamp('2024', 'YYYY'));

-- case to_date_out_of_range
select to_date('2024-02-30', 'YYYY-MM-DD');

-- case interval_negative_output
select interval '-1 day', interval '-2 mons', interval '-1 year', interval '1 mon -1 day', interval '-1 mon 2 days -03:00:00', '-1 day +02:00'::interval, interval '1 day' - interval '2 days';

-- case interval_compare_values
select interval '24 hours' = interval '1 day', interval '1 month' > interval '29 days', interval '1 month' = interval '30 days', interval '90 minutes' < interval '2 hours', interval '10:00' < interval '1 day', interval '1 day' is distinct from interval '24:00:00', interval '-1 day' < interval '00:00';

-- case interval_column_order_and_compare
create table tiv (k int, d interval);
insert into tiv values (1, '1 day'), (2, '10:00:00'), (3, '25 hours'), (4, '-1 day'), (5, '1 mon'), (6, null), (7, '2 hours');
select k, d, d > interval '1 day', d = '24:00:00' from tiv order by d, k;

-- case interval_column_min_max
create table tiv (d interval);
insert into tiv values ('1 day'), ('10:00:00'), ('25 hours'), ('3 days');
select min(d), max(d) from tiv;

-- case interval_where_param
-- params: ["1 day"]
select x from (values (interval '2 hours'), (interval '30 hours'), (interval '24:00')) v(x) where x >= $1::interval order by 1;

-- case interval_literal_mixed_signs
select interval '-1 day +02:00', interval '1 mon -1 day', interval '1' day, interval '90' minute, interval '1 day 2 hours', interval '@ 1 day ago';

-- case interval_justify_forms
select justify_hours(interval '36 hours'), justify_days(interval '40 days'), justify_interval(interval '1 month -1 hour'), justify_hours(interval '-50 hours'), justify_days(interval '-65 days'), justify_interval(interval '-1 month 40 days 30 hours');

-- case make_time_timestamp_interval
select make_time(1, 2, 3.5), make_time(23, 59, 0), make_timestamp(2024, 1, 2, 3, 4, 5), make_timestamp(2024, 2, 29, 0, 0, 1.25), make_interval(days => 3, hours => 2), make_interval(1, 2), make_interval(weeks => 1, secs => 1.5), make_interval();

-- case make_time_out_of_range
select make_time(25, 0, 0);

-- case isfinite_forms
select isfinite('infinity'::timestamp), isfinite(date '2024-01-01'), isfinite('-infinity'::timestamptz), isfinite(interval '1 day'), isfinite('-infinity'::date);

-- case time_minus_time
create table ttm (a time, b time);
insert into ttm values ('12:00', '10:30:15.5'), ('01:00', '23:00'), (null, '01:00');
select a - b, pg_typeof(a - b) from ttm;

-- case age_borrows
select age(timestamp '2024-03-01', timestamp '2024-01-31'), age(timestamp '2023-03-31 10:00', timestamp '2023-02-28 12:30'),
       age(timestamp '2020-01-20', timestamp '2024-03-15'), age(timestamp '2024-02-29', timestamp '2023-02-28'),
       age(timestamp '2024-05-01 00:00:00.5', timestamp '2024-04-30 23:59:59.75');

-- case date_part_units
select date_part('epoch', timestamp '2024-02-03 04:05:06.5'), date_part('month', date '2024-12-31'),
       date_part('doy', date '2024-12-31'), pg_typeof(date_part('day', date '2024-12-31')), extract(day from date '2024-12-31');

-- case at_time_zone_forms
set timezone = 'America/New_York';
select timestamp '2024-01-01 12:00' at time zone 'UTC', timestamptz '2024-01-01 12:00+00' at time zone 'Asia/Tokyo',
       '2024-01-01 12:00' at time zone 'UTC', timezone('UTC', timestamp '2024-06-01 00:00'),
       timestamp '2024-01-01 12:00' at time zone '+05', timestamp '2024-01-01 12:00' at time zone 'UTC+5',
       date '2024-01-01' at time zone 'UTC', pg_typeof(timestamp '2024-01-01' at time zone 'UTC');

-- case at_time_zone_dst_column
create table tz1 (t timestamptz);
insert into tz1 values ('2024-03-10 06:30:00+00'), ('2024-03-10 07:30:00+00'), ('2024-11-03 05:30:00+00');
select t at time zone 'America/New_York', (t at time zone 'America/New_York') at time zone 'Europe/Paris' from tz1 order by t;

-- case at_time_zone_bad_zone
select timestamp '2024-01-01 12:00' at time zone 'Nowhere/Zone';

-- case generate_series_timestamps
select * from generate_series(timestamp '2024-01-31', timestamp '2024-05-01', interval '1 month');

-- case generate_series_timestamptz_dst
set timezone = 'America/New_York';
select g from generate_series(timestamptz '2024-03-09 12:00-05', timestamptz '2024-03-11 12:00-04', interval '1 day') g;

-- case generate_series_backwards_hours
select g, pg_typeof(g) from generate_series(timestamp '2024-01-01 03:00', timestamp '2024-01-01 00:00', interval '-90 minutes') as g;

-- case generate_series_dates_select_list
select generate_series(date '2024-02-27', date '2024-03-01', interval '1 day')::date;

-- case generate_series_numeric
select * from generate_series(0.5, 2.0, 0.25);

-- case generate_series_zero_step_interval
select * from generate_series(timestamp '2024-01-01', timestamp '2024-01-02', interval '0 days');

-- case interval_avg_fractions
create table ti2 (g int, i interval);
insert into ti2 values (1, '1 mon'), (1, '2 days'), (1, '1 hour 30 minutes'), (2, '-3 days'), (2, '1 year 1 second'), (3, null);
select g, sum(i), avg(i), count(i) from ti2 group by g order by g;

-- case overlaps_forms
select (date '2024-01-01', date '2024-01-10') overlaps (date '2024-01-10', date '2024-01-20'),
       (date '2024-01-10', date '2024-01-01') overlaps (date '2024-01-05', date '2024-01-06'),
       (timestamp '2024-01-01', interval '1 day') overlaps (timestamp '2024-01-01 12:00', interval '1 hour'),
       (date '2024-01-01', null::date) overlaps (date '2024-01-05', date '2024-01-06'),
       (date '2024-01-01', null::date) overlaps (date '2023-01-05', date '2024-01-06'),
       (date '2024-01-05', date '2024-01-05') overlaps (date '2024-01-05', date '2024-01-05'),
       (time '10:00', time '11:00') overlaps (time '10:30', time '12:00');

-- case timestamp_precision_columns
create table tp (a timestamp(0), b timestamptz(2), c time(1));
insert into tp values ('2024-01-01 10:00:00.5', '2024-01-01 10:00:00.125+00', '10:00:00.25'), ('2024-12-31 23:59:59.6', '2024-01-01 10:00:00.999+00', '23:59:59.96');
select * from tp;

-- case timestamp_precision_casts
select '2024-01-01 10:00:00.55'::timestamp(1), '1999-12-31 23:59:59.5'::timestamp(0), '2000-01-01 00:00:00.5'::timestamp(0), '12:00:00.123456'::time(3);

-- case current_timestamp_precision
select current_timestamp(0) = date_trunc('second', current_timestamp(0)), pg_typeof(current_timestamp(2)), pg_typeof(localtimestamp(0));

-- case date_plus_time
select date '2024-02-29' + time '10:30:15.5', time '23:00' + date '2024-12-31', date '2024-01-01' + time '24:00', pg_typeof(date '2024-01-01' + time '01:00');

-- case interval_cast_column_name
select interval '90 minutes'::text, interval '1 day', '2 hours'::interval::text;

-- case timetz_normalized_equality
select '00:00-10:00'::timetz = '00:00:00-10:00'::timetz, '12:00+02'::timetz::text, '7:05 +0530'::timetz::text;

-- case timetz_comparisons_by_utc_then_zone
select '12:00+02'::timetz < '11:00+00'::timetz, '12:00+02'::timetz > '10:30+00'::timetz, '10:00+00'::timetz = '12:00+02'::timetz, '10:00+00'::timetz < '12:00+02'::timetz, '23:00-05'::timetz > '01:00+00'::timetz;

-- case timetz_order_by ordered
select x from (values ('12:00+02'::timetz), ('11:00+00'), ('10:30+00'), ('10:00+00')) v(x) order by x;

-- case timetz_order_by_position ordered
select x from (values ('12:00+02'::timetz), ('11:00+00'), ('10:30+00')) v(x) order by 1 desc;

-- case timestamptz_posix_zone_sign
set timezone to '-02:00';
select '2024-01-01 00:00+00'::timestamptz, '2024-06-01 12:00+00'::timestamptz::text;
