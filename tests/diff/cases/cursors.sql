-- Server-side cursors: DECLARE / FETCH / MOVE / CLOSE (issue 15). Each case runs in BEGIN ...
-- ROLLBACK after writing its table, so these cursors are the materialized kind; the streaming
-- kind, WITH HOLD across COMMIT and the refusals are in tests/compute/test_cursors.py.
create table cur_t (a int, b text);
insert into cur_t select g, 'r' || g from generate_series(1, 7) g;

-- case fetch_first_rows ordered
declare c cursor for select a, b from cur_t order by a;
fetch 3 from c;

-- case fetch_next_after_fetch ordered
declare c cursor for select a, b from cur_t order by a;
fetch 3 from c;
fetch next from c;

-- case fetch_all_rest ordered
declare c cursor for select a from cur_t order by a;
fetch 2 in c;
fetch all in c;

-- case fetch_forward_past_end ordered
declare c cursor for select a from cur_t order by a;
fetch forward 5 from c;
fetch forward 5 from c;

-- case fetch_after_end_is_empty
declare c cursor for select a from cur_t order by a;
fetch all from c;
fetch c;

-- case move_tag
declare c cursor for select a from cur_t order by a;
move forward 4 in c;

-- case move_all_tag
declare c cursor for select a from cur_t order by a;
move 2 in c;
move all in c;

-- case move_then_fetch ordered
declare c cursor for select a from cur_t order by a;
move 4 in c;
fetch 2 from c;

-- case scroll_prior ordered
declare c scroll cursor for select a from cur_t order by a;
fetch 3 from c;
fetch prior from c;

-- case scroll_backward_all ordered
declare c scroll cursor for select a from cur_t order by a;
fetch 4 from c;
fetch backward all from c;

-- case scroll_absolute_negative ordered
declare c scroll cursor for select a from cur_t order by a;
fetch absolute -2 from c;

-- case scroll_last_then_relative ordered
declare c scroll cursor for select a from cur_t order by a;
fetch last from c;
fetch relative -3 from c;

-- case scroll_first_after_end ordered
declare c scroll cursor for select a from cur_t order by a;
fetch all from c;
fetch first from c;

-- case scroll_absolute_past_end
declare c scroll cursor for select a from cur_t order by a;
fetch absolute 20 from c;

-- case scroll_relative_zero ordered
declare c scroll cursor for select a from cur_t order by a;
fetch 3 from c;
fetch relative 0 from c;

-- case scroll_move_backward_all_tag
declare c scroll cursor for select a from cur_t order by a;
fetch 5 from c;
move backward all in c;

-- case scroll_negative_count ordered
declare c scroll cursor for select a from cur_t order by a;
fetch 5 from c;
fetch -2 from c;

-- case no_scroll_prior_fails
declare c no scroll cursor for select a from cur_t order by a;
fetch 2 from c;
fetch prior from c;

-- case no_scroll_absolute_back_fails
declare c no scroll cursor for select a from cur_t order by a;
fetch 3 from c;
fetch absolute 1 from c;

-- case no_scroll_absolute_forward ordered
declare c no scroll cursor for select a from cur_t order by a;
fetch 2 from c;
fetch absolute 5 from c;

-- case unknown_cursor
fetch next from nosuch;

-- case close_unknown
close nosuch;

-- case close_tag
declare c cursor for select 1;
close c;

-- case close_all_tag
declare c cursor for select 1;
declare d cursor for select 2;
close all;

-- case closed_cursor_is_gone
declare c cursor for select 1;
close c;
fetch c;

-- case duplicate_cursor
declare c cursor for select 1;
declare c cursor for select 2;

-- case declare_unknown_table
declare c cursor for select * from cur_nosuch;

-- case declare_insert_is_syntax_error
declare c cursor for insert into cur_t values (1);

-- case insensitive_quoted_name ordered
declare "Cur" insensitive cursor without hold for select a, b from cur_t where a > 4 order by a;
fetch all from "Cur";

-- case cursor_snapshot_is_declare_time ordered
declare c cursor for select a from cur_t where a > 5 order by a;
insert into cur_t values (100, 'late');
fetch all from c;

-- case cursor_sees_earlier_writes ordered
insert into cur_t values (50, 'early');
declare c cursor for select a from cur_t where a > 5 order by a;
fetch all from c;

-- case fetch_types ordered
declare c cursor for select a::bigint, b, a::numeric / 2 as h, a > 3 as big from cur_t order by a;
fetch 3 from c;

-- case values_cursor ordered
declare c cursor for values (1, 'x'), (2, 'y');
fetch all from c;

-- case with_hold_inside_block ordered
declare c cursor with hold for select a from cur_t order by a;
fetch 2 from c;

-- BINARY cursors: the harness runs its query through the extended protocol, where PostgreSQL
-- sends a FETCH in the formats of its Bind (text here); the binary answer of a simple-query FETCH
-- (every column, bytes per type) is compared in tests/compute/test_cursors.py.

-- case binary_cursor ordered
declare c binary cursor for select a from cur_t order by a;
fetch 3 from c;

-- case binary_cursor_types ordered
declare c binary cursor for select a::bigint as i8, b, a::numeric / 4 as n, a > 3 as big,
  a::float8 / 2 as f, ('\x' || lpad(to_hex(a), 2, '0'))::bytea as raw, array[a, a + 1] as arr
  from cur_t order by a;
fetch all from c;

-- case binary_scroll_cursor_backward ordered
declare c binary scroll cursor for select a, b from cur_t order by a;
fetch 4 from c;
fetch backward 2 from c;

-- case binary_cursor_move_then_fetch ordered
declare c binary no scroll cursor for select a from cur_t order by a;
move 5 in c;
fetch next from c;

-- case binary_cursor_move_tag
declare c binary cursor for select a from cur_t order by a;
move all from c;

-- case binary_cursor_with_hold ordered
declare c binary cursor with hold for select a, b from cur_t order by a;
fetch 2 from c;

-- case binary_insensitive_scroll_with_hold ordered
declare c binary insensitive scroll cursor with hold for select a from cur_t order by a;
fetch last from c;
fetch absolute 2 from c;

-- case binary_cursor_closed
declare c binary cursor for select a from cur_t;
close c;
fetch 1 from c;

-- case binary_cursor_duplicate_name
declare c binary cursor for select a from cur_t;
declare c binary cursor for select a from cur_t;

-- case binary_cursor_backward_no_scroll
declare c binary no scroll cursor for select a from cur_t order by a;
fetch 2 from c;
fetch prior from c;

-- case binary_cursor_empty ordered
declare c binary cursor for select a from cur_t where a > 100;
fetch all from c;

-- case binary_twice_is_accepted ordered
declare c binary binary cursor for select a from cur_t order by a;
fetch 1 from c;
