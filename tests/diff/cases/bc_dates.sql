-- Dates before the year 1 (BC) and after 9999: Strata stores dates of the years 1 to 9999 (text that sorts in date order), so everything that would make or read another year is refused with 0A000 (never a silently wrong year); the boundaries themselves agree with PostgreSQL.

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

-- refused bc_date_literal
select '0044-03-15 BC'::date;

-- refused bc_timestamp_literal
select '0044-03-15 12:00 BC'::timestamp;

-- refused bc_timestamptz_literal
select '0044-03-15 12:00 BC'::timestamptz;

-- refused bc_month_name_form
select 'March 15, 44 BC'::date;

-- refused bc_date_minus_days
select '0001-01-01'::date - 1;

-- refused bc_date_minus_interval
select '0001-01-01'::date - interval '1 day';

-- refused bc_timestamp_minus_interval
select '0001-01-01 00:00'::timestamp - interval '1 day';

-- refused bc_timestamptz_minus_interval
select '0001-01-01 00:00:00+00'::timestamptz - interval '1 hour';

-- refused bc_make_date
select make_date(-44, 3, 15);

-- refused bc_make_timestamp
select make_timestamp(-44, 3, 15, 0, 0, 0);

-- refused bc_to_date
select to_date('0044-03-15 BC', 'YYYY-MM-DD BC');

-- refused bc_to_timestamp
select to_timestamp('0044 BC', 'YYYY BC');

-- refused bc_extract_year
select extract(year from '0001-01-01'::date - 1);

-- refused big_year_date
select '10000-01-01'::date;

-- refused big_year_date_arithmetic
select '9999-12-31'::date + 1;

-- refused big_year_timestamp
select '12345-06-07 10:00'::timestamp;
