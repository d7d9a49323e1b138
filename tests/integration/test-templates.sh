#!/bin/bash
# Broken templates next to good ones: each broken one is skipped with a log line naming its
# file, the good ones load and work. Two --templates folders.
. "$(dirname "$0")/lib.sh"

good='{"name": "good", "version": "1.0.0", "actions": {"hi": {"args": {"who": {"type": "string", "default": "world"}}}}}'
mk_template "$TPL" good "$good"
mk_action "$TPL/good" hi 'echo "hi $ARG_WHO"'

# Bad JSON.
mk_template "$TPL" badjson '{"name": "badjson", "version": "1.0.0", "actions": {'
# Unknown field type in data.
mk_template "$TPL" badtype '{"name": "badtype", "version": "1.0.0", "data": {"port": {"type": "integr"}}}'
# An action named in the manifest without its file.
mk_template "$TPL" noaction '{"name": "noaction", "version": "1.0.0", "actions": {"start": {}}}'
# An action file that is not executable.
mk_template "$TPL" noexec '{"name": "noexec", "version": "1.0.0", "actions": {"run": {}}}'
mk_action "$TPL/noexec" run 'echo run'
chmod 644 "$TPL/noexec/actions/run"
# A bad template name (folder and manifest agree).
mk_template "$TPL" Bad_Name '{"name": "Bad_Name", "version": "1.0.0"}'
# A bad action file name.
mk_template "$TPL" badact '{"name": "badact", "version": "1.0.0"}'
mk_action "$TPL/badact" 'Run!' 'echo x'
# on_delete names an action that does not exist.
mk_template "$TPL" badondelete '{"name": "badondelete", "version": "1.0.0", "on_delete": ["gone"]}'
# An unknown manifest key.
mk_template "$TPL" unknownkey '{"name": "unknownkey", "version": "1.0.0", "colour": "blue"}'
# A bad version.
mk_template "$TPL" badversion '{"name": "badversion", "version": "one"}'
# A default that fails its own field.
mk_template "$TPL" baddefault '{"name": "baddefault", "version": "1.0.0", "data": {"n": {"type": "integer", "default": "x"}}}'
# A folder without template.json is not a template (and no error).
mkdir -p "$TPL/notatemplate"

# A second folder with another good template.
TPL2=$TMP/templates2
mk_template "$TPL2" good2 '{"name": "good2", "version": "0.3.1", "actions": {"go": {}}}'
mk_action "$TPL2/good2" go 'echo gone'

zr_start --templates "$TPL2"
ok "robot starts despite broken templates"

root=$(timeout 10 ls -A "$MNT") || fail "ls $MNT"
for g in good good2 node; do
	printf '%s\n' "$root" | grep -qx "$g" || fail "template '$g' not loaded: $(echo $root)"
done
ok "good templates load: good, good2 (second folder), node (built-in)"
for b in badjson badtype noaction noexec Bad_Name badact badondelete unknownkey badversion \
	baddefault notatemplate; do
	printf '%s\n' "$root" | grep -qx "$b" && fail "broken template '$b' was loaded"
	[ -e "$MNT/@robot/templates/$b" ] && fail "broken template '$b' in @robot/templates"
done
ok "no broken template appears in the tree"

# Each broken template is named in the log: its file and the reason.
logline() { # logline DIR-NAME WORD...: a log line naming the template's folder and each WORD
	local l
	l=$(grep -F "$TPL/$1" "$TMP/robot.log") || fail "no log line names $TPL/$1"
	shift
	local w
	for w in "$@"; do
		printf '%s\n' "$l" | grep -qF -- "$w" || fail "log line for $1 lacks '$w': $l"
	done
}
logline badjson template.json
logline badtype template.json port integr
logline noaction start
logline noexec actions/run
logline Bad_Name Bad_Name
logline badact 'Run!'
logline badondelete gone
logline unknownkey colour
logline badversion version
logline baddefault template.json default
ok "each broken template has a log line naming its file and field"
if grep -F "$TPL/notatemplate" "$TMP/robot.log" | grep -qi error; then
	fail "a folder without template.json was reported as an error"
fi
ok "a folder without template.json is silently not a template"

# The good ones work.
S=$(svc good g)
expect_eq "$(zrtool write-read "$S/actions/hi" '{"who":"tester"}')" "hi tester" "good/hi result"
S2=$(svc good2 g)
expect_eq "$(zrtool write-read "$S2/actions/go" go)" "gone" "good2/go result"
ok "actions of good templates run"
expect_eq "$(rcat "$MNT/@robot/templates/good2/source")" "$TPL2/good2" "source of good2"
expect_eq "$(rcat "$MNT/@robot/templates/good2/uid")" local/good2/0.3.1 "uid of good2"
ok "templates from the second folder have their source and uid"

zr_stop
