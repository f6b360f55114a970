-- Dates before the year 1 (BC) and after 9999 for date, timestamp and timestamptz, as PostgreSQL 15 (date: 4713 BC .. 5874897 AD; timestamp: 4713 BC .. 294276 AD). Stored with a prefix that keeps SQLite's bytewise order ('/' + complemented year for BC, ':' + 7-digit year past 9999; see compute/pgtypes/widedates.py).

-- case bc_year_one_and_9999
select '0001-01-01'::date, '9999-12-31'::date, '0001-01-01 00:00:00'::timestamp, '9999-12-31 23:59:59.999999'::timestamp, extract(year from '0001-01-01'::date);

-- case bc_ad_suffix_accepted
select '0044-03-15 AD'::date, 'March 15, 44 AD'::date;

-- case bc_to_char_ad_era
select to_char('0044-03-15'::date, 'YYYY BC'), to_char('2003-02-01'::date, 'YYYY A.D.'), to_char('0001-01-01'::date, 'Y,YYY ad');

-- case bc_two_digit_bc_year
select '44-03-15 BC'::date;

-- case bc_year_zero
select make_date(0, 3, 15);

-- case bc_date_literal
select '0044-03-15 BC'::date, '4714-11-24 BC'::date, '0001-12-31 BC'::date;

-- case bc_timestamp_literal
select '0044-03-15 12:00 BC'::timestamp, '0044-03-15 12:00:01.25 BC'::timestamp;

-- case bc_timestamptz_literal
select '0044-03-15 12:00 BC'::timestamptz, '0044-03-15 12:00+02 BC'::timestamptz;

-- case bc_month_name_form
select 'March 15, 44 BC'::date, '15 March 44 BC'::date;

-- case bc_date_minus_days
select '0001-01-01'::date - 1, '0001-01-01'::date - 366, '0044-03-15 BC'::date + 20000;

-- case bc_date_minus_interval
select '0001-01-01'::date - interval '1 day', '0044-03-15 BC'::date + interval '1 month 2 days';

-- case bc_timestamp_minus_interval
select '0001-01-01 00:00'::timestamp - interval '1 day', '0001-03-01 00:00'::timestamp - interval '1 year 1 hour';

-- case bc_timestamptz_minus_interval
select '0001-01-01 00:00:00+00'::timestamptz - interval '1 hour', '0010-01-01 00:00+00'::timestamptz - interval '20 years';

-- case bc_make_date
select make_date(-44, 3, 15), make_date(-1, 12, 31), make_date(10000, 1, 1);

-- case bc_make_timestamp
select make_timestamp(-44, 3, 15, 10, 30, 0);

-- case bc_extract_year
select extract(year from '0001-01-01'::date - 1), extract(year from '0044-03-15 BC'::date), extract(century from '0044-03-15 BC'::date), extract(millennium from '0044-03-15 BC'::date), extract(decade from '0044-03-15 BC'::date);

-- case bc_extract_fields
select extract(month from '0044-03-15 BC'::date), extract(day from '0044-03-15 BC'::date), extract(dow from '0044-03-15 BC'::date), extract(doy from '0044-03-15 BC'::date), extract(epoch from '0044-03-15 BC'::date), extract(isoyear from '0044-03-15 BC'::date), extract(week from '0044-03-15 BC'::date);

-- case bc_extract_timestamp
select date_part('hour', '0044-03-15 13:14:15 BC'::timestamp), date_part('year', '12345-06-07 10:00'::timestamp), extract(epoch from '0044-03-15 12:00 BC'::timestamptz);

-- case big_year_date
select '10000-01-01'::date, '5874897-12-31'::date, '12345-06-07'::date;

-- case big_year_date_arithmetic
select '9999-12-31'::date + 1, '10000-01-01'::date - '9999-12-31'::date, '10000-03-01'::date - interval '1 day';

-- case big_year_timestamp
select '12345-06-07 10:00'::timestamp, '294276-12-31 23:59:59.999999'::timestamp, '12345-06-07 10:00+00'::timestamptz;

-- case bc_date_out_of_range
select '4714-11-23 BC'::date;

-- case big_date_out_of_range
select '5874898-01-01'::date;

-- case big_timestamp_out_of_range
select '294277-01-01'::timestamp;

-- case bc_date_arith_out_of_range
select '4714-11-24 BC'::date - 1;

-- case bc_date_difference_across_year_zero
select '0001-01-01'::date - '0001-12-31 BC'::date, '0044-03-15 BC'::date - '2000-01-01'::date, '2000-01-01'::date - '0044-03-15 BC'::date;

-- case bc_timestamp_difference
select '0001-01-01 00:00'::timestamp - '0001-12-31 12:00 BC'::timestamp, '0044-03-15 BC'::timestamp - '0044-03-16 06:00 BC'::timestamp;

-- case bc_casts
select '0044-03-15 12:00 BC'::timestamp::date, '0044-03-15 BC'::date::timestamp, '0044-03-15 BC'::date::timestamptz, '0044-03-15 12:00 BC'::timestamptz::timestamp, '0044-03-15 12:00 BC'::timestamptz::date, '0044-03-15 13:14 BC'::timestamp::time;

-- case bc_text_casts
select '0044-03-15 BC'::date::text, '12345-06-07 10:00'::timestamp::text, ('0044-03-15 BC'::date)::varchar, '0044-03-15 12:00 BC'::timestamptz::text;

-- case bc_sort_in_table
create table bcd (d date, t timestamp, tz timestamptz);
insert into bcd values ('2000-01-01', '2000-01-01 00:00', '2000-01-01 00:00+00'), ('0044-03-15 BC', '0044-03-15 12:00 BC', '0044-03-15 12:00+00 BC'), ('0001-12-31 BC', '0001-12-31 23:59 BC', '0001-12-31 23:59+00 BC'), ('4714-11-24 BC', '4714-11-24 00:00 BC', '4714-11-24 00:00+00 BC'), ('10000-01-01', '10000-01-01 00:00', '10000-01-01 00:00+00'), ('9999-12-31', '9999-12-31 23:59', '9999-12-31 23:59+00'), ('0001-01-01', '0001-01-01 00:00', '0001-01-01 00:00+00'), ('infinity', 'infinity', 'infinity'), ('-infinity', '-infinity', '-infinity'), ('123456-01-01', '123456-01-01 00:00', '123456-01-01 00:00+00'), ('0100-01-01 BC', '0100-01-01 00:00 BC', '0100-01-01 00:00+00 BC');
select d, t, tz from bcd order by d;

-- case bc_sort_desc_timestamp
create table bct (t timestamp);
insert into bct values ('0044-03-15 12:00 BC'), ('0044-03-15 11:00 BC'), ('0045-03-15 12:00 BC'), ('0001-01-01 00:00'), ('20000-01-01 00:00'), ('3000-01-01 00:00 BC');
select t from bct order by t desc;

-- case bc_min_max_compare
create table bcm (d date);
insert into bcm values ('0044-03-15 BC'), ('2024-01-01'), ('10000-01-01'), ('0002-01-01 BC');
select min(d), max(d), count(*) filter (where d < '0001-01-01'), count(*) filter (where d between '0050-01-01 BC' and '0001-01-01') from bcm;

-- case bc_index_lookup
create table bci (id int primary key, d date);
create index bci_d on bci (d);
insert into bci values (1, '0044-03-15 BC'), (2, '2024-01-01'), (3, '10000-01-01'), (4, '0002-01-01 BC'), (5, '0044-03-16 BC');
select id, d from bci where d >= '0044-03-15 BC' and d < '0001-01-01' order by d;

-- case bc_compare_date_timestamp
select '0044-03-15 BC'::date < '0044-03-15 12:00 BC'::timestamp, '0044-03-15 BC'::date > '0045-03-15 BC'::date, '10000-01-01'::date > '9999-12-31'::date, '-infinity'::date < '4714-11-24 BC'::date, 'infinity'::date > '5874897-12-31'::date;

-- case bc_generate_series
select * from generate_series('0001-12-30 BC'::timestamp, '0001-01-02'::timestamp, interval '1 day');

-- case bc_datestyle_sql
set datestyle = 'SQL, DMY';
select '0044-03-15 BC'::date, '0044-03-15 12:00 BC'::timestamp, '0044-03-15 12:00 BC'::timestamptz, '12345-06-07'::date;

-- case bc_datestyle_german
set datestyle = 'German';
select '0044-03-15 BC'::date, '0044-03-15 12:00 BC'::timestamp, '0044-03-15 12:00 BC'::timestamptz, '12345-06-07 10:00'::timestamp;

-- case bc_datestyle_postgres
set datestyle = 'Postgres, MDY';
select '0044-03-15 BC'::date, '0044-03-15 12:00 BC'::timestamp, '0044-03-15 12:00 BC'::timestamptz, '12345-06-07 10:00'::timestamp;

-- case bc_timezone_lmt
set timezone = 'America/New_York';
select '0044-03-15 12:00 BC'::timestamptz, '12345-07-01 12:00'::timestamptz;

-- case bc_arrays
select array['0044-03-15 BC'::date, '12345-01-01'::date], array['0044-03-15 12:00 BC'::timestamp];

-- case bc_parameter_text
-- params: ["0044-03-15 BC", "12345-06-07 10:00"]
select $1::date, $2::timestamp;

-- refused bc_to_date
select to_date('0044-03-15 BC', 'YYYY-MM-DD BC');

-- refused bc_to_timestamp
select to_timestamp('0044 BC', 'YYYY BC');

-- case bc_to_char_bc_value
select to_char('0044-03-15 BC'::date, 'YYYY-MM-DD BC'), to_char('0044-03-15 BC'::date, 'YYYY B.C. ad'), to_char('12345-06-07'::date, 'YYYY-MM-DD AD');

-- refused bc_date_trunc
select date_trunc('month', '0044-03-15 12:00 BC'::timestamp);

-- refused bc_age
select age('0044-03-15 BC'::timestamp, '0001-01-01'::timestamp);

-- case bc_column_text_casts
create table bcx (d date, t timestamp, tz timestamptz);
insert into bcx values ('0044-03-15 BC', '12345-06-07 10:00', '0044-03-15 12:00+00 BC');
select d::text, t::text, tz::text, d || '!', t || '!', t::varchar, to_json(d) from bcx;
