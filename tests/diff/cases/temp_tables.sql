-- Temporary tables (translate/schemas.py, compute/temp_tables.py) in one session; each case runs
-- in BEGIN ... ROLLBACK (other sessions and commits: tests/compat/test_temp_tables.py).
create table tp (id int primary key, v text);
insert into tp values (1, 'public');

-- case create_and_select
create temp table tq (a int, b text);
insert into tq values (1, 'x'), (2, 'y');
select * from tq order by a;

-- case temporary_keyword
create temporary table tq (a int);
insert into tq values (5);
select a from tq;

-- case shadows_public ordered
create temp table tp (id int, w int);
insert into tp values (7, 8);
select * from tp order by id;

-- case public_still_reachable
create temp table tp (id int, w int);
select v from public.tp;

-- case pg_temp_qualified
create temp table tq (a int);
insert into pg_temp.tq values (3);
select * from pg_temp.tq;

-- case create_table_in_pg_temp
create table pg_temp.tq (a int);
select relpersistence from pg_class where relname = 'tq';

-- case temp_in_regular_schema message
create temp table public.tq (a int);

-- case create_as
create temp table tq as select id, v from tp;
select * from tq;

-- case create_as_with_no_data
create temp table tq as select id, v from tp with no data;
select count(*) from tq;

-- case on_commit_drop_in_block
create temp table tq (a int) on commit drop;
insert into tq values (1);
select * from tq;

-- case on_commit_delete_rows_in_block
create temp table tq (a int) on commit delete rows;
insert into tq values (1);
select count(*) from tq;

-- case on_commit_preserve_rows
create temp table tq (a int) on commit preserve rows;
insert into tq values (1);
select count(*) from tq;

-- case on_commit_on_regular_table message
create table tq (a int) on commit drop;

-- case relpersistence
create temp table tq (a int);
select relname, relpersistence from pg_class where relname in ('tq', 'tp') order by 1;

-- case namespace_is_temp
create temp table tq (a int);
select n.nspname like 'pg_temp_%' from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relname = 'tq';

-- case my_temp_schema
create temp table tq (a int);
select pg_my_temp_schema() = (select relnamespace from pg_class where relname = 'tq'), pg_is_other_temp_schema(pg_my_temp_schema());

-- case current_schemas_with_temp
create temp table tq (a int);
select (current_schemas(true))[1] like 'pg_temp_%', current_schemas(false), current_schema();

-- case serial_and_unique message
create temp table tq (id serial primary key, v text unique);
insert into tq (v) values ('a');
insert into tq (v) values ('a');

-- case temp_index
create temp table tq (a int);
create index tq_a on tq (a);
select indexname from pg_indexes where tablename = 'tq';

-- case temp_view
create temp table tq (a int);
insert into tq values (4);
create temp view tqv as select a * 2 as d from tq;
select * from tqv;

-- case temp_sequence
create temp sequence tqs;
select nextval('tqs'), nextval('tqs');

-- case drop_temp_table_then_public ordered
create temp table tp (id int);
drop table tp;
select * from tp order by id;

-- case alter_temp_table
create temp table tq (a int);
alter table tq add column b text default 'z';
insert into tq (a) values (1);
select * from tq;

-- case information_schema_tables
create temp table tq (a int);
select table_type::text from information_schema.tables where table_name = 'tq';

-- case regclass_of_temp
create temp table tq (a int);
select 'tq'::regclass::text;

-- case foreign_key_to_public message
create temp table tq (pid int references tp (id));

-- case foreign_key_to_temp message
create temp table tq (id int primary key);
create table tz (pid int references tq (id));

-- case foreign_key_temp_to_temp message
create temp table tq (id int primary key);
create temp table tr (pid int references tq (id));
insert into tr values (5);
