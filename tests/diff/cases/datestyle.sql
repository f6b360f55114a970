-- DateStyle (output style x field order) and IntervalStyle, compared with PostgreSQL 15: text results, ::text casts, arrays, input order of ambiguous dates, SET/SHOW/set_config parsing and errors.

-- case ds_iso_mdy_output
select '2003-02-01'::date, '2003-02-01 04:05:06.5'::timestamp, '2003-02-01 04:05:06+00'::timestamptz, '04:05:06.25'::time, '04:05:06+02'::timetz, '1 year 2 mons -3 days 04:05:06'::interval;

-- case ds_sql_mdy_output
set datestyle = 'SQL, MDY';
select '2003-02-01'::date, '2003-02-01 04:05:06.5'::timestamp, '2003-02-01 04:05:06+00'::timestamptz, '04:05:06.25'::time, '04:05:06+02'::timetz, '1 year 2 mons -3 days 04:05:06'::interval;

-- case ds_sql_dmy_output
set datestyle = 'SQL, DMY';
select '2003-02-01'::date, '2003-02-01 04:05:06.5'::timestamp, '2003-02-01 04:05:06+00'::timestamptz, '1999-12-31 23:59:59.999999'::timestamp;

-- case ds_sql_ymd_output
set datestyle = 'SQL, YMD';
select '2003-02-01'::date, '2003-02-01 04:05:06.5'::timestamp, '2003-02-01 04:05:06+00'::timestamptz;

-- case ds_postgres_mdy_output
set datestyle = 'Postgres, MDY';
select '2003-02-01'::date, '2003-02-01 04:05:06.5'::timestamp, '2003-02-01 04:05:06+00'::timestamptz, '2000-02-29 00:00:00'::timestamp;

-- case ds_postgres_dmy_output
set datestyle = 'Postgres, DMY';
select '2003-02-01'::date, '2003-02-01 04:05:06.5'::timestamp, '2003-02-01 04:05:06+00'::timestamptz, '1970-01-01 00:00:00'::timestamp;

-- case ds_postgres_ymd_output
set datestyle = 'Postgres, YMD';
select '2003-02-01'::date, '2003-02-01 04:05:06.5'::timestamp, '2003-02-01 04:05:06+00'::timestamptz;

-- case ds_german_output
set datestyle = 'German';
select '2003-02-01'::date, '2003-02-01 04:05:06.5'::timestamp, '2003-02-01 04:05:06+00'::timestamptz, current_setting('datestyle');

-- case ds_german_ymd_output
set datestyle = 'German, YMD';
select '2003-02-01'::date, '2003-02-01 04:05:06.5'::timestamp, current_setting('datestyle');

-- case ds_iso_dmy_output
set datestyle = 'ISO, DMY';
select '2003-02-01'::date, '2003-02-01 04:05:06.5'::timestamp, '2003-02-01 04:05:06+00'::timestamptz;

-- case ds_infinity_all_styles
set datestyle = 'Postgres, DMY';
select 'infinity'::date, '-infinity'::timestamp, 'infinity'::timestamptz;

-- case ds_timestamptz_zone_abbrevs
set datestyle = 'SQL, MDY';
set timezone = 'America/New_York';
select '2003-07-01 04:05:06.789+00'::timestamptz, '2003-01-01 04:05:06+00'::timestamptz;

-- case ds_timestamptz_kolkata_postgres
set datestyle = 'Postgres, MDY';
set timezone = 'Asia/Kolkata';
select '2003-07-01 04:05:06+00'::timestamptz;

-- case ds_timestamptz_berlin_german
set datestyle = 'German';
set timezone = 'Europe/Berlin';
select '2003-07-01 04:05:06+00'::timestamptz, '2003-12-01 04:05:06+00'::timestamptz;

-- case ds_timestamptz_posix_zone_sql
set datestyle = 'SQL';
set timezone = '<+03>-3';
select '2003-07-01 04:05:06+00'::timestamptz;

-- case ds_timestamptz_numeric_zone_sql
set datestyle = 'SQL';
set timezone = 3;
select '2003-07-01 04:05:06+00'::timestamptz;

-- case ds_text_casts
set datestyle = 'SQL, DMY';
select '2003-02-01'::date::text, '2003-02-01 10:00'::timestamp::text, '2003-02-01 10:00+00'::timestamptz::text, '2003-02-01'::date::varchar, to_char('2003-02-01'::date, 'YYYY-MM-DD');

-- case ds_arrays
set datestyle = 'SQL, MDY';
select array['2003-02-01'::date, '2004-01-01'], array['2003-02-01 10:00'::timestamp], array['2003-02-01 10:00+00'::timestamptz];

-- case ds_table_column_output ordered
set datestyle = 'German';
create table ds_t (d date, ts timestamp, i interval);
insert into ds_t values ('2003-02-01', '2003-02-01 10:00:00', '1 day'), ('1999-12-31', '1999-12-31 23:59:59', '-2 hours');
select d, ts, i from ds_t order by d;

-- case ds_arithmetic_results
set datestyle = 'Postgres, DMY';
select '2003-07-01'::date - 1, '2003-07-01'::date + interval '1 day', date_trunc('month', '2003-07-11'::timestamp), extract(year from '2003-07-01'::date);

-- case ds_to_json_stays_iso
set datestyle = 'SQL, DMY';
select to_json('2003-02-01'::date), to_jsonb('2003-02-01'::date);

-- case ds_input_dmy
set datestyle = 'DMY';
select '01/02/03'::date, '1.2.2003'::date, '01-02-03'::date, '13/01/2003'::date, '01/02/2003 10:00'::timestamp;

-- case ds_input_ymd
set datestyle = 'YMD';
select '01/02/03'::date, '03-02-01'::date, 'Feb 03 2003'::date, '2003 Feb 03'::date;

-- case ds_input_mdy
set datestyle = 'MDY';
select '01-02-03'::date, '1.2.2003'::date, '01/02/2003'::date;

-- case ds_input_text_months_dmy
set datestyle = 'DMY';
select 'Feb 3 2003'::date, '3 Feb 2003'::date, '2003-Feb-03'::date, '03-Feb-2003'::date, 'Feb-03-2003'::date;

-- case ds_input_dmy_out_of_range
set datestyle = 'DMY';
select '01/13/2003'::date;

-- case ds_input_ymd_out_of_range
set datestyle = 'YMD';
select '2003/13/01'::date;

-- case ds_input_dmy_timestamptz
set datestyle = 'SQL, DMY';
select '01/02/2003 10:00+02'::timestamptz, '01/02/2003'::text::date;

-- case ds_input_dmy_table
set datestyle = 'DMY';
create table ds_in (d date);
insert into ds_in values ('05/04/2003'), ('2003-04-06');
select d::text from ds_in order by d;

-- case ds_input_dmy_parameter
-- params: ["05/04/2003"]
set datestyle = 'DMY';
select $1::date::text;

-- case ds_set_german_keeps_dmy
set datestyle = 'SQL, YMD';
set datestyle = 'German';
show datestyle;

-- case ds_set_postgres_keeps_order
set datestyle = 'SQL, YMD';
set datestyle = 'Postgres';
show datestyle;

-- case ds_set_order_only
set datestyle = 'DMY';
show datestyle;

-- case ds_set_euro
set datestyle = 'euro';
show datestyle;

-- case ds_set_us_german
set datestyle = 'us, german';
show datestyle;

-- case ds_set_default
set datestyle = 'SQL, DMY';
set datestyle = default;
show datestyle;

-- case ds_set_sql_default
set datestyle = 'sql, default';
show datestyle;

-- case ds_set_list_form
set datestyle to sql, dmy;
show datestyle;

-- case ds_set_conflicting
set datestyle = 'sql, iso';

-- case ds_set_unknown_word
set datestyle = 'foo';

-- case ds_set_bad_list
set datestyle = 'SQL DMY';

-- case ds_set_config
-- (a SET in the case makes the harness RESET ALL after it: set_config's value survives ROLLBACK on Strata)
set extra_float_digits = 1;
select set_config('datestyle', 'postgres,ymd', false), current_setting('DateStyle');

-- case is_postgres_verbose
set intervalstyle = postgres_verbose;
select '1 year 2 mons -3 days 04:05:06.5'::interval, '0'::interval, '-1 day'::interval, '1 day -00:00:01'::interval, '-1 year -2 mons'::interval, '-04:05:06'::interval, '-1 days +2 hours'::interval, '-1.5 seconds'::interval, '1 sec'::interval, '-0.5 sec'::interval;

-- case is_sql_standard
set intervalstyle = sql_standard;
select '1 year 2 mons -3 days 04:05:06.5'::interval, '0'::interval, '-1 day'::interval, '1 day -00:00:01'::interval, '-1 year -2 mons'::interval, '3 mons'::interval, '-04:05:06'::interval, '1 year 2 mons 3 days'::interval, '4 days 00:00:00.000001'::interval, '-1.5 seconds'::interval, '10 days'::interval;

-- case is_iso_8601
set intervalstyle = iso_8601;
select '1 year 2 mons -3 days 04:05:06.5'::interval, '0'::interval, '-1 day'::interval, '1 day -00:00:01'::interval, '-1 year -2 mons'::interval, '-04:05:06'::interval, '-1 days +2 hours'::interval, '-1.5 seconds'::interval, array['1 day'::interval, '2 hours'], '1 day'::interval::text;

-- case is_show_and_error
set intervalstyle = 'SQL_STANDARD';
show intervalstyle;

-- case is_bad_value
set intervalstyle = foo;

-- case is_sql_standard_negative_input
set intervalstyle = sql_standard;
select '-1 year 2 mons'::interval;

-- case ds_concat_with_text
set datestyle = 'SQL, DMY';
select 'on ' || '2003-02-01'::date, 'at ' || '2003-02-01 10:00'::timestamp;

-- case ds_input_dmy_typed_literals
set datestyle = 'DMY';
select date '01/02/2003', timestamp '01/02/2003 10:00', cast('01/02/2003' as date);

-- case ds_set_config_then_output
set extra_float_digits = 1;
select set_config('datestyle', 'SQL, DMY', false);
select set_config('intervalstyle', 'iso_8601', false);
select '2003-02-01'::date, '1 day'::interval;

-- case is_sql_standard_input_forms
select '1 2:03:04'::interval, '1-2'::interval, '-1-2'::interval, '1-2 3 4:05:06'::interval, '3 4:05'::interval, '-1 2:03:04'::interval, '1.5 2:00'::interval;

-- case is_sql_standard_output_reads_back
select '+1-2 -3 +4:05:06.5'::interval, '+0-0 +1 -0:00:01'::interval, '-1 0:00:00'::interval, '4 0:00:00.000001'::interval, '1-0'::interval;

-- case is_two_bare_numbers
select '2 3'::interval;

-- case is_year_month_out_of_range
select '1-13'::interval;

-- case is_sql_standard_negative_forms
set intervalstyle = sql_standard;
select '-1 2:03:04'::interval, '-1-2'::interval, '1 year -2 mons'::interval, '-1 day'::interval, '-1 year 2 mons'::text::interval;

-- case is_sql_standard_bad_negative
set intervalstyle = sql_standard;
select '-1 2'::interval;
