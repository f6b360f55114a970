-- EXPLAIN (issue 15): the plan text is SQLite's, so these cases compare what must agree with
-- PostgreSQL: errors of the explained statement and of the options, in every format.
-- Successful plans (column name and type, row shape, ANALYZE side effects) are compared in
-- tests/compute/test_explain.py.
create table ex_t (a int primary key, b text);

-- case explain_unknown_table
explain select * from ex_nosuch;

-- case explain_unknown_column
explain select nosuch from ex_t;

-- case explain_division_by_zero_constant
explain select 1/0;

-- case explain_analyze_runtime_error
insert into ex_t values (0, 'z');
explain analyze select 10 / a from ex_t;

-- case explain_not_explainable
explain vacuum;

-- case explain_unknown_option
explain (nosuch) select 1;

-- case explain_bad_boolean
explain (analyze maybe) select 1;

-- case explain_analyze_insert_inserts
explain analyze insert into ex_t values (1, 'x');
select a, b from ex_t;

-- case explain_analyze_duplicate_key
insert into ex_t values (1, 'x');
explain analyze insert into ex_t values (1, 'y');

-- case explain_without_analyze_does_not_insert
explain insert into ex_t values (2, 'x');
select count(*) from ex_t;

-- case explain_bad_statement_syntax
explain select from where;

-- case explain_format_xml_unknown_table
explain (format xml) select * from ex_nosuch;

-- case explain_format_xml_analyze_unknown_column
explain (analyze, format xml) select nosuch from ex_t;

-- case explain_format_xml_analyze_runtime_error
insert into ex_t values (0, 'z');
explain (format xml, analyze) select 10 / a from ex_t;

-- case explain_format_xml_analyze_insert_inserts
explain (analyze, format xml) insert into ex_t values (3, 'x');
select a, b from ex_t;

-- case explain_format_xml_duplicate_key
insert into ex_t values (1, 'x');
explain (format xml, analyze true) insert into ex_t values (1, 'y');

-- case explain_format_xml_bad_syntax
explain (format xml) select from where;

-- case explain_unknown_format
explain (format html) select 1;

-- case explain_format_without_value
explain (format) select 1;

-- case explain_format_xml_of_declare_unknown_table
explain (format xml) declare c cursor for select * from ex_nosuch;
