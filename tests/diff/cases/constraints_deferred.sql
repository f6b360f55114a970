-- Deferred foreign keys (DEFERRABLE / INITIALLY DEFERRED, SET CONSTRAINTS, the check at COMMIT),
-- as Django creates and uses them. Each case runs inside BEGIN ... ROLLBACK; a case whose query
-- is COMMIT must make COMMIT fail (a successful one would keep its tables).
create table dp (id int primary key, name text);
create table dc (id int primary key, pid int constraint dc_pid_fk references dp deferrable initially deferred);
create table di (id int primary key, pid int constraint di_pid_fk references dp deferrable);
create table dn (id int primary key, pid int constraint dn_pid_fk references dp);
insert into dp values (1, 'one'), (2, 'two');

-- case commit_fails_on_violation message
insert into dc values (1, 99);
commit;

-- case commit_fails_on_parent_delete message
insert into dc values (1, 1);
delete from dp where id = 1;
commit;

-- case violation_fixed_before_commit ordered
insert into dc values (1, 3);
insert into dp values (3, 'three');
select * from dc order by id;

-- case fixed_then_immediate_ok
insert into dc values (1, 3);
insert into dp values (3, 'three');
set constraints all immediate;

-- case set_all_immediate_checks_pending message
insert into dc values (1, 99);
set constraints all immediate;

-- case set_named_immediate_checks_pending
insert into dc values (1, 99);
set constraints dc_pid_fk immediate;

-- case set_qualified_name_immediate
insert into dc values (1, 99);
set constraints public.dc_pid_fk immediate;

-- case set_other_constraint_immediate_ok
insert into dc values (1, 99);
set constraints di_pid_fk immediate;

-- case immediate_after_set_fails_at_once
set constraints all immediate;
insert into dc values (1, 99);

-- case named_immediate_fails_at_once
set constraints dc_pid_fk, di_pid_fk immediate;
insert into dc values (1, 99);

-- case initially_immediate_fails_at_once message
insert into di values (1, 99);

-- case initially_immediate_set_deferred
set constraints all deferred;
insert into di values (1, 99);

-- case initially_immediate_set_deferred_commit
set constraints di_pid_fk deferred;
insert into di values (1, 99);
commit;

-- case not_deferrable_stays_immediate
set constraints all deferred;
insert into dn values (1, 99);

-- case not_deferrable_named_deferred
set constraints dn_pid_fk deferred;

-- case not_deferrable_named_immediate_ok
set constraints dn_pid_fk immediate;

-- case primary_key_named_deferred
set constraints dp_pkey deferred;

-- case unknown_constraint
set constraints no_such_constraint immediate;

-- case set_constraints_syntax
set constraints all later;

-- case parent_delete_reinserted
insert into dc values (1, 1);
delete from dp where id = 1;
insert into dp values (1, 'again');
set constraints all immediate;

-- case parent_update_deferred message
insert into dc values (1, 1);
update dp set id = 10 where id = 1;
set constraints all immediate;

-- case child_deleted_before_check
insert into dc values (1, 99);
delete from dc;
set constraints all immediate;

-- case child_updated_before_check
insert into dc values (1, 99);
update dc set pid = 2;
set constraints all immediate;

-- case child_updated_to_null
insert into dc values (1, 99);
update dc set pid = null;
set constraints all immediate;

-- case child_repointed_after_parent_delete
insert into dc values (1, 1);
delete from dp where id = 1;
update dc set pid = 2;
set constraints all immediate;

-- case savepoint_rollback_forgets_rows
savepoint s1;
insert into dc values (1, 99);
rollback to savepoint s1;
set constraints all immediate;

-- case savepoint_release_keeps_rows
savepoint s1;
insert into dc values (1, 99);
release savepoint s1;
set constraints all immediate;

-- case savepoint_rollback_restores_mode
set constraints all immediate;
savepoint s1;
set constraints all deferred;
rollback to savepoint s1;
insert into dc values (1, 99);

-- case savepoint_keeps_mode_set_before
set constraints all immediate;
savepoint s1;
insert into dp values (5, 'five');
rollback to savepoint s1;
insert into dc values (1, 99);

-- case self_reference_cycle ordered
create table dself (id int primary key, next int references dself deferrable initially deferred);
insert into dself values (1, 2);
insert into dself values (2, 1);
select * from dself order by id;

-- case self_reference_cycle_commit_violation
create table dself (id int primary key, next int references dself deferrable initially deferred);
insert into dself values (1, 2);
commit;

-- case restrict_is_never_deferred
create table dr (id int primary key, pid int references dp on delete restrict deferrable initially deferred);
insert into dr values (1, 1);
delete from dp where id = 1;

-- case cascade_with_deferred ordered
create table dcas (id int primary key, pid int references dp on delete cascade deferrable initially deferred);
insert into dcas values (1, 1), (2, 2);
delete from dp where id = 1;
select * from dcas order by id;

-- case set_null_with_deferred ordered
create table dsn (id int primary key, pid int references dp on delete set null deferrable initially deferred);
insert into dsn values (1, 1), (2, 2);
delete from dp where id = 1;
select * from dsn order by id;

-- case match_full_deferred message
create table mp (a int, b int, primary key (a, b));
create table mc (id int primary key, a int, b int, foreign key (a, b) references mp match full deferrable initially deferred);
insert into mc values (1, 1, null);
set constraints all immediate;

-- case multi_column_deferred message
create table mp (a int, b text, primary key (a, b));
create table mc (id int primary key, a int, b text, foreign key (a, b) references mp deferrable initially deferred);
insert into mc values (1, 1, 'x');
set constraints all immediate;

-- case alter_add_deferrable_fk_checks_rows
create table ac (id int primary key, pid int);
insert into ac values (1, 99);
alter table ac add constraint ac_fk foreign key (pid) references dp deferrable initially deferred;

-- case alter_add_deferrable_fk_then_defer
create table ac (id int primary key, pid int);
alter table ac add constraint ac_fk foreign key (pid) references dp deferrable initially deferred;
insert into ac values (1, 99);
set constraints ac_fk immediate;

-- case add_column_references_named ordered
create table ac (id int primary key);
alter table ac add column pid bigint null constraint ac_pid_fk references dp(id) deferrable initially deferred;
select conname, contype, condeferrable, condeferred, pg_get_constraintdef(oid) from pg_constraint where conrelid = 'ac'::regclass order by conname;

-- case add_column_references_then_immediate
create table ac (id int primary key);
alter table ac add column pid int constraint ac_pid_fk references dp deferrable initially deferred;
insert into ac values (1, 99);
set constraints ac_pid_fk immediate;

-- case alter_table_with_pending_checks
insert into dc values (1, 99);
alter table dc drop constraint dc_pid_fk;

-- case drop_constraint_after_immediate ordered
insert into dc values (1, 2);
set constraints dc_pid_fk immediate;
alter table dc drop constraint dc_pid_fk;
insert into dc values (2, 99);
select * from dc order by id;

-- case catalog_flags ordered
select conname, condeferrable, condeferred from pg_constraint where conname in ('dc_pid_fk', 'di_pid_fk', 'dn_pid_fk') order by conname;

-- case information_schema_flags ordered
select constraint_name::text, is_deferrable::text, initially_deferred::text from information_schema.table_constraints where constraint_name in ('dc_pid_fk', 'di_pid_fk', 'dn_pid_fk') order by 1;
