#!/bin/bash
# Editors that save by rename (issue 15 item 6): a temporary file created in a service folder
# and renamed over data is applied as one data write (sed -i, python's NamedTemporaryFile +
# os.replace, mv; vim with backupcopy=no is checked too, though this vim writes data in place);
# an invalid one fails the rename with EINVAL, data unchanged,
# the temporary gone and the reason in lasterror; renames onto anything else, of data itself,
# and temporaries elsewhere are refused; temporaries are never listed and go after a close.
. "$(dirname "$0")/lib.sh"

mk_t
zr_start
S=$(svc t a)

# sed -i: mkstemp in the folder, write, fchown + fchmod, close, rename over data.
echo '{"greeting": "port 6379", "count": 2}' >"$S/data" || fail "echo > data"
timeout 20 sed -i 's/6379/6380/' "$S/data" || fail "sed -i on data"
expect_eq "$(json "$S/data" 'j')" '{"count": 2, "greeting": "port 6380"}' "data after sed -i"
expect_eq "$(stat -c %a "$S/data")" 600 "mode of data after sed -i"
ok "sed -i 's/6379/6380/' data is applied"

# vim writing a new file and renaming it (backupcopy=no).
timeout 20 vim -u NONE -N -n -es -c 'set backupcopy=no' -c '%s/6380/6381/' -c 'wq' "$S/data" \
	</dev/null >/dev/null 2>&1 || fail "vim backupcopy=no on data (rc=$?)"
expect_eq "$(json "$S/data" 'j')" '{"count": 2, "greeting": "port 6381"}' "data after vim"
ok "vim with backupcopy=no saves data"

# python's atomic-write idiom, the temporary still open at the rename.
timeout 20 "$ZR_PY" - "$S" <<'PY' || fail "python atomic write"
import os, sys, tempfile
d = sys.argv[1]
with tempfile.NamedTemporaryFile("w", dir=d, delete=False) as f:
	f.write('{"greeting": "atomic", "count": 3}\n')
	f.flush()
	os.replace(f.name, os.path.join(d, "data"))
PY
expect_eq "$(json "$S/data" 'j')" '{"count": 3, "greeting": "atomic"}' "data after os.replace"
ok "NamedTemporaryFile(dir=...) + os.replace applies the new data"

# mv of a file made in the folder (coreutils tries RENAME_NOREPLACE first: EEXIST, then renames).
echo '{"greeting": "moved", "count": 4}' >"$S/new.json" || fail "echo > a new file in the folder"
timeout 20 mv "$S/new.json" "$S/data" || fail "mv new.json data"
expect_eq "$(json "$S/data" 'j')" '{"count": 4, "greeting": "moved"}' "data after mv"
[ ! -e "$S/new.json" ] || fail "new.json still there after mv"
ok "mv of a new file over data applies it"

# Refused: invalid JSON and invalid data fail the rename with EINVAL; the temporary goes.
before=$(rcat "$S/data")
refused() { # refused CONTENT WHAT
	local out
	out=$(timeout 20 "$ZR_PY" - "$S" "$1" <<'PY'
import errno, os, sys
d, body = sys.argv[1], sys.argv[2]
tmp = os.path.join(d, ".data.new")
with open(tmp, "w") as f:
	f.write(body)
try:
	os.rename(tmp, os.path.join(d, "data"))
	print("renamed")
except OSError as e:
	print(errno.errorcode[e.errno], "exists" if os.path.exists(tmp) else "gone")
PY
	)
	expect_eq "$out" "EINVAL gone" "rename of $2"
	expect_eq "$(rcat "$S/data")" "$before" "data after $2"
	expect_match "$(rcat "$S/lasterror")" '^[0-9T:.Z-]+ /t/a/data EINVAL .' "lasterror after $2"
	ok "a rename of $2: EINVAL, data unchanged, temporary gone, lasterror set"
}
refused '{"count": ' "truncated JSON"
refused '{"count": "many"}' "data the schema refuses"
refused '' "an empty file"

# Refused: a rename onto another file, of data itself, a temporary where no data is.
out=$(timeout 20 "$ZR_PY" - "$S" <<'PY'
import errno, os, sys
d = sys.argv[1]
def e(f):
	try:
		f()
		return "ok"
	except OSError as x:
		return errno.errorcode[x.errno]
tmp = os.path.join(d, "t1")
fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
os.write(fd, b'{"count": 4}')
print(e(lambda: os.rename(tmp, os.path.join(d, "lasterror"))),
      e(lambda: os.rename(tmp, os.path.join(d, "other"))),
      e(lambda: os.rename(os.path.join(d, "data"), os.path.join(d, "data~"))),
      e(lambda: os.rename(tmp, os.path.join(d, "actions", "data"))),
      e(lambda: os.open(os.path.join(d, "actions", "x"), os.O_CREAT | os.O_WRONLY, 0o600)),
      e(lambda: os.open(os.path.join(d, "..", "x"), os.O_CREAT | os.O_WRONLY, 0o600)),
      e(lambda: os.open(os.path.join(d, "state"), os.O_CREAT | os.O_EXCL | os.O_WRONLY)),
      e(lambda: os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY)))
print(sorted(n for n in os.listdir(d) if n.startswith("t1")), os.path.exists(tmp))
os.fchmod(fd, 0o644)
os.fchown(fd, 0, 0)
print(os.fstat(fd).st_size)
os.close(fd)
os.unlink(tmp)
print(os.path.exists(tmp))
PY
)
expect_eq "$out" "$(printf '%s\n' 'EPERM EPERM EPERM EPERM EPERM EPERM EEXIST EEXIST' '[] True' 12 False)" \
	"refused renames and creates"
expect_eq "$(rcat "$S/data")" "$before" "data after refused renames"
ok "renames onto another file, of data, across folders, and creates outside a service: refused"
ok "a temporary is never listed, fchmod/fchown/fstat on it are harmless, unlink removes it"

# Bounds: a temporary larger than --http-max-body is EFBIG; a few per folder, then EDQUOT.
out=$(timeout 20 "$ZR_PY" - "$S" <<'PY'
import errno, os, sys
d = sys.argv[1]
fds, res = [], "none"
try:
	for i in range(20):
		fds.append(os.open(os.path.join(d, "q%d" % i), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
except OSError as e:
	res = "%s after %d" % (errno.errorcode[e.errno], len(fds))
try:
	os.pwrite(fds[0], b"x", 1 << 30)
	big = "written"
except OSError as e:
	big = errno.errorcode[e.errno]
for fd in fds:
	os.close(fd)
print(res, big)
PY
)
expect_eq "$out" "EDQUOT after 8 EFBIG" "limits of temporaries"
ok "temporaries are bounded: 8 per folder and user (EDQUOT), --http-max-body bytes each (EFBIG)"

# A temporary closed without a rename goes (after a short grace for sed's close-then-rename):
# the 8 above too, so 8 new ones can be made.
sleep 7
[ ! -e "$S/q0" ] || fail "a closed temporary is still there after 7 s"
out=$(timeout 20 "$ZR_PY" - "$S" <<'PY'
import os, sys
d = sys.argv[1]
fds = [os.open(os.path.join(d, "r%d" % i), os.O_CREAT | os.O_EXCL | os.O_WRONLY) for i in range(8)]
for fd in fds:
	os.close(fd)
print("ok")
PY
) || fail "8 new temporaries after the others went: $out"
ok "temporaries closed without a rename go (no EDQUOT from the old ones)"

# Private: another user does not see the robot user's open temporary (needs --allow-other).
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	zr_stop
	zr_start --allow-other
	chmod 711 "$TMP" # the other user must reach the mount point (mktemp made $TMP 0700)
	"$ZR_PY" - "$S" <<'PY' &
import os, sys, time
f = open(os.path.join(sys.argv[1], "mine"), "w")
f.write("{}")
f.flush()
time.sleep(4)
PY
	holder=$!
	sleep 1
	[ -e "$S/mine" ] || fail "the creator does not see its temporary"
	as_nobody() { timeout 10 setpriv --reuid=65534 --regid=65534 --clear-groups "$@" 2>&1; }
	listing=$(as_nobody ls -a "$S" | tr '\n' ' ')
	expect_in "$listing" " data " "another user's listing of the service folder"
	expect_not_in "$listing" "mine" "another user's listing of the service folder"
	expect_in "$(as_nobody stat "$S/mine")" "No such file" "another user's stat of the temporary"
	wait "$holder"
	ok "another user neither lists nor finds a temporary"
fi

zr_stop
