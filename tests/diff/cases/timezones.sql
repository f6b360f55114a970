-- Time zones as PostgreSQL 15 reads them: IANA names (any case), POSIX TZ strings with their inverted sign and default US rules, SET TIME ZONE INTERVAL, abbreviations in input, AT TIME ZONE.

-- case tz_est5edt
set timezone = 'EST5EDT';
select current_setting('TimeZone'), '2003-07-01 04:05:06+00'::timestamptz, '2003-01-01 04:05:06+00'::timestamptz;

-- case tz_posix_utc_plus
set timezone = 'UTC+3';
select current_setting('TimeZone'), '2003-07-01 04:05:06+00'::timestamptz;

-- case tz_posix_bracketed
set timezone = '<+03>-3';
select current_setting('TimeZone'), '2003-07-01 04:05:06+00'::timestamptz;

-- case tz_posix_half_hour
set timezone = '<-0330>+3:30';
select '2003-07-01 04:05:06+00'::timestamptz;

-- case tz_posix_rules
set timezone = 'CET-1CEST,M3.5.0,M10.5.0/3';
select '2003-07-01 04:05:06+00'::timestamptz, '2003-01-01 04:05:06+00'::timestamptz;

-- case tz_posix_explicit_dst_offset
set timezone = 'EST5EDT4,M3.2.0/2,M11.1.0/2';
select '2023-07-01 04:05:06+00'::timestamptz, '2023-12-01 04:05:06+00'::timestamptz;

-- case tz_posix_default_rules
set timezone = 'XYZ5ABC';
select '2023-07-01 04:05:06+00'::timestamptz, '2023-01-01 04:05:06+00'::timestamptz;

-- case tz_pst8pdt
set timezone = 'PST8PDT';
select '2003-07-01 04:05:06+00'::timestamptz;

-- case tz_iana_lower_case
set timezone = 'europe/berlin';
select current_setting('TimeZone'), '2003-07-01 04:05:06+00'::timestamptz;

-- case tz_set_time_zone_iana
set time zone 'America/New_York';
select current_setting('TimeZone'), '2003-07-01 04:05:06+00'::timestamptz;

-- case tz_set_time_zone_interval
set time zone interval '+02:00' hour to minute;
select current_setting('TimeZone'), '2003-07-01 04:05:06+00'::timestamptz;

-- case tz_set_time_zone_interval_negative
set time zone interval '-05:30' hour to minute;
select current_setting('TimeZone'), '2003-07-01 04:05:06+00'::timestamptz;

-- case tz_unknown
set timezone = 'nosuch';

-- case tz_at_time_zone_names
select '2003-07-01 04:05:06+00'::timestamptz at time zone 'PST8PDT', '2003-07-01 04:05:06+00'::timestamptz at time zone 'UTC+3', '2003-07-01 04:05:06+00'::timestamptz at time zone '<+03>-3', '2003-07-01 04:05:06'::timestamp at time zone 'EST5EDT', '2003-07-01 04:05:06+00'::timestamptz at time zone 'Europe/Berlin';

-- case tz_at_time_zone_abbrevs
select '2003-07-01 04:05:06+00'::timestamptz at time zone 'CET', '2003-07-01 04:05:06+00'::timestamptz at time zone 'EST', '2003-07-01 04:05:06+00'::timestamptz at time zone 'PDT';

-- case tz_timezone_function
select timezone('EST5EDT', '2003-07-01 04:05:06+00'::timestamptz);

-- case tz_input_abbrevs
select '2003-07-01 04:05:06 EST'::timestamptz, '2003-07-01 04:05:06 PDT'::timestamptz, '2003-07-01 04:05:06 CET'::timestamptz, '2003-07-01 04:05:06 CEST'::timestamptz, '2003-07-01 04:05:06 JST'::timestamptz, '2003-07-01 04:05:06 AEST'::timestamptz, '2003-07-01 04:05:06 BST'::timestamptz;

-- case tz_input_more_abbrevs
select '2003-07-01 04:05:06 IST'::timestamptz, '2003-07-01 04:05:06 EEST'::timestamptz, '2003-07-01 04:05:06 NZST'::timestamptz, '2003-07-01 04:05:06 zulu'::timestamptz, '2003-07-01 04:05:06 MST'::timestamptz, '2003-07-01 04:05:06 HST'::timestamptz, '2003-07-01 04:05:06 AKDT'::timestamptz;

-- case tz_input_dynamic_abbrev
select '2003-07-01 04:05:06 MSK'::timestamptz, '2020-07-01 04:05:06 MSK'::timestamptz;

-- case tz_input_zone_names
select '2003-07-01 04:05:06 America/New_York'::timestamptz, '2003-07-01 04:05:06 EST5EDT'::timestamptz, '2003-07-01 04:05:06 UTC+3'::timestamptz;

-- case tz_timetz_abbrevs
select '04:05:06 EST'::timetz, '04:05:06 PDT'::timetz;

-- case tz_input_in_session_posix_zone
set timezone = 'UTC+3';
select '2003-07-01 04:05:06'::timestamptz::text;
