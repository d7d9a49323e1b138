#!/bin/bash
# Installing as a service (issue 15 item 4): `zrobot COMMAND --help`; what `meson install` puts
# where; the unit, checked with systemd-analyze verify; the man pages (no warnings, and every
# command, option and manifest key in them, so they cannot drift); bash completion (commands,
# options, TEMPLATE/SERVICE from the mount, and a mount that does not answer); sd_notify
# READY=1 once the mount answers and STOPPING=1 at SIGTERM, for real, on a socket this test
# listens on; NOTIFY_SOCKET kept from actions; the installed binary loads the installed
# built-in templates.
. "$(dirname "$0")/lib.sh"

BUILD=$(cd "$(dirname "$ZROBOT")/.." && pwd)
for tool in meson systemd-analyze man bash; do
	command -v "$tool" >/dev/null 2>&1 || skip "$tool is missing"
done
BASH_COMPLETION=/usr/share/bash-completion/bash_completion
[ -r "$BASH_COMPLETION" ] || skip "bash-completion is missing ($BASH_COMPLETION)"

# ---------------------------------------------------------------------------------------------
# zrobot COMMAND --help, for every command `zrobot --help` names: that command's usage, on
# stdout, exit 0.

commands=$("$ZROBOT" --help | sed -n 's/^\(Usage:\)\{0,1\} *zrobot \([a-z][a-z-]*\).*/\2/p' |
	sort -u)
expect_in " $(echo $commands) " " run " "commands of zrobot --help"
for c in $commands "repo add" "template new"; do
	rc=0
	out=$(timeout 10 "$ZROBOT" $c --help 2>"$TMP/help.err") || rc=$?
	expect_eq "$rc" 0 "zrobot $c --help exit status"
	[ ! -s "$TMP/help.err" ] || fail "zrobot $c --help wrote to stderr: $(cat "$TMP/help.err")"
	expect_in "$out" "Usage: zrobot ${c%% *}" "zrobot $c --help"
	[ "${c%% *}" = run ] ||
		expect_not_in "$out" "Usage: zrobot run" "zrobot $c --help (its own usage)"
done
ok "zrobot $(echo $commands | sed 's/ /|/g') --help print their usage on stdout and exit 0"

# The options `zrobot --help` and each command's --help print.
options=$( (
	"$ZROBOT" --help
	for c in $commands; do "$ZROBOT" "$c" --help; done
) 2>/dev/null | grep -o -- '--[a-z][a-z0-9-]*' | sort -u)
[ -n "$options" ] || fail "no options in zrobot --help"

# ---------------------------------------------------------------------------------------------
# meson install --destdir: the layout.

D=$TMP/destdir
timeout 120 meson install -C "$BUILD" --no-rebuild --quiet --destdir "$D" \
	>"$TMP/install.log" 2>&1 ||
	fail "meson install failed: $(tail -n 5 "$TMP/install.log")"
opt() {
	meson introspect "$BUILD" --buildoptions |
		"$ZR_PY" -c 'import json, sys
print([o["value"] for o in json.load(sys.stdin) if o["name"] == sys.argv[1]][0])' "$1"
}
prefix=$(opt prefix) bindir=$(opt bindir) libexecdir=$(opt libexecdir) datadir=$(opt datadir)
mandir=$(opt mandir)
P=$D$prefix
BIN=$P/$bindir/zrobot
[ -x "$BIN" ] || fail "no $prefix/$bindir/zrobot"
[ -x "$P/$libexecdir/zrobot-exec" ] || fail "no $prefix/$libexecdir/zrobot-exec"
for t in "$ZR_SRC"/templates/*/; do
	t=$(basename "$t")
	[ -f "$P/$datadir/zrobot/templates/$t/template.json" ] || fail "template $t not installed"
	for a in "$ZR_SRC/templates/$t"/actions/*; do
		[ -e "$a" ] || continue
		[ -x "$P/$datadir/zrobot/templates/$t/actions/$(basename "$a")" ] ||
			fail "action $t/$(basename "$a") not installed executable"
	done
done
cmp -s "$ZR_SRC/man/zrobot.1" "$P/$mandir/man1/zrobot.1" || fail "no $mandir/man1/zrobot.1"
cmp -s "$ZR_SRC/man/zrobot-template.5" "$P/$mandir/man5/zrobot-template.5" ||
	fail "no $mandir/man5/zrobot-template.5"
COMP=$P/$datadir/bash-completion/completions/zrobot
cmp -s "$ZR_SRC/completion/zrobot" "$COMP" || fail "no $datadir/bash-completion/completions/zrobot"
units=$(find "$D" -path '*/systemd/system/zrobot.service')
[ "$(printf '%s\n' "$units" | grep -c .)" = 1 ] || fail "zrobot.service installed as: '$units'"
ok "meson install: bin, libexec, templates (actions executable), man1, man5, completion, unit"

# ---------------------------------------------------------------------------------------------
# The unit: its settings, then systemd-analyze verify on the installed copy with ExecStart
# pointing into the destdir (verify wants the binary to exist) and MANPATH there (it runs man
# for each Documentation= page).

unit=$(cat "$units")
expect_in "$unit" "ExecStart=$prefix/$bindir/zrobot run" "ExecStart (from prefix/bindir)"
for kv in Type=notify NotifyAccess=main KillMode=process Delegate=yes Restart=on-failure \
	'Documentation=man:zrobot(1) man:zrobot-template(5)'; do
	printf '%s\n' "$unit" | grep -qxF -- "$kv" || fail "zrobot.service lacks $kv"
done
stop_s=$(printf '%s\n' "$unit" | sed -n 's/^TimeoutStopSec=\([0-9]*\)$/\1/p')
[ -n "$stop_s" ] && [ "$stop_s" -gt 5 ] ||
	fail "TimeoutStopSec '$stop_s' must exceed the 5 s kill grace"
mkdir -p "$TMP/verify"
sed "s|^ExecStart=$prefix/$bindir/zrobot |ExecStart=$BIN |" "$units" >"$TMP/verify/zrobot.service"
verify() {
	MANPATH=$P/$mandir timeout 60 systemd-analyze verify "$1" >"$TMP/verify.out" 2>&1
}
verify "$TMP/verify/zrobot.service" ||
	fail "systemd-analyze verify failed: $(cat "$TMP/verify.out")"
[ ! -s "$TMP/verify.out" ] || fail "systemd-analyze verify warned: $(cat "$TMP/verify.out")"
# The same check refuses a unit whose binary is not there: it is not a check that cannot fail.
sed "s|^ExecStart=.*|ExecStart=$TMP/none/zrobot run|" "$units" >"$TMP/verify/zrobot.service"
! verify "$TMP/verify/zrobot.service" || fail "verify passed a unit with a missing binary"
ok "zrobot.service: Type=notify, KillMode=process, Delegate=yes...; systemd-analyze verify passes"

# ---------------------------------------------------------------------------------------------
# The man pages: no warning from man (groff) nor mandoc's lint; every command and option of
# --help in zrobot(1); every manifest key the loader knows in zrobot-template(5).

for f in "$ZR_SRC/man/zrobot.1" "$ZR_SRC/man/zrobot-template.5"; do
	w=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
	[ -z "$w" ] || fail "man --warnings $(basename "$f"): $w"
	if command -v mandoc >/dev/null 2>&1; then
		w=$(mandoc -T lint "$f" 2>&1) || fail "mandoc -T lint $(basename "$f"): $w"
		[ -z "$w" ] || fail "mandoc -T lint $(basename "$f"): $w"
	elif [ "${CI:-}" = true ]; then
		fail "mandoc is missing (tests/deps.sh installs it)"
	fi
done
# The version they name is this zrobot's.
version=$("$ZROBOT" --version | sed 's/^zrobot //')
for f in "$ZR_SRC/man/zrobot.1" "$ZR_SRC/man/zrobot-template.5"; do
	grep -qF " \"zrobot $version\" " "$f" ||
		fail "$(basename "$f"): its .TH does not name zrobot $version"
done
# The roff source without escapes: \- is -, \(dq is ", font changes go.
plain() { sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(dq/"/g' "$1"; }
page1=$(plain "$ZR_SRC/man/zrobot.1")
for c in $commands; do
	printf '%s\n' "$page1" | grep -Eq "zrobot $c([^a-z-]|$)" || fail "zrobot(1) lacks 'zrobot $c'"
done
for o in $options; do
	printf '%s\n' "$page1" | grep -Eq -- "$o([^a-z0-9-]|$)" || fail "zrobot(1) lacks $o"
done
keys=$("$ZR_PY" - "$ZR_SRC/core" <<'EOF'
import re, sys
core = sys.argv[1]
src = open(core + "/template.c").read()
keys = set(re.findall(r'"([a-z_]+)"', re.search(r'keys\[\] = \{(.*?)\};', src, re.S).group(1)))
for f in ("template.c", "schema.c"):
    keys |= set(re.findall(r'strcmp\(key, "([a-z_]+)"\)', open(core + "/" + f).read()))
keys |= set(re.findall(r'"([a-z_]+)"', open(core + "/process-def.c").read())) - {"true", "false"}
print("\n".join(sorted(keys)))
EOF
)
[ "$(printf '%s\n' "$keys" | grep -c .)" -gt 30 ] || fail "too few manifest keys found: $keys"
page5=$(plain "$ZR_SRC/man/zrobot-template.5")
for k in $keys; do
	printf '%s\n' "$page5" | grep -qw -- "$k" || fail "zrobot-template(5) lacks the key '$k'"
done
ok "man pages: no warnings; $(echo $commands | wc -w) commands, $(echo $options | wc -w)" \
	"options, $(echo $keys | wc -w) manifest keys listed"

# ---------------------------------------------------------------------------------------------
# Bash completion, through the bash-completion framework and the installed file.

# complete LINE: the COMPREPLY the installed completion gives for LINE (the cursor at its end),
# one a line.
complete_line() {
	PATH="$(dirname "$ZROBOT"):$PATH" timeout 20 bash --norc --noprofile -c '
		. "$1"
		. "$2"
		fn=$(complete -p zrobot | sed -n "s/.* -F \([^ ]*\) .*/\1/p")
		COMP_LINE=$3
		COMP_POINT=${#COMP_LINE}
		read -ra COMP_WORDS <<<"$3"
		[[ $3 == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		"$fn" zrobot "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}"' _ "$BASH_COMPLETION" "$COMP" "$1"
}
got=$(complete_line "zrobot ")
for c in $commands --help --version; do
	printf '%s\n' "$got" | grep -qxF -- "$c" || fail "zrobot <TAB> lacks $c: $(echo $got)"
done
got=$(complete_line "zrobot run --")
for o in $("$ZROBOT" run --help | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
	printf '%s\n' "$got" | grep -qxF -- "$o" || fail "zrobot run --<TAB> lacks $o: $(echo $got)"
done
expect_eq "$(complete_line "zrobot run --log-level " | sort | tr '\n' ' ')" \
	"debug error info warn " \
	"zrobot run --log-level <TAB>"
expect_eq "$(complete_line "zrobot repo " | tr '\n' ' ')" "add --help " "zrobot repo <TAB>"
ok "completion: zrobot <TAB>, zrobot run --<TAB> (every option of run --help), values"

# ---------------------------------------------------------------------------------------------
# sd_notify, for real: READY=1 only once the mount answers, STOPPING=1 at SIGTERM.

mk_t
mk_action "$TPL/t" envdump 'env'
# listen ADDR OUT: the service manager's end of NOTIFY_SOCKET, in the background.
listen() {
	rm -f "$2" "$2.ready"
	"$ZR_PY" "$ZR_SRC/tests/integration/sdnotify-listen.py" "$1" "$2" "$MNT" &
	LISTENER=$!
	wait_for "[ -e '$2.ready' ]" 10 || fail "the notify listener did not start"
}
# notified OUT: READY came with the mount answering; prints OUT.
notified() {
	wait_for "grep -q '^LS' '$1'" 20 || fail "no READY=1 within 20 s: $(cat "$1")"
	local first
	first=$(head -n 1 "$1")
	expect_eq "$first" "MSG READY=1|STATUS=Mounted at $MNT" "the first notification"
	sed -n 2p "$1" | grep -qx 'LS .*\binfo\b.*' ||
		fail "at READY=1, ls $MNT/@robot: $(sed -n 2p "$1")"
}
# stopped OUT: STOPPING=1 came after READY, and the listener ended.
stopped() {
	local i
	for i in $(seq 100); do
		pid_alive "$LISTENER" || break
		sleep 0.1
	done
	! pid_alive "$LISTENER" || fail "no STOPPING=1 within 10 s: $(cat "$1")"
	wait "$LISTENER" 2>/dev/null
	expect_eq "$(tail -n 1 "$1")" "MSG STOPPING=1" "the last notification"
	expect_eq "$(grep -c '^MSG' "$1")" 2 "notifications (READY=1, STOPPING=1)"
}

listen "$TMP/notify.sock" "$TMP/notify.out"
# --pass-env NOTIFY_SOCKET: the robot must drop it all the same.
NOTIFY_SOCKET=$TMP/notify.sock ZR_PASS_ENV=TMP,MNT,DATA,TPL,MARKS,NOTIFY_SOCKET \
	zr_start --listen none
notified "$TMP/notify.out"
ok "READY=1 (with STATUS) sent once $MNT/@robot answers"

mkdir "$MNT/t/s1" || fail "mkdir t/s1"
echo > "$MNT/t/s1/actions/envdump"
env_out=$(rcat "$MNT/t/s1/results/envdump")
expect_in "$env_out" "ZR_SERVICE=t/s1" "the action's environment"
expect_not_in "$env_out" "NOTIFY_SOCKET" "the action's environment (--pass-env NOTIFY_SOCKET)"
ok "actions never get the robot's NOTIFY_SOCKET, even with --pass-env NOTIFY_SOCKET"

# TEMPLATE/SERVICE from the mount.
got=$(complete_line "zrobot export --mount $MNT ")
for w in t/ node/; do
	printf '%s\n' "$got" | grep -qxF "$w" || fail "zrobot export <TAB> lacks $w: $(echo $got)"
done
printf '%s\n' "$got" | grep -q '^@' && fail "zrobot export <TAB> offers @ names: $(echo $got)"
expect_eq "$(complete_line "zrobot export --mount $MNT t/")" "t/s1" "zrobot export t/<TAB>"
# A robot that does not answer (stopped) costs at most a second a lookup, and completes nothing.
kill -STOP "$ZR_PID"
t0=$(now)
got=$(complete_line "zrobot export --mount $MNT t/") || true
took=$(since "$t0")
kill -CONT "$ZR_PID"
[ -z "$got" ] || fail "a stopped robot's mount completed: $got"
fgt 5 "$took" || fail "completion on a stopped robot's mount took $took s"
ok "completion: TEMPLATE/ and TEMPLATE/SERVICE from the mount; a hung mount: nothing in $took s"

zr_stop
stopped "$TMP/notify.out"
ok "STOPPING=1 at SIGTERM, nothing else"

# An abstract socket (@NAME), as systemd gives its services.
abstract="@zrobot-test-$$-$RANDOM"
listen "$abstract" "$TMP/notify2.out"
NOTIFY_SOCKET=$abstract zr_start --listen none
notified "$TMP/notify2.out"
zr_stop
stopped "$TMP/notify2.out"
ok "READY=1 and STOPPING=1 on an abstract socket"

# ---------------------------------------------------------------------------------------------
# The installed binary loads the installed built-in templates (found beside it in the destdir).

rm -rf "$TPL"/*
ZROBOT=$BIN zr_start --listen none
root=$(timeout 10 ls "$MNT") || fail "ls $MNT"
for t in "$ZR_SRC"/templates/*/; do
	printf '%s\n' "$root" | grep -qx "$(basename "$t")" ||
		fail "the installed robot lacks template $(basename "$t"): $(echo $root)"
done
src=$(timeout 10 readlink "$MNT/@robot/templates/node/source" ||
	timeout 10 cat "$MNT/@robot/templates/node/source")
expect_eq "$src" "$P/$datadir/zrobot/templates/node" "the installed robot's node template folder"
zr_stop
ok "the installed binary loads its built-in templates from $datadir/zrobot/templates"
