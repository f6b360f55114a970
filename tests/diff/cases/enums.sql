-- Enum types: CREATE/ALTER/DROP TYPE, enum columns, casts, ordering by declared order, catalogs.
create type mood as enum ('sad', 'ok', 'happy');
create table te (id int, m mood);
insert into te values (1, 'happy'), (2, 'sad'), (3, 'ok'), (4, null), (5, 'sad');

-- case create_duplicate message
create type mood as enum ('x');

-- case create_conflicts_with_table message
create type te as enum ('x');

-- case create_duplicate_label
create type m2 as enum ('a', 'b', 'a');

-- case create_empty_enum
create type m2 as enum ();
select enum_range(null::m2);

-- case empty_enum_first
create type m2 as enum ();
select enum_first(null::m2);

-- case empty_enum_insert
create type m2 as enum ();
create table t2 (m m2);
insert into t2 values ('');

-- case create_quoted_names
create type "Mixed Case" as enum ('A b', 'it''s', '');
select enum_range(null::"Mixed Case"), 'it''s'::"Mixed Case";

-- case create_schema_qualified
create type public.m2 as enum ('x', 'y');
select 'y'::public.m2, 'x'::m2;

-- case create_other_schema
create type nosuch.m2 as enum ('x');

-- case label_too_long
create type m2 as enum ('aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa');

-- case order_by_declared_order
select m from te order by m;

-- case order_by_desc_nulls
select id, m from te order by m desc, id;

-- case order_by_position_and_alias
select m as feeling, id from te order by 1, 2;

-- case order_by_alias
select m as feeling, id from te order by feeling desc nulls last, id;

-- case order_by_expression
select id from te order by coalesce(m, 'ok'), id;

-- case compare_greater
select id, m from te where m > 'sad' order by id;

-- case compare_less_equal
select id from te where m <= 'ok' order by id;

-- case compare_two_columns
select a.id, b.id from te a join te b on a.m < b.m order by 1, 2;

-- case compare_equal_and_not
select id, m = 'sad', m <> 'ok' from te order by id;

-- case compare_between
select id from te where m between 'ok' and 'happy' order by id;

-- case compare_in_list
select id from te where m in ('sad', 'happy') order by id;

-- case compare_in_invalid_label
select id from te where m in ('sad', 'angry');

-- case compare_invalid_label message
select id from te where m = 'angry';

-- case compare_with_text_fails
select id from te where m = 'sad'::text;

-- case compare_enum_to_enum_literal
select 'sad'::mood < 'happy'::mood, 'happy'::mood < 'ok'::mood, 'ok'::mood >= 'ok'::mood;

-- case min_max
select min(m), max(m) from te;

-- case min_max_grouped
select id % 2, min(m), max(m) from te group by id % 2 order by 1;

-- case group_by
select m, count(*) from te group by m order by m;

-- case distinct
select distinct m from te order by m;

-- case count_distinct
select count(distinct m) from te;

-- case insert_invalid_label message
insert into te values (9, 'angry');

-- case insert_text_typed_value
insert into te values (9, 'sad'::text);

-- case insert_select_text_cast
insert into te select 9, 'ok'::text::mood returning m;

-- case insert_returning
insert into te values (9, 'happy') returning id, m;

-- case update_enum
update te set m = 'happy' where m = 'sad' returning id, m;

-- case update_invalid
update te set m = 'meh' where id = 1;

-- case cast_literal
select 'ok'::mood, 'ok'::mood::text, pg_typeof('ok'::mood)::text, cast('happy' as mood);

-- case cast_invalid message
select 'angry'::mood;

-- case cast_text_column
create table tt (t text);
insert into tt values ('ok'), ('sad');
select t::mood from tt order by t::mood;

-- case cast_text_column_invalid
create table tt (t text);
insert into tt values ('ok'), ('bad');
select t::mood from tt;

-- case cast_int_fails
select 1::mood;

-- case cast_to_varchar
select m::varchar, m::varchar(2), m::text || '!' from te order by id;

-- case cast_null
select null::mood, pg_typeof(null::mood)::text;

-- case text_functions_on_enum_text
select upper(m::text), length(m::text) from te where m is not null order by id;

-- case case_expression
select id, case when m > 'ok' then 'up' else 'down' end from te order by id;

-- case coalesce_enum
select id, coalesce(m, 'ok') from te order by id;

-- case coalesce_type
select pg_typeof(coalesce(m, 'ok'))::text from te limit 1;

-- case union_enum
select m from te where id = 1 union select 'sad'::mood;

-- case enum_functions
select enum_range(null::mood), enum_first(null::mood), enum_last(null::mood);

-- case enum_range_bounds
select enum_range('ok'::mood, null), enum_range(null, 'ok'::mood), enum_range('sad'::mood, 'ok'::mood);

-- case enum_range_reversed
select enum_range('happy'::mood, 'sad'::mood);

-- case enum_range_column
select enum_range(m) from te where id = 1;

-- case enum_first_unknown
select enum_first(null);

-- case enum_first_wrong_type
select enum_first(1);

-- PostgreSQL refuses (55P04) to use a value added by ADD VALUE before it is committed, and every
-- diff case is one transaction: these cases look at the catalog and at the older labels.
-- case add_value_end
alter type mood add value 'ecstatic';
select e.enumlabel, e.enumsortorder from pg_enum e join pg_type t on t.oid = e.enumtypid where t.typname = 'mood' order by e.enumsortorder;

-- case add_value_before
alter type mood add value 'meh' before 'ok';
select e.enumlabel, e.enumsortorder from pg_enum e join pg_type t on t.oid = e.enumtypid where t.typname = 'mood' order by e.enumsortorder;

-- case add_value_after
alter type mood add value 'fine' after 'ok';
select e.enumlabel, e.enumsortorder from pg_enum e join pg_type t on t.oid = e.enumtypid where t.typname = 'mood' order by e.enumsortorder;

-- case add_value_before_first
alter type mood add value 'awful' before 'sad';
select e.enumlabel, e.enumsortorder from pg_enum e join pg_type t on t.oid = e.enumtypid where t.typname = 'mood' order by e.enumsortorder;

-- case add_value_after_last
alter type mood add value 'best' after 'happy';
select e.enumlabel, e.enumsortorder from pg_enum e join pg_type t on t.oid = e.enumtypid where t.typname = 'mood' order by e.enumsortorder;

-- case add_value_twice_between
alter type mood add value 'meh' before 'ok';
alter type mood add value 'hmm' after 'meh';
select e.enumlabel, e.enumsortorder from pg_enum e join pg_type t on t.oid = e.enumtypid where t.typname = 'mood' order by e.enumsortorder;

-- case add_value_old_rows_keep_order
alter type mood add value 'meh' before 'ok';
select id, m from te where m is not null order by m, id;

-- case add_value_first_last
alter type mood add value 'meh' before 'ok';
select enum_first(null::mood), enum_last(null::mood), 'sad'::mood < 'ok'::mood;

-- case add_value_exists message
alter type mood add value 'ok';

-- case add_value_if_not_exists
alter type mood add value if not exists 'ok';
select enum_range(null::mood);

-- case add_value_bad_neighbour message
alter type mood add value 'x' after 'nope';

-- case add_value_no_type
alter type nosuch add value 'x';

-- case rename_value
alter type mood rename value 'sad' to 'blue';
select id, m from te order by id;

-- case rename_value_order_kept
alter type mood rename value 'sad' to 'zzz';
select m from te where m is not null order by m;

-- case rename_value_old_label_gone
alter type mood rename value 'sad' to 'blue';
select 'sad'::mood;

-- case rename_value_missing message
alter type mood rename value 'nope' to 'x';

-- case rename_value_to_existing message
alter type mood rename value 'sad' to 'ok';

-- case rename_value_default_follows
create table td (id int, m mood default 'sad');
alter type mood rename value 'sad' to 'blue';
insert into td (id) values (1);
select id, m from td;

-- case rename_type
alter type mood rename to feeling;
select m, pg_typeof(m)::text from te where id = 1;

-- case rename_type_old_name_gone
alter type mood rename to feeling;
select 'ok'::mood;

-- case rename_type_conflict
create type m2 as enum ('a');
alter type mood rename to m2;

-- case drop_type_in_use
drop type mood;

-- case drop_type_restrict
drop type mood restrict;

-- case drop_type_unused
create type m2 as enum ('a');
drop type m2;
select 'a'::m2;

-- case drop_type_missing
drop type nosuch;

-- case drop_type_if_exists
drop type if exists nosuch;

-- case drop_type_several
create type m2 as enum ('a');
create type m3 as enum ('b');
drop type m2, m3;
select count(*) from pg_type where typname in ('m2', 'm3', '_m2', '_m3');

-- case drop_type_cascade
drop type mood cascade;
select * from te order by id;

-- case drop_type_table
drop type te;

-- case create_after_drop
drop table te;
drop type mood;
create type mood as enum ('z', 'a');
select enum_range(null::mood), 'a'::mood > 'z'::mood;

-- case alter_table_add_column
alter table te add column m2 mood default 'ok';
select id, m2 from te order by id;

-- case alter_table_add_column_bad_default
alter table te add column m2 mood default 'nope';

-- case default_not_null
create table td (id int, m mood not null default 'happy');
insert into td (id) values (1);
select * from td;

-- case not_null_violation
create table td (id int, m mood not null);
insert into td (id) values (1);

-- case primary_key_enum
create table tk (m mood primary key);
insert into tk values ('ok'), ('sad');
select m from tk order by m;

-- case unique_enum
create table tk (m mood unique);
insert into tk values ('ok'), ('ok');

-- case check_constraint_enum
create table tk (m mood check (m > 'sad'));
insert into tk values ('sad');

-- case array_column
create table ta (ms mood[]);
insert into ta values ('{sad,happy}'), ('{}'), (null);
select ms from ta;

-- case array_column_invalid
create table ta (ms mood[]);
insert into ta values ('{sad,grumpy}');

-- case array_literal_cast
select '{ok,sad}'::mood[];

-- case two_enum_types
create type color as enum ('red', 'green');
create table tc (c color, m mood);
insert into tc values ('green', 'ok'), ('red', 'happy');
select c, m from tc order by c;

-- case two_enum_types_compare
create type color as enum ('red', 'green');
select 'red'::color = 'sad'::mood;

-- case enum_to_other_enum_cast
create type color as enum ('red', 'green');
select 'red'::color::mood;

-- case param_enum_insert
-- params: ["happy"]
insert into te values (20, $1) returning m;

-- case param_enum_compare
-- params: ["ok"]
select id from te where m = $1 order by id;

-- case param_enum_invalid
-- params: ["nope"]
select id from te where m = $1;

-- case pg_type_rows
select typname, typtype, typcategory, typlen, typbyval, typalign, typstorage, typinput::text, typoutput::text, typreceive::text, typsend::text, typdelim, typelem = 0, typnamespace = (select oid from pg_namespace where nspname = 'public') from pg_type where typname = 'mood';

-- case pg_type_array_row
select a.typname, a.typtype, a.typcategory, a.typlen, a.typelem = t.oid, t.typarray = a.oid from pg_type t join pg_type a on a.oid = t.typarray where t.typname = 'mood';

-- case pg_enum_rows
select e.enumlabel, e.enumsortorder from pg_enum e join pg_type t on t.oid = e.enumtypid where t.typname = 'mood' order by e.enumsortorder;

-- case format_type_enum
select format_type(t.oid, null), format_type(t.typarray, null), t.oid::regtype::text from pg_type t where t.typname = 'mood';

-- case regtype_enum
select 'mood'::regtype::text, 'mood[]'::regtype::text, to_regtype('mood')::text, to_regtype('nosuch') is null;

-- case regtype_equals_type_oid
select 'mood'::regtype::oid = (select oid from pg_type where typname = 'mood');

-- case attribute_type
select a.attname, format_type(a.atttypid, a.atttypmod), t.typname from pg_attribute a join pg_type t on t.oid = a.atttypid where a.attrelid = 'te'::regclass and a.attnum > 0 order by a.attnum;

-- case information_schema_columns
create table ti (m mood default 'ok', ms mood[]);
select column_name, data_type::text, udt_schema, udt_name from information_schema.columns where table_name = 'ti' order by ordinal_position;

-- case comment_on_type
comment on type mood is 'how one feels';
select obj_description(t.oid, 'pg_type') from pg_type t where t.typname = 'mood';

-- case comment_on_missing_type
comment on type nosuch is 'x';

-- case result_column_oid_is_enum
select m, m::text, enum_first(m) from te where id = 1;

-- case create_table_named_like_type
create table mood (a int);

-- case window_order_by_enum
select id, row_number() over (order by m, id) from te order by id;

-- case aggregate_order_by_enum
select string_agg(m::text, ',' order by m), array_agg(id order by m desc, id) from te;

-- case subquery_enum_column
select x.m, x.m > 'sad' from (select m from te where id < 4) x order by x.m;

-- case cte_enum_order
with c as (select m from te) select m from c order by m nulls first;

-- case join_on_enum
create table tj (m mood, label text);
insert into tj values ('sad', 'S'), ('happy', 'H');
select te.id, tj.label from te join tj on tj.m = te.m order by te.id;

-- case greatest_least_enum
select greatest('sad'::mood, 'ok'::mood), least('happy'::mood, 'ok'::mood);

-- case values_enum
select v from (values ('ok'::mood), ('sad'::mood)) as t(v) order by v;

-- case copy_enum
create table tcopy (m mood);
select count(*) from tcopy;

-- case alter_column_text_to_enum_needs_using
create table tx (t text);
alter table tx alter column t type mood;

-- case alter_column_text_to_enum_using
create table tx (id int, t text);
insert into tx values (1, 'ok'), (2, 'happy'), (3, null);
alter table tx alter column t type mood using t::mood;
select id, t, pg_typeof(t)::text from tx order by t;

-- case alter_column_text_to_enum_using_invalid
create table tx (t varchar(10));
insert into tx values ('ok'), ('bad');
alter table tx alter column t type mood using t::mood;

-- case alter_column_enum_to_text
alter table te alter column m type text;
select id, m, pg_typeof(m)::text from te order by m;

-- case alter_column_enum_to_varchar_too_short
alter table te alter column m type varchar(2);

-- case alter_column_enum_to_int
alter table te alter column m type int;

-- case alter_column_set_default_enum
alter table te alter column m set default 'happy';
insert into te (id) values (30);
select m from te where id = 30;

-- case alter_column_set_default_invalid
alter table te alter column m set default 'nope';

-- case array_any_literal
select id from te where m = any('{sad,ok}'::mood[]) order by id;

-- case array_any_column
create table ta (id int, m mood, ms mood[]);
insert into ta values (1, 'sad', '{sad,ok}'), (2, 'happy', '{}'), (3, 'ok', '{happy}');
select id, m = any(ms), m > any(ms), m < all(ms), 'ok' = any(ms) from ta order by id;

-- case array_unnest_enum_range
select u, u > 'sad' from unnest(enum_range(null::mood)) u order by u desc;

-- case array_unnest_in_select_list
create table ta (ms mood[]);
insert into ta values ('{happy,sad}');
select unnest(ms) from ta;

-- case array_subscripts_and_length
create table ta (id int, ms mood[]);
insert into ta values (1, '{sad,ok}'), (2, '{}');
select ms[1], ms[2], array_length(ms, 1), cardinality(ms) from ta order by id;

-- case array_agg_enum
select array_agg(m order by m), array_agg(m order by m desc nulls last) from te;

-- case array_constructor_enum
select array[m, 'ok'] from te where id < 4 order by id;

-- case array_contains_and_concat
create table ta (id int, ms mood[]);
insert into ta values (1, '{sad,ok}'), (2, '{happy}');
select id, ms @> '{ok}', ms || 'happy'::mood from ta order by id;

-- case array_position_enum
select array_position(enum_range(null::mood), 'ok'), array_position(enum_range(null::mood), 'happy');

-- case array_any_invalid_label
select id from te where m = any('{sad,nope}'::mood[]);

-- case union_order_by_enum
select m from te where id in (1, 2) union all select 'ok'::mood order by 1;

-- case union_order_by_enum_desc
select m from te where m is not null union select 'sad'::mood order by m desc;

-- case union_order_by_enum_limit
select m, id from te where m is not null union all select 'ok'::mood, 9 order by m, id limit 3 offset 1;

-- case union_in_subquery_order_by_enum
select count(*) from (select m from te union select 'ok'::mood order by 1) s;

-- case like_on_enum_fails
select m like 's%' from te;

-- case like_on_enum_text
select id from te where m::text like 's%' order by id;

-- case arith_on_enum_fails
select m + 1 from te;

-- case coalesce_enum_text_fails
select coalesce(m, 'x'::text) from te;

-- case string_agg_enum_fails
select string_agg(m, ',') from te;

-- case case_enum_and_literal
select id, case when id > 2 then m else 'ok' end, nullif(m, 'sad') from te order by id;

-- case distinct_from_and_filter
select count(*) filter (where m > 'sad'), count(*) filter (where m is distinct from 'ok') from te;

-- case json_and_format_of_enum
select to_json(m), json_build_object('m', m)::text, format('%s!', m), concat(m, 1) from te where id = 1;

-- case concat_operator_enum
select m || '!', '<' || m from te where id = 1;

-- case array_text_casts
create table ta (ms mood[]);
insert into ta values ('{happy,sad}');
select ms::text, '{ok}'::text::mood[], ms::varchar from ta;

-- case array_text_cast_invalid
select '{ok,nope}'::text::mood[];

-- case foreign_key_enum_columns
create table fp (m mood primary key);
create table fc (m mood references fp);
insert into fp values ('ok');
insert into fc values ('ok');
insert into fc values ('sad');

-- case foreign_key_added_enum_columns
create table fp (m mood primary key);
create table fc (m mood);
alter table fc add foreign key (m) references fp;
insert into fp values ('happy');
insert into fc values ('happy');
select m from fc;

-- case foreign_key_text_to_enum_fails
create table fp (m mood primary key);
create table fc (t text);
alter table fc add foreign key (t) references fp;

-- case foreign_key_create_text_to_enum_fails
create table fp (m mood primary key);
create table fc (t text references fp);
