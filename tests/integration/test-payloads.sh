#!/bin/bash
# Action payloads: every accepted form (empty, whitespace, the action's name, a JSON object,
# key=value lines with coercion) and every refusal (EINVAL for bad JSON, arrays, other JSON,
# bare words, bad key=value, schema failures, missing required args and data; EAGAIN for a full
# queue), each refusal reported in lasterror and creating no task.
. "$(dirname "$0")/lib.sh"

mk_template "$TPL" p '{"name": "p", "version": "1.0.0",
  "actions": {
    "show": {"args": {"n": {"type": "integer", "default": 0, "minimum": 0},
                      "msg": {"type": "string", "default": ""},
                      "ratio": {"type": "number", "default": 0.5},
                      "flag": {"type": "boolean", "default": false},
                      "opts": {"type": "object"}}},
    "need": {"args": {"name": {"type": "string"}}, "required": ["name"]},
    "slow": {}
  }}'
mk_action "$TPL/p" show 'cat'
mk_action "$TPL/p" need 'echo "need $ARG_NAME"'
mk_action "$TPL/p" slow 'sleep 3; echo slow'
mk_template "$TPL" r '{"name": "r", "version": "1.0.0",
  "data": {"token": {"type": "string"}, "port": {"type": "integer", "default": 80}},
  "required": ["token"], "actions": {"go": {}}}'
mk_action "$TPL/r" go 'echo "token=$DATA_TOKEN port=$DATA_PORT"'
zr_start --queue-max 2

S=$(svc p x)
defaults='{"flag": false, "msg": "", "n": 0, "ratio": 0.5}'

# args_of PAYLOAD: the args the action got on stdin for one write of PAYLOAD.
args_of() {
	local out
	out=$(zrtool write-read "$S/actions/show" "$1" 2>"$TMP/wr.err") ||
		fail "write-read of '$1' failed: $(cat "$TMP/wr.err")"
	jsonstr "$out" 'j["args"]'
}

# Accepted forms.
expect_eq "$(args_of $'\n')" "$defaults" "empty payload (a newline)"
ok "empty payload: no arguments, defaults filled"
expect_eq "$(args_of $'  \t\n\n')" "$defaults" "whitespace payload"
ok "whitespace-only payload: no arguments"
expect_eq "$(args_of 'show')" "$defaults" "the action's own name"
expect_eq "$(args_of $'show\n')" "$defaults" "the action's own name + newline"
ok "the action's own name: no arguments"
expect_eq "$(args_of '{"n": 5, "msg": "hi there", "flag": true}')" \
	'{"flag": true, "msg": "hi there", "n": 5, "ratio": 0.5}' "JSON object"
expect_eq "$(args_of '{"opts": {"a": [1, 2]}, "ratio": 3}')" \
	'{"flag": false, "msg": "", "n": 0, "opts": {"a": [1, 2]}, "ratio": 3}' "JSON object with an object"
ok "a JSON object: its fields are the arguments, defaults filled"
got=$(args_of $'n=7\nmsg=hello world\nratio=2.5\nflag=true\n')
expect_eq "$got" '{"flag": true, "msg": "hello world", "n": 7, "ratio": 2.5}' "key=value lines"
expect_eq "$(jsonstr "$got" 'type(j["n"]).__name__')" int "n coerced to an integer"
ok "key=value lines: strings coerced to the field types (n=7 -> 7, flag=true -> true)"
expect_eq "$(args_of $'\nn=3\n\nopts={"k": "v"}\n')" \
	'{"flag": false, "msg": "", "n": 3, "opts": {"k": "v"}, "ratio": 0.5}' "key=value with blank lines and JSON text"
ok "key=value: blank lines ignored, JSON text coerced to an object"
expect_eq "$(args_of $'msg=a=b\n')" '{"flag": false, "msg": "a=b", "n": 0, "ratio": 0.5}' "value with '='"
ok "key=value: the value is the rest of the line"

# bash echo: O_TRUNC then one write.
echo '{"n": 11}' >"$S/actions/show" || fail "echo > actions/show"
id=$(last_task "$S")
expect_eq "$(json "$S/tasks/$id/args" 'j')" '{"flag": false, "msg": "", "n": 11, "ratio": 0.5}' "args of the echo task"
expect_eq "$(jsonstr "$(timeout 10 cat "$S/tasks/$id/result")" 'j["args"]["n"]')" 11 "result of the echo task"
ok "echo '{...}' > actions/show works (O_TRUNC accepted)"
n0=$(task_ids "$S" | wc -l)
timeout 10 bash -c ": >'$S/actions/show'" || fail ": > actions/show (open O_TRUNC, no write) failed"
truncate -s 0 "$S/actions/show" || fail "truncate -s 0 actions/show failed"
expect_eq "$(task_ids "$S" | wc -l)" "$n0" "tasks after an O_TRUNC open without write"
ok "O_TRUNC / truncate without a write: accepted, no task"
expect_eq "$(zrtool write "$S/actions/show" '{"n": 1}')" "wrote 8" "write returns the full length"
ok "a successful write returns the full length"

# Refusals: EINVAL from the write, lasterror names the path and the reason, no task created.
refuse() { # refuse PAYLOAD WORD MSG: the write fails EINVAL and lasterror contains WORD
	local n1 le
	n1=$(task_ids "$S" | wc -l)
	# One write(2) for sure: bash's printf splits its output at newlines.
	expect_errno "\"\$ZR_PY\" \"\$ZRTOOL\" write '$S/actions/${ACT:-show}' '$1'" "Invalid argument"
	le=$(rcat "$S/lasterror")
	expect_match "$le" "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z /p/x/actions/${ACT:-show} EINVAL ." "lasterror after $3"
	expect_in "$le" "$2" "lasterror after $3"
	expect_eq "$(task_ids "$S" | wc -l)" "$n1" "tasks after $3"
	ok "$3: EINVAL, lasterror: ${le#* /p/x/actions/${ACT:-show} }"
}
refuse '{"n": ' "" "bad JSON"
refuse '[1, 2]' "" "a JSON array"
refuse '"text"' "" "a JSON string"
refuse '42' "" "a JSON number"
refuse 'hello there' "" "bare words"
refuse 'show please' "" "the action name plus words"
refuse $'n=1\nn=2' "n" "a repeated key"
refuse 'bad key=1' "" "a key with a space"
refuse $'n=1\nnonsense' "" "a line without ="
refuse 'n=abc' "n" "key=value that does not convert (n=abc)"
refuse 'n=-1' "n" "key=value below the minimum (n=-1)"
refuse '{"n": 1.5}' "n" "a fraction for an integer field"
refuse '{"flag": "yes"}' "flag" "a string for a boolean field"
refuse '{"bogus": 1}' "bogus" "an unknown argument"
refuse 'bogus=1' "bogus" "an unknown key"
ACT=need refuse $'\n' "name" "a required argument missing"
ACT=need refuse '{"name": 3}' "name" "a required argument of the wrong type"
expect_eq "$(zrtool write-read "$S/actions/need" 'name=bob')" "need bob" "need with its argument"
ok "the required argument given: accepted"

expect_errno "echo >'$S/actions/nosuch'" ""
[ -e "$S/actions/nosuch" ] && fail "writing a new name created actions/nosuch"
ok "writing to a missing action fails and creates nothing"

# Required data missing: every action write is EINVAL with the reason, until data is given.
R=$(svc r y)
expect_errno "echo >'$R/actions/go'" "Invalid argument"
le=$(rcat "$R/lasterror")
expect_in "$le" "/r/y/actions/go EINVAL" "lasterror with required data missing"
expect_in "$le" "missing required data: token" "lasterror with required data missing"
grep -q "missing required data: token" "$TMP/robot.log" || fail "reason not in the robot log"
ok "required data missing: EINVAL, 'missing required data: token' in lasterror and log"
echo '{"token": "s3cret"}' >"$R/data" || fail "write data with the token"
expect_eq "$(zrtool write-read "$R/actions/go" go)" "token=s3cret port=80" "go once the token is set"
ok "once data has the field, the action runs (DATA_TOKEN, DATA_PORT default)"

# Only key=value strings are converted; a JSON object's values must have the field's type.
refuse '{"n": "5"}' "n" "a JSON string for an integer field"

# A full queue: EAGAIN (--queue-max 2).
id=$(submit "$S" slow slow)
wait_state "$S" "$id" running 5
accepted=0 refused=0
for i in 1 2 3; do
	if timeout 10 bash -c "echo '{\"n\": $i}' >'$S/actions/show'" 2>"$TMP/eagain.err"; then
		accepted=$((accepted + 1))
	else
		grep -q "Resource temporarily unavailable" "$TMP/eagain.err" ||
			fail "write to a full queue: $(cat "$TMP/eagain.err")"
		refused=$((refused + 1))
	fi
done
[ "$accepted" -ge 1 ] && [ "$accepted" -le 2 ] && [ "$refused" -ge 1 ] ||
	fail "with --queue-max 2: $accepted writes accepted, $refused refused"
expect_in "$(rcat "$S/lasterror")" "EAGAIN" "lasterror after a full queue"
ok "a full queue (--queue-max 2): EAGAIN after $accepted queued, lasterror says EAGAIN"

zr_stop
