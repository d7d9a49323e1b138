#!/bin/bash
# One-line key=value arguments (issue 15 item 1, DESIGN.md §2 "One write(2), one request"), as
# a shell user writes them: bash's builtin echo and printf, /bin/echo and a here-string each
# queue one task whose args (tasks/<id>/args) are the words of the line, quoted as in sh and
# converted to the fields' types. A line whose words are not all key= keeps the rest of the
# line as the first key's value, as before; several lines in one write are one task; bash's
# printf of several lines is several writes, so several tasks. Refusals (unterminated quote, a
# word without '=', a wrong key, a value that does not convert) are EINVAL with the reason in
# lasterror and create no task.
. "$(dirname "$0")/lib.sh"

mk_template "$TPL" o '{"name": "o", "version": "1.0.0",
  "actions": {
    "show": {"args": {"n": {"type": "integer", "default": 0, "minimum": 0},
                      "msg": {"type": "string", "default": ""},
                      "flag": {"type": "boolean", "default": false}}}
  }}'
mk_action "$TPL/o" show 'cat'
zr_start

S=$(svc o x)
A=$S/actions/show

# one_task CMD: runs the bash command line CMD, in which "$1" is actions/show; it must queue
# exactly one task. Prints that task's args.
one_task() {
	local n0 n1 id err
	n0=$(task_ids "$S" | wc -l)
	err=$(timeout 10 bash -c "$1" _ "$A" 2>&1) || fail "'$1' failed: $err"
	n1=$(task_ids "$S" | wc -l)
	expect_eq "$n1" "$((n0 + 1))" "tasks queued by '$1'"
	id=$(last_task "$S")
	json "$S/tasks/$id/args" 'j'
}

# refused CMD WORD WHAT: the bash command line CMD fails EINVAL, lasterror holds WORD, and no
# task was queued.
refused() {
	local n0 le
	n0=$(task_ids "$S" | wc -l)
	expect_errno "set -- '$A'; $1" "Invalid argument"
	le=$(rcat "$S/lasterror")
	expect_in "$le" "/o/x/actions/show EINVAL" "lasterror after $3"
	expect_in "$le" "$2" "lasterror after $3"
	expect_eq "$(task_ids "$S" | wc -l)" "$n0" "tasks after $3"
	ok "$3: EINVAL, lasterror: ${le#* /o/x/actions/show }"
}

# The forms to teach: one line, one write(2), one task.
expect_eq "$(one_task 'echo "msg=yo n=2" >"$1"')" '{"flag": false, "msg": "yo", "n": 2}' \
	"bash echo msg=yo n=2"
ok "bash's echo 'msg=yo n=2': one task, n converted to 2"
expect_eq "$(one_task "echo 'msg=\"two words\" n=2 flag=true' >\"\$1\"")" \
	'{"flag": true, "msg": "two words", "n": 2}' "bash echo with double quotes"
ok "bash's echo 'msg=\"two words\" n=2 flag=true': the quotes group, flag converted"
expect_eq "$(one_task "printf 'msg=%s n=%d\\n' \"'it''s here'\" 3 >\"\$1\"")" \
	'{"flag": false, "msg": "its here", "n": 3}' "bash printf, one line"
ok "bash's printf of one line with single quotes: one task"
expect_eq "$(one_task '/bin/echo "msg=x\ y=z n=4" >"$1"')" \
	'{"flag": false, "msg": "x y=z", "n": 4}' "/bin/echo with a backslash"
ok "/bin/echo with a backslash-escaped blank: one task"
expect_eq "$(one_task "cat <<<'msg=\$HOME\" \\\"q\\\"\" n=5' >\"\$1\"")" \
	'{"flag": false, "msg": "$HOME \"q\"", "n": 5}' "a here-string"
ok "a here-string: one task, nothing expanded, \\\" inside double quotes"
expect_eq "$(one_task 'echo "msg=hello big world" >"$1"')" \
	'{"flag": false, "msg": "hello big world", "n": 0}' "a single key with blanks"
expect_eq "$(one_task 'echo "msg=hello from key=value n=2" >"$1"')" \
	'{"flag": false, "msg": "hello from key=value n=2", "n": 0}' "words that are not all key="
ok "a value with blanks, words not all key=: the value is the rest of the line, as before"

# Several lines: one task when they come in one write, one task per line from bash's printf.
expect_eq "$(one_task "/usr/bin/printf 'msg=two words\\nn=6\\n' >\"\$1\"")" \
	'{"flag": false, "msg": "two words", "n": 6}' "/usr/bin/printf of two lines"
ok "/usr/bin/printf of two lines (one write): one task, each line literal"
n0=$(task_ids "$S" | wc -l)
timeout 10 bash -c 'printf "msg=yo\nn=2\n" >"$1"' _ "$A" || fail "bash printf of two lines"
ids=$(task_ids "$S" | tail -n +$((n0 + 1)))
expect_eq "$(echo "$ids" | wc -l)" 2 "tasks from bash's printf of two lines"
expect_eq "$(json "$S/tasks/$(echo "$ids" | head -n 1)/args" 'j')" \
	'{"flag": false, "msg": "yo", "n": 0}' "first task of bash's printf of two lines"
expect_eq "$(json "$S/tasks/$(echo "$ids" | tail -n 1)/args" 'j')" \
	'{"flag": false, "msg": "", "n": 2}' "second task of bash's printf of two lines"
ok "bash's printf of two lines: two writes, two tasks (why the README teaches one line)"

# JSON is unchanged.
expect_eq "$(one_task "echo '{\"msg\": \"j s\", \"n\": 7}' >\"\$1\"")" \
	'{"flag": false, "msg": "j s", "n": 7}' "a JSON object"
ok "a JSON object: unchanged"

# The result of a one-line task is what the action got on stdin.
id=$(submit "$S" show 'msg="r s" n=8')
expect_eq "$(jsonstr "$(timeout 10 cat "$S/tasks/$id/result")" 'j["args"]')" \
	'{"flag": false, "msg": "r s", "n": 8}' "result of a one-line task"
ok "the action gets the one-line arguments on stdin"

# Refusals.
refused "echo 'msg=\"two words n=2' >\"\$1\"" "unterminated quote" "an unterminated quote"
refused "echo 'msg=\"yo\" hunter2 n=2' >\"\$1\"" "word 2" "a word without '='"
expect_not_in "$(rcat "$S/lasterror")" "hunter2" "lasterror after a word without '='"
ok "a word without '=' is named by its place, not quoted"
refused "echo 'msg=yo bogus=1' >\"\$1\"" "bogus" "a wrong key"
refused "echo 'msg=yo n=abc' >\"\$1\"" "'n'" "a value that does not convert (n=abc)"
refused "echo 'msg=yo n=1 n=2' >\"\$1\"" "duplicate key 'n'" "a repeated key"

zr_stop
