-- to_char() for timestamps, timestamptz, dates, intervals and numbers; date/time input forms.

-- case tc_ts_fields
select to_char(timestamp '2024-02-03 14:05:06.123456', 'YYYY-MM-DD HH24:MI:SS.US'), to_char(timestamp '2024-02-03 14:05:06.123456', 'HH HH12 MI SS MS US'), to_char(timestamp '2024-02-03 14:05:06.123456', 'FF1 FF2 FF3 FF4 FF5 FF6'), to_char(timestamp '2024-02-03 14:05:06.5', 'SSSS SSSSS');

-- case tc_ts_meridian
select to_char(timestamp '2024-02-03 00:00:00', 'HH12 AM PM am pm A.M. P.M. a.m. p.m.'), to_char(timestamp '2024-02-03 12:00:00', 'HH12 AM pm P.M. a.m.'), to_char(timestamp '2024-02-03 11:59:59', 'HH:MI:SS AM'), to_char(timestamp '2024-02-03 23:59:59', 'HH12 HH24 am');

-- case tc_ts_years
select to_char(timestamp '2024-02-03 00:00', 'Y,YYY YYYY YYY YY Y'), to_char(timestamp '0005-06-07 00:00', 'Y,YYY YYYY YYY YY Y'), to_char(timestamp '9999-12-31 00:00', 'Y,YYY FMYYYY CC'), to_char(date '2000-01-01', 'CC YYYY'), to_char(date '2001-01-01', 'CC FMCC CCth');

-- case tc_ts_iso_weeks
select to_char(date '2021-01-01', 'IYYY IYY IY I IW IDDD ID'), to_char(date '2020-12-31', 'IYYY-IW-ID IDDD'), to_char(date '2024-12-30', 'IYYY IW'), to_char(date '2027-01-03', 'IYYY IW ID FMIDDD'), to_char(date '2024-01-01', 'IYYY IW WW W');

-- case tc_ts_era
select to_char(date '2024-02-03', 'BC AD B.C. A.D. bc ad b.c. a.d.');

-- case tc_ts_month_names
select to_char(date '2024-09-03', 'MONTH|Month|month|MON|Mon|mon|MM'), to_char(date '2024-05-03', 'FMMONTH|FMMonth|FMmonth|TMMonth|'), to_char(date '2024-12-25', 'RM|rm|FMRM|'), to_char(date '2024-01-25', 'RM|rm|');

-- case tc_ts_day_names
select to_char(date '2024-02-03', 'DAY|Day|day|DY|Dy|dy'), to_char(date '2024-02-04', 'FMDAY|FMDay|FMday|D|ID'), to_char(date '2024-02-07', 'Day FMDay TMDay');

-- case tc_ts_day_numbers
select to_char(date '2024-02-03', 'DDD IDDD DD D ID W WW IW J Q'), to_char(date '2024-12-31', 'DDD FMDDD WW W Q J'), to_char(date '2024-02-29', 'DDD DD MM Q W WW');

-- case tc_ts_ordinals
select to_char(date '2024-02-01', 'DDth DDTH FMDDth'), to_char(date '2024-02-02', 'FMDDth FMDDTH'), to_char(date '2024-02-03', 'FMDDth'), to_char(date '2024-02-11', 'FMDDth'), to_char(date '2024-02-12', 'FMDDth'), to_char(date '2024-02-13', 'FMDDth'), to_char(date '2024-02-21', 'FMDDth'), to_char(date '2024-02-22', 'FMDDth'), to_char(date '2024-02-23', 'FMDDth');

-- case tc_ts_ordinals_more
select to_char(timestamp '2024-03-21 13:02:03', 'FMMMth FMHH24th FMHH12th FMMIth FMSSth FMDDDth FMCCth FMYYYYth Qth Wth FMWWth FMIWth Jth Dth IDth');

-- case tc_ts_fill_mode
select to_char(date '2024-02-03', 'FMDay FMMonth FMDD'), to_char(timestamp '2024-02-03 04:05:06', 'FMHH12:MI'), to_char(date '2024-02-03', 'YY Q WW DDD D'), to_char(timestamp '2024-02-03 04:05:06', 'FMHH24:FMMI:FMSS FMMM/FMDD/FMYYYY');

-- case tc_ts_quoting
select to_char(timestamp '2024-02-03 14:05:06', 'YYYY"T"HH24'), to_char(timestamp '2024-02-03 14:05:06', '"Year" YYYY "of the day" DD'), to_char(timestamp '2024-02-03 14:05:06', '"quote \" inside" HH24'), to_char(timestamp '2024-02-03 14:05:06', '\"HH24\" HH24'), to_char(timestamp '2024-02-03 14:05:06', 'YYYY\MM'), to_char(timestamp '2024-02-03 14:05:06', '"unterminated YYYY');

-- case tc_ts_literals_and_case
select to_char(timestamp '2024-02-03 14:05:06', 'Hh hh Mi mi yyyy Dd dd'), to_char(timestamp '2024-02-03 14:05:06', 'FXYYYY-MM-DD'), to_char(timestamp '2024-02-03 14:05:06', 'x FM * YYYY! %'), to_char(timestamp '2024-02-03 14:05:06', 'YYYYMMDDHH24MISS');

-- case tc_ts_empty_format
select to_char(timestamp '2024-02-03 14:05:06', ''), to_char(null::timestamp, 'YYYY'), to_char(timestamp '2024-02-03', null), to_char('infinity'::timestamp, 'YYYY');

-- case tc_ts_tz_fields_timestamp
select to_char(timestamp '2024-02-03 14:05:06', 'TZ|tz|TZH|TZM|OF|');

-- case tc_tstz_utc
select to_char(timestamptz '2024-02-03 14:05:06+00', 'YYYY-MM-DD HH24:MI:SS TZ tz TZH:TZM OF');

-- case tc_tstz_new_york
set timezone = 'America/New_York';
select to_char(timestamptz '2024-01-03 14:05:06+00', 'YYYY-MM-DD HH24:MI TZ OF TZH TZM'), to_char(timestamptz '2024-07-03 14:05:06+00', 'HH24 TZ tz OF FMOF');

-- case tc_tstz_half_hour_zone
set timezone = 'Asia/Kolkata';
select to_char(timestamptz '2024-01-02 23:00:00+00', 'YYYY-MM-DD HH24:MI TZ OF TZH TZM FMOF');

-- case tc_tstz_negative_half_hour
set timezone = 'America/St_Johns';
select to_char(timestamptz '2024-01-02 02:00:00+00', 'DD HH24:MI TZ OF TZH:TZM');

-- case tc_tstz_numeric_abbrev
set timezone = 'America/Sao_Paulo';
select to_char(timestamptz '2024-01-02 02:00:00+00', 'DD HH24:MI TZ tz OF');

-- case tc_date_is_timestamptz
set timezone = 'Europe/Berlin';
select to_char(date '2024-07-01', 'YYYY-MM-DD HH24:MI TZ OF'), to_char(date '2024-01-01', 'TZ');

-- case tc_ts_leap_day
select to_char(date '2024-02-29', 'FMDay, FMMonth FMDDth, YYYY (DDD)'), to_char(date '2000-02-29', 'DDD IW IYYY'), to_char(date '1900-03-01', 'DDD DAY');

-- case tc_ts_noon_midnight_edges
create table tce (t timestamp);
insert into tce values ('2024-02-03 00:00:00'), ('2024-02-03 00:59:59'), ('2024-02-03 11:59:59.999999'), ('2024-02-03 12:00:00'), ('2024-02-03 12:30:00'), ('2024-02-03 13:00:00'), ('2024-02-03 23:59:59');
select t, to_char(t, 'HH12:MI:SS AM'), to_char(t, 'HH24 FMHH12 pm a.m.') from tce order by t;

-- case tc_ts_table_many
create table tcm (t timestamp);
insert into tcm values ('1999-12-31 23:59:59'), ('2000-01-01 00:00:00'), ('2004-02-29 06:07:08.09'), ('2010-01-03 10:00'), ('1582-10-15 00:00'), ('0001-01-01 00:00'), ('2100-03-01 12:00');
select to_char(t, 'YYYY IYYY MM DD DDD IDDD WW IW D ID J Q CC Day Mon') from tcm order by t;

-- case bc_date_input
select to_char(date '0044-03-15 BC', 'YYYY BC');

-- case tc_interval_fields
select to_char(interval '1 year 2 mons 3 days 04:05:06.789', 'YYYY MM DD HH HH24 MI SS MS US'), to_char(interval '15 hours 2 minutes', 'HH24:MI AM'), to_char(interval '100 hours', 'HH24 HH12 DD'), to_char(interval '0', 'HH24:MI:SS');

-- case tc_interval_negative
select to_char(interval '-1 year -2 mons -3 days -04:05:06.789', 'YYYY MM DD HH HH24 MI SS MS US AM DDD WW J CC Q RM'), to_char(interval '-00:00:00.5', 'SS MS US FF2');

-- case tc_interval_more
select to_char(interval '12 mons', 'YYYY MM RM Q'), to_char(interval '-12 mons', 'YYYY MM RM'), to_char(interval '13 mons 40 days', 'Y,YYY MM DD DDD W WW'), to_char(interval '1000 years', 'Y,YYY CC'), to_char(interval '123456 hours', 'HH24 SSSS');

-- case tc_interval_month_name_refused
select to_char(interval '1 mon', 'Mon');

-- case tc_interval_day_refused
select to_char(interval '1 day', 'Day');

-- case tc_interval_tz_refused
select to_char(interval '1 day', 'TZ');

-- case tc_interval_era_refused
select to_char(interval '1 year', 'AD');

-- case tc_time_as_interval
select to_char(time '13:45:10.5', 'HH12:MI:SS.MS AM HH24'), to_char(time '00:00', 'HH HH24 am'), to_char(time '23:59:59.999999', 'HH24:MI:SS.US');

-- case tc_time_day_refused
select to_char(time '13:45', 'DY');

-- case tc_num_basic
select to_char(1234.5, '9999.99'), to_char(42, '000'), to_char(1234567.891, 'FM999,999,990.00'), to_char(-5, '999'), to_char(0, '999'), to_char(0, '9.99'), to_char(0.5, '0.99'), to_char(-0.5, '9.99');

-- case tc_num_overflow
select to_char(1234, '99'), to_char(123.456, '9.99'), to_char(-1234, '999.9'), to_char(0.5, '.99'), to_char(12, 'FM9.99'), to_char(99.995, '99.99');

-- case tc_num_rounding
select to_char(0.125, '9.99'), to_char(-0.125, '9.99'), to_char(2.5, '9'), to_char(-2.5, '9'), to_char(1.005, '9.99'), to_char(0.999, '9.99'), to_char(9.5, '9');

-- case tc_num_fill_mode
select to_char(12, 'FM9999'), to_char(12, 'FM0999'), to_char(12.5, 'FM999.99'), to_char(12, 'FM999.99'), to_char(12.5, 'FM99.00'), to_char(0, 'FM9.99'), to_char(0.1, 'FM0.0000'), to_char(-12.5, 'FM999.99');

-- case tc_num_zero_padding
select to_char(5, '0999.90'), to_char(-5, '0999.90'), to_char(12.5, '9990.999'), to_char(0.05, '90.099'), to_char(3, '00.00'), to_char(-0.001, '0.0000');

-- case tc_num_signs
select to_char(485, 'S999'), to_char(-485, 'S999'), to_char(485, '999S'), to_char(-485, '999S'), to_char(485, '999MI'), to_char(-485, '999MI'), to_char(-485, 'MI999'), to_char(485, 'PL999'), to_char(485, '999PL'), to_char(-485, '999PL');

-- case tc_num_signs_more
select to_char(485, 'SG999'), to_char(-485, 'SG999'), to_char(-485, '999SG'), to_char(485, '999PR'), to_char(-485, '999PR'), to_char(-485, 'FM999PR'), to_char(485, 'FM999PR'), to_char(-485.5, '999.999PR'), to_char(-12.34, 'S9,999.99'), to_char(12.34, '9,999.99S'), to_char(-3, 'FMS999'), to_char(-3, 'FM999MI');

-- case tc_num_separators
select to_char(1234567, '9,999,999'), to_char(1234567, '9G999G999'), to_char(1234.5, '9G999D99'), to_char(12, '9,999'), to_char(12, 'FM9,999'), to_char(-1234.5, 'L9G999D99'), to_char(5, 'L999');

-- case tc_num_eeee
select to_char(12345, '9.99EEEE'), to_char(0.0001, '0.99EEEE'), to_char(-12345.678, '99.9EEEE'), to_char(0, '9.99EEEE'), to_char(9.99, '9.9EEEE'), to_char(1234567890123::bigint, '9.999EEEE'), to_char(125, '9.9EEEE'), to_char(125::numeric, '9.9EEEE');

-- case tc_num_eeee_float
select to_char(12345::float8, '9.99EEEE'), to_char(-0.000123::float8, '9.9EEEE'), to_char('Infinity'::float8, '9EEEE'), to_char(1.5::real, '9.9EEEE');

-- case tc_num_eeee_not_last
select to_char(1, '9EEEE9');

-- case tc_num_eeee_with_sign
select to_char(1, 'S9.9EEEE');

-- case tc_num_multiply_v
select to_char(12, '99V99'), to_char(12.345, '99V99'), to_char(-12, '99V9'), to_char(0.05, '9V9'), to_char(123::bigint, '999V999'), to_char(12.5::float8, '99V9');

-- case tc_num_ordinal
select to_char(1, '999th'), to_char(2, '999TH'), to_char(3, 'FM999th'), to_char(11, 'FM999th'), to_char(12, 'FM999th'), to_char(13, 'FM999th'), to_char(21, 'FM999TH'), to_char(112, 'FM999th'), to_char(-1, '999th'), to_char(1.5, '9.9th');

-- case tc_num_roman
select to_char(1, 'RN'), to_char(4, 'FMRN'), to_char(1994, 'RN'), to_char(3999, 'rn'), to_char(4000, 'RN'), to_char(0, 'RN'), to_char(2.5, 'FMRN'), to_char(3.5::float8, 'FMRN');

-- case tc_num_literals
select to_char(42, '"val:"999'), to_char(42, '999" units"'), to_char(42, 'xx 9 yy 9 zz'), to_char(7, '\"9\"'), to_char(42, '99 "9"'), to_char(42, '');

-- case tc_num_types
select to_char(42::smallint, '999'), to_char(42::int, '999.9'), to_char(-9223372036854775808::bigint, '9999999999999999999'), to_char(9223372036854775807::bigint, 'FM9,999,999,999,999,999,999'), to_char(1.5::real, '9.999'), to_char(1234567.891::float8, '9999999.999999999'), to_char(0.1::real, '9.9999999');

-- case tc_num_float_digits
select to_char(123456789012345678::float8, '999999999999999999.99'), to_char(1.23456789012345678::float8, '9.99999999999999999'), to_char(1234567::real, '9999999.99'), to_char(0.5::float8, '9'), to_char(1.5::float8, '9'), to_char(-2.5::float8, '9');

-- case tc_num_special_values
select to_char('NaN'::numeric, '999.99'), to_char('Infinity'::float8, '999'), to_char('-Infinity'::float8, '9999.99'), to_char('Infinity'::real, '99.9'), to_char('-Infinity'::numeric, '9999999999');

-- case tc_num_large
select to_char(123456789012345678901234567890::numeric, '999,999,999,999,999,999,999,999,999,999'), to_char(-0.000000001::numeric, '0.999999999'), to_char(1e20::numeric, '9.99EEEE'), to_char(1234567890::bigint * 1000, 'FM999G999G999G999G999');

-- case tc_num_table
create table tcn (n numeric, i int, f float8);
insert into tcn values (0, 0, 0), (1.5, 1, 1.5), (-1.5, -1, -1.5), (1234.567, 1234, 1234.567), (-99999.999, -99999, -99999.999), (0.001, 7, 0.001), (null, null, null);
select to_char(n, 'S99,990.00'), to_char(i, 'FM0000PR'), to_char(f, '99999.9MI'), to_char(n, 'FM99999.999') from tcn order by i nulls last;

-- case tc_num_bad_combination
select to_char(1, '9.9.9');

-- case tc_num_s_and_mi
select to_char(1, 'S999MI');

-- case tc_num_pr_then_digit
select to_char(1, '99PR9');

-- case tc_num_v_and_point
select to_char(1, '99V9.9');

-- case tc_unknown_arg
select to_char('2024-01-01', 'YYYY');

-- case tc_text_arg
select to_char('2024-01-01'::text, 'YYYY');

-- case tc_params
-- params: ["2024-02-03 04:05:06", "FMDay FMDDth FMMonth YYYY"]
select to_char($1::timestamp, $2);

-- case tc_format_from_column
create table tcf (f text);
insert into tcf values ('YYYY'), ('FMMonth'), ('HH24:MI'), ('"q"DD'), (''), (null);
select f, to_char(timestamp '2024-09-08 07:06:05', f), to_char(1234.5, coalesce(nullif(f, ''), '9')) from tcf order by f nulls last;

-- date/time input forms (DateStyle ISO, MDY)

-- case din_month_names
select 'January 8, 1999'::date, 'jan 8 1999'::date, '8 jan 1999'::date, 'Friday, January 8, 1999'::date, 'Sat Jan 8 1999'::date, '1999 Jan 8'::date, 'Feb 29 2024'::date, 'DECEMBER 31, 1999'::date;

-- case din_dashed_month_names
select '1999-Jan-08'::date, 'Jan-08-1999'::date, '08-Jan-1999'::date, '08-Jan-99'::date, 'Jan-08-99'::date, '1999-sept-30'::date;

-- case din_mdy_numbers
select '1/8/1999'::date, '1/18/1999'::date, '01/02/03'::date, '1999/01/08'::date, '1-8-1999'::date, '1/8/99'::date, '1/8/69'::date, '1/8/70'::date, '1/8/100'::date;

-- case din_dots_and_compact
select '1999.01.08'::date, '01.08.1999'::date, '8.1.1999'::date, '19990108'::date, '990108'::date, '240102'::date, '1999.008'::date, '1999-008'::date, '2024 01 02'::date;

-- case din_julian
select 'J2451187'::date, 'J 2451187'::date, 'J2460000 10:00'::date, 'J2451187'::timestamp;

-- case din_date_with_time_and_zone
select '1999-01-08 04:05:06'::date, '2024-02-03T10:00'::date, '2024-01-02 +05'::date, '2024-01-02 EST'::date, '2024-01-02 04:05 PM'::date, '2024-01-02 allballs'::date;

-- case din_special_words
select 'epoch'::date, 'epoch'::timestamp, 'epoch'::timestamptz, 'allballs'::time, 'today'::date = current_date, 'tomorrow'::date - 'yesterday'::date, 'now'::timestamptz <= now() + interval '1 minute', 'today'::timestamp = current_date::timestamp;

-- case din_special_words_tz
set timezone = 'Asia/Tokyo';
select 'epoch'::timestamptz, 'today'::timestamptz = current_date::timestamptz, 'allballs'::time;

-- case din_timestamps
select 'January 8, 1999 04:05:06 PM'::timestamp, 'Jan 8 1999 4:05pm'::timestamp, '1/8/1999 4:00pm'::timestamp, '12/31/99 23:59:59.999999'::timestamp, 'December 31, 1999 11:59:59 PM'::timestamp, '19990108 040506'::timestamp, '19990108T040506'::timestamp, '1999-01-08 040506'::timestamp;

-- case din_timestamps_edges
select '2024-01-02 12:00 AM'::timestamp, '2024-01-02 12:30 PM'::timestamp, '2024-01-02 24:00:00'::timestamp, '2024-01-02 23:59:60'::timestamp, '2024-01-02 10:00:00.1234567'::timestamp, '2024-1-02 1:2:3'::timestamp, '  2024-01-02  '::timestamp;

-- case din_timestamptz_zones
select 'Mon, 08 Jan 2024 10:00:00 GMT'::timestamptz, 'Jan 8 1999 10:00 PM +02'::timestamptz, '1999-01-08 04:05:06 America/New_York'::timestamptz, '1999-01-08 04:05:06-08:00'::timestamptz, '1999-01-08 04:05:06 -8'::timestamptz, '1999-01-08T04:05:06Z'::timestamptz, '1999-07-08 04:05:06 PST'::timestamptz;

-- case din_timestamptz_local
set timezone = 'Europe/Berlin';
select 'January 8, 1999 10:00'::timestamptz, '7/8/1999 10:00'::timestamptz, '1999-07-08 04:05:06 Asia/Tokyo'::timestamptz;

-- case din_in_table
create table tdi (d date, t timestamp);
insert into tdi values ('January 8, 1999', 'Jan 8 1999 4:05pm'), ('12/31/1999', '19991231T235959'), ('08-Feb-2000', 'February 29, 2000 12:00 AM');
select d, t from tdi order by d;

-- case din_param
-- params: ["January 8, 1999"]
select $1::date;

-- case din_bad_syntax
select 'abc'::date;

-- case din_bad_trailing_garbage
select '1999-01-08 garbage'::date;

-- case din_bad_month_only
select 'January'::date;

-- case din_bad_missing_year
select 'Jan 8'::date;

-- case din_bad_dot_month
select 'Jan. 8, 1999'::date;

-- case din_bad_md_order message
select '13/1/1999'::date;

-- case din_bad_day_of_month
select '1/32/1999'::date;

-- case din_bad_feb29
select '2/29/2023'::date;

-- case din_bad_ymd_two_digit
select '99-01-08'::date;

-- case din_bad_compact
select '20240230'::date;

-- case din_bad_hour
select '2024-01-02 25:00'::timestamp;

-- case din_bad_pm_hour
select '2024-01-02 13:00 PM'::timestamp;

-- case din_bad_timestamp_words
select 'January 8, 1999 4:05 xm'::timestamp;

-- case din_bad_timestamptz_zone
select '2024-01-02 10:00 Mars/Olympus'::timestamptz;

-- case din_bc_year
select 'January 8, 99 BC'::date;

-- ISO 8601 intervals

-- case iso_interval_designators
select 'P1Y2M'::interval, 'P1DT2H'::interval, 'PT1.5S'::interval, 'P0.5Y'::interval, 'P1Y2M3DT4H5M6S'::interval, 'P2W'::interval, 'PT1M'::interval, 'PT'::interval;

-- case iso_interval_fractions
select 'P1.5M'::interval, 'P1.5W'::interval, 'P1.5D'::interval, 'PT1.5H'::interval, 'P0.1Y'::interval, 'P0.01M'::interval, 'P0.3333333Y'::interval, 'PT0.0000005S'::interval, 'P1.1234567D'::interval;

-- case iso_interval_signs
select 'P-1Y-2M'::interval, 'PT-1.5S'::interval, 'P-0.5M'::interval, 'P-1.5D'::interval, 'PT-1H30M'::interval, 'P1Y-1M'::interval;

-- case iso_interval_alternative
select 'P0001-02-03T04:05:06'::interval, 'P00010203'::interval, 'PT040506'::interval, 'P00010203T040506'::interval, 'PT10:20'::interval, 'P1-2'::interval, 'P1'::interval, 'P1.5'::interval, 'PT1.5'::interval;

-- case iso_interval_in_table
create table tii (i interval);
insert into tii values ('P1Y'), ('PT36H'), ('P1DT12H'), ('P0.5M');
select i from tii order by i;

-- case iso_interval_bad_unit
select 'P1X'::interval;

-- case iso_interval_bad_time_unit
select 'PT1D'::interval;

-- case iso_interval_bad_lowercase
select 'P1y'::interval;

-- case iso_interval_bad_space
select 'P1Y 2M'::interval;

-- case iso_interval_bad_empty
select 'P'::interval;

-- case iso_interval_bad_plus
select 'P+1D'::interval;

-- typed literal binds tighter than a following :: cast

-- case typed_literal_then_cast
select timestamp '2024-02-03 23:59:59'::date, date '2024-02-03'::timestamp, '2024-02-03 10:00'::timestamp::time, pg_typeof(timestamp '2024-02-03 23:59:59'::date);

-- case typed_literal_then_cast_chain
select time '10:00'::interval, text '42'::int + 1, numeric '1.5'::int, date '2024-02-29'::text::date, '2024-01-01'::date::timestamp;

-- case typed_literal_to_char
select to_char(timestamp '2024-02-03 23:59:59'::date, 'YYYY-MM-DD HH24:MI'), timestamptz '2024-02-03 23:59:59+00'::date;

-- case din_bad_hour_without_colon
select '1/8/1999 4pm'::timestamp;

-- case din_relative_day_with_time
select 'today 10:00'::timestamp = current_date::timestamp + interval '10 hours', 'tomorrow 23:59'::timestamp - 'yesterday 00:01'::timestamp, 'today'::date - 'yesterday'::date;

-- case din_bad_glued_month_number
select 'feb990108'::date;

-- case din_bad_glued_zone_number
select 'EST320831'::date;
