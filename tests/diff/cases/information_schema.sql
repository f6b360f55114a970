-- information_schema relations (compute/sql/catalog/system.py): column names, type OIDs (the
-- character_data / yes_or_no columns are varchar, 1043, as PostgreSQL's domains report) and rows.
create table iz (id int primary key, v varchar(10) default 'x', n numeric(5,2), u text unique);
create view iz_view as select distinct id, v from iz;  -- not updatable on either (Strata updates no view)
create sequence iz_seq increment by 5;
create schema iz_schema;

-- case iz_columns ordered
select table_schema, table_name, column_name, ordinal_position, column_default, is_nullable, data_type, character_maximum_length, numeric_precision, numeric_scale, udt_name from information_schema.columns where table_name = 'iz' order by ordinal_position;

-- case iz_tables ordered
select * from information_schema.tables where table_name in ('iz', 'iz_view') order by table_name;

-- case iz_views ordered
select table_catalog, table_schema, table_name, check_option, is_updatable, is_insertable_into from information_schema.views where table_name = 'iz_view';

-- case iz_table_constraints ordered
select * from information_schema.table_constraints where table_name = 'iz' and constraint_type <> 'CHECK' order by constraint_name;

-- case iz_sequences ordered
select * from information_schema.sequences where sequence_name = 'iz_seq';

-- case iz_schemata ordered
select * from information_schema.schemata where schema_name = 'iz_schema';

-- case iz_key_column_usage ordered
select * from information_schema.key_column_usage where table_name = 'iz' order by constraint_name;
