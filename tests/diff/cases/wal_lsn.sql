-- The pg_lsn type and the WAL/recovery functions of a primary (compute/sql/node_functions.py).
-- Live positions differ between the servers, so cases compare types, NULLs and arithmetic.

-- case lsn_input_output
select '0/1a'::pg_lsn, 'AB/CDEF01'::pg_lsn, '0/0'::pg_lsn, '7FFFFFFF/FFFFFFFF'::pg_lsn;

-- case lsn_to_text
select '16/B374D848'::pg_lsn::text, cast('1/0' as pg_lsn);

-- case lsn_from_text_param
-- params: ["2/A0"]
select $1::pg_lsn;

-- case lsn_invalid message
select 'x/1'::pg_lsn;

-- case lsn_too_many_digits message
select '123456789/0'::pg_lsn;

-- case lsn_compare
select '1/0'::pg_lsn > '0/FFFFFFFF', '0/10'::pg_lsn = '0/10', '0/1'::pg_lsn <> '0/2', '0/5'::pg_lsn between '0/1' and '0/9';

-- case lsn_minus_lsn
select 'AB/CDEF01'::pg_lsn - '0/1'::pg_lsn, '0/1'::pg_lsn - '1/0'::pg_lsn;

-- case lsn_diff
select pg_wal_lsn_diff('1/0', '0/10'), pg_wal_lsn_diff('0/10', '1/0'), pg_wal_lsn_diff('0/0', '0/0');

-- case lsn_order ordered
select x from (values ('0/2'::pg_lsn), ('0/10'), ('1/0'), ('0/A')) v(x) order by x;

-- case lsn_column
create table lsns (at pg_lsn);
insert into lsns values ('0/FF'), ('1/0'), (null);
select at, at >= '0/100' from lsns order by at;

-- case wal_function_types
select pg_typeof(pg_current_wal_lsn()), pg_typeof(pg_current_wal_insert_lsn()), pg_typeof(pg_current_wal_flush_lsn()), pg_typeof(pg_last_wal_replay_lsn());

-- case recovery_functions_on_a_primary
select pg_is_in_recovery(), pg_last_wal_replay_lsn(), pg_last_wal_receive_lsn(), pg_last_xact_replay_timestamp();

-- case wal_positions_ordered
select pg_current_wal_flush_lsn() <= pg_current_wal_insert_lsn(), pg_current_wal_lsn() >= '0/0';

-- case promote_on_a_primary message
select pg_promote();

-- case stat_replication_empty
select * from pg_stat_replication;
