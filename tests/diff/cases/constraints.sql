-- Constraints declared in CREATE TABLE: PostgreSQL's names, enforcement (also numeric CHECKs and
-- after a table rename), and ALTER TABLE DROP CONSTRAINT of UNIQUE and CHECK constraints.
create table ck (id int primary key, amount numeric(10,2), b text, c int check (c > 0), check (amount >= 0), check (b <> 'bad'), check (amount > id), constraint ck_bc unique (b, c), unique (c));

-- case constraint_names
select conname, contype from pg_constraint where conrelid = 'ck'::regclass order by conname;

-- case check_numeric_violated
insert into ck values (1, -1, 'x', 1);

-- case check_text_violated
insert into ck values (1, 5, 'bad', 1);

-- case check_passes_with_null
insert into ck values (1, null, null, null) returning *;

-- case check_on_update
insert into ck values (1, 5, 'a', 1);
update ck set amount = amount - 10;

-- case check_after_rename
alter table ck rename to ck2;
insert into ck2 values (1, -5, 'a', 1);

-- case unique_declared_in_create_table
insert into ck values (1, 5, 'a', 1);
insert into ck values (2, 6, 'a', 1);

-- case drop_check_declared_in_create_table
alter table ck drop constraint ck_amount_check;
insert into ck values (1, -1, 'a', 1) returning amount;

-- case drop_unique_declared_in_create_table
alter table ck drop constraint ck_bc;
alter table ck drop constraint ck_c_key;
insert into ck values (1, 5, 'a', 1), (2, 6, 'a', 1);
select conname from pg_constraint where conrelid = 'ck'::regclass order by conname;

-- case drop_unique_then_on_conflict
alter table ck drop constraint ck_bc;
insert into ck values (1, 5, 'a', 1);
insert into ck values (1, 6, 'b', 2) on conflict (id) do update set amount = excluded.amount returning *;
