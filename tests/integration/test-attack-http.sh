#!/bin/bash
# Attacks over HTTP (issue 12, README "Security" and "HTTP API"): what a request without a
# token, a user token, a service's secret and the admin token may reach, through another robot
# (@remote/NAME/...), through links (producers/<role>, consumers/<t>.<s>), by the spelling of a
# path and by the Authorization header. Each is refused with its code and changes nothing; the
# remote here (odd-remote.py) also answers statuses HTTP does not define.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

UA=attacker-a-token-0123456789
UB=attacker-b-token-9876543210
printf '%s\n%s\n' "$UA" "$UB" >"$TMP/tokens"

mk_template "$TPL" u '{"name": "u", "version": "1.0.0", "users": true,
  "env": {"HTTP_PROXY": "http://proxyuser:proxy-pass-word@proxy.example:3128"},
  "data": {"note": {"type": "string", "default": "none"},
           "pw": {"type": "string", "secret": true, "default": "x"}},
  "actions": {"hello": {}, "proxy": {}}}'
mk_action "$TPL/u" hello 'echo hi'
mk_action "$TPL/u" proxy 'printf "%s" "$HTTP_PROXY" >"$MARKS/proxy"'
mk_template "$TPL" uapp '{"name": "uapp", "version": "1.0.0", "users": true,
  "consumes": {"host": {"template": "u"}}, "actions": {"noop": {}}}'
mk_action "$TPL/uapp" noop 'true'

# ---- another robot that answers odd statuses, and logs what reaches it ----
OLOG=$TMP/odd.requests
"$ZR_PY" "$ZR_SRC/tests/integration/odd-remote.py" "$TMP/odd.port" "$OLOG" >"$TMP/odd.log" 2>&1 &
zr_track_pid $!
wait_for "[ -s '$TMP/odd.port' ]" 10 || fail "the odd remote did not start: $(cat "$TMP/odd.log")"

zr_start_http --token-file "$TMP/tokens" --remote "odd=http://127.0.0.1:$(cat "$TMP/odd.port")"
body=(-H 'Content-Type: application/json' --data-binary)

json_post "$UB" /v1/u '{"name": "b1", "data": {"note": "b-private-note", "pw": "b-private-pw"}}'
expect_eq "$HS" 201 "user B creates u/b1"
SB1=$(jbody 'j["secret"]')
json_post "$UA" /v1/u '{"name": "a1", "data": {"note": "a-note"}}'
expect_eq "$HS" 201 "user A creates u/a1"
SA1=$(jbody 'j["secret"]')
json_post "$UA" /v1/uapp '{"name": "aapp", "data": {"host": "u/a1"}}'
expect_eq "$HS" 201 "user A creates uapp/aapp on u/a1"
wait_for "grep -q 'Remote odd .* is up' '$TMP/robot.log'" 10 || fail "the odd remote is not up"

# What must not change: services, their data, the tokens.
jq_note() { json "$MNT/$1/data" 'j["note"]'; }
snapshot() {
	{
		(cd "$MNT" && ls -d */*/ | grep -v '^@')
		cat "$MNT/u/b1/data" "$MNT/u/a1/data" "$MNT/uapp/aapp/data"
		sha256sum "$DATA/admin.token"
	} 2>&1
}
before=$(snapshot)

# ---- another robot's admin-only files, through this robot's token there ----
# Our token there may be its admin: only our admin may send anything through it.
: >"$OLOG"
for tok in "$UA" "$SA1" "$SB1"; do
	for p in @remote/odd/@robot/log @remote/odd/u/b1/data @remote/odd/@remote/c/@robot/log \
		@remote/odd/@remote/c/u/b1/data @remote/odd/status/200 @remote/odd @remote/odd/; do
		for m in GET HEAD; do
			expect_http 403 "$tok" $m "/v1/$p"
		done
		expect_http 403 "$tok" POST "/v1/$p" "${body[@]}" '{}'
		expect_http 403 "$tok" PUT "/v1/$p" "${body[@]}" '{}'
		expect_http 403 "$tok" DELETE "/v1/$p"
	done
	http "$tok" GET /v1/@remote/odd/u/b1/events -H 'Accept: text/event-stream'
	expect_eq "$HS" 403 "an event stream of the remote"
done
expect_http 401 - GET /v1/@remote/odd/status/200
expect_eq "$(cat "$OLOG")" "" "requests that reached the remote for user tokens and secrets"
expect_http 200 "$ADMIN" GET /v1/@remote/odd/status/200
expect_eq "$(cat "$OLOG")" "GET /v1/status/200" "the admin's request, at the remote"
ok "user tokens and secrets reach nothing of another robot (403, even its @robot/log at any depth); nothing is sent"

# ---- statuses HTTP does not define, from another robot ----
for c in 600 999; do
	for m in GET POST; do
		http "$ADMIN" "$m" "/v1/@remote/odd/status/$c" "${body[@]}" '{}'
		expect_eq "$HS" 502 "$m of a remote answering $c"
		expect_eq "$(jbody 'j["error"]')" EIO "the error of a remote answering $c"
		expect_in "$(jbody 'j["detail"]')" "answered HTTP $c" "the detail of a remote answering $c"
	done
done
# A 401 there is its refusal of our robot's token, not of the client's.
http "$ADMIN" GET /v1/@remote/odd/status/401
expect_eq "$HS" 403 "a remote answering 401"
expect_eq "$(jbody 'j["error"]')" EACCES "the error of a remote answering 401"
expect_in "$(jbody 'j["detail"]')" "refused our token" "the detail of a remote answering 401"
[ -z "$(hdr WWW-Authenticate)" ] || fail "WWW-Authenticate on a remote's 401"
expect_http 404 "$ADMIN" GET /v1/@remote/odd/status/404
expect_http 409 "$ADMIN" GET /v1/@remote/odd/status/409
pid_alive "$ZR_PID" || fail "the robot died of a remote's odd status"
ok "a remote's status past 599 is 502 here, its 401 (our token refused) 403: never passed on as ours; real ones still are"

# ---- links: the redirect names the same names, whatever they hold ----
http "$UB" GET /v1/uapp/aapp/producers/host/info
expect_eq "$HS" 307 "GET through producers/host"
expect_eq "$(hdr Location)" /v1/u/a1/info "Location through producers/host"
http "$UB" GET '/v1/uapp/aapp/producers/host/x%3Fwait=5'
expect_eq "$HS" 307 "GET through a link of a name with a ?"
expect_eq "$(hdr Location)" '/v1/u/a1/x%3Fwait=5' "Location of a name with a ? (no query)"
http "$UB" GET '/v1/uapp/aapp/producers/host/%252e%252e/%252e%252e/@robot/log'
expect_eq "$HS" 307 "GET through a link of a name %2e%2e"
loc=$(hdr Location)
expect_eq "$loc" '/v1/u/a1/%252e%252e/%252e%252e/@robot/log' "Location of names %2e%2e"
# Followed as a browser would (%2e%2e in a URL is a dot segment to WHATWG), it stays there.
expect_http 404 "$UB" GET "$loc"
http "$UB" GET '/v1/u/a1/consumers/uapp.aapp/a%23b%20c%C3%A9'
expect_eq "$(hdr Location)" '/v1/uapp/aapp/a%23b%20c%C3%A9' "Location of a name with # space and UTF-8"
ok "a redirect through a link re-encodes the names after it ('?', '#', '%', spaces): the same names, no query, no dot segment"

# ---- a user token and another's data, spelled otherwise ----
for p in u/b1/data u/b1/data/ u/b1/%64ata 'u/b1/data?after=0' 'u/b1/data?wait=1'; do
	http "$UA" GET "/v1/$p"
	expect_eq "$HS" 403 "user A GET /v1/$p"
	expect_not_in "$HB" b-private "user A GET /v1/$p"
done
expect_http 403 "$UA" HEAD /v1/u/b1/data
http "$UA" GET /v1/u/b1/data -H 'Accept: text/event-stream'
expect_eq "$HS" 403 "user A's event stream of u/b1/data"
for p in u/b1 u/b1/ u/b1/info u/b1/events u/b1/log u/b1/lasterror @robot/events; do
	http "$UA" GET "/v1/$p"
	expect_eq "$HS" 200 "user A GET /v1/$p"
	expect_not_in "$HB" b-private "user A GET /v1/$p"
done
for p in u/b1/DATA u/B1/data 'u/b1/data%00' 'u/b1/data%20'; do
	http "$UA" GET "/v1/$p"
	case $HS in 400 | 403 | 404) ;; *) fail "user A GET /v1/$p: status $HS" ;; esac
	expect_not_in "$HB" b-private "user A GET /v1/$p"
done
ok "another's data stays 403 whatever the spelling (trailing /, %64, query, ?wait, HEAD, event stream)"

# ---- a slow request: rights are those of the service it reaches, when it reaches it ----
# The headers name A's own service; before the body's last byte, A deletes it and B makes one
# of that name. (GET takes a body like any request; the read happens once it arrived.)
slow_get() { # TOKEN PATH TRIGGER-SCRIPT: the answer of a GET whose body waits for TRIGGER
	"$ZR_PY" - "$URL" "$1" "$2" "$3" <<'PY'
import socket, subprocess, sys, urllib.parse
url, tok, path, trigger = sys.argv[1:]
u = urllib.parse.urlsplit(url)
c = socket.create_connection((u.hostname, u.port), timeout=20)
c.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1\r\n"
           "Connection: close\r\n\r\n" % (path, tok)).encode())
subprocess.run(["bash", "-c", trigger], check=True)
c.sendall(b"x")
out = b""
while True:
    b = c.recv(65536)
    if not b:
        break
    out += b
print(out.decode("utf-8", "replace").split("\r\n")[0].split()[1])
print(out.decode("utf-8", "replace").split("\r\n\r\n", 1)[-1])
PY
}
export URL UA UB SA1 ADMIN
recreate='set -e
curl -sf -o /dev/null -X DELETE -H "Authorization: Bearer $1" "$URL/v1/u/$2"
curl -sf -o /dev/null -H "Authorization: Bearer $UB" -H "Content-Type: application/json" \
	-d "{\"name\": \"$2\", \"data\": {\"note\": \"b-victim-note\"}}" "$URL/v1/u"'
json_post "$UA" /v1/u '{"name": "reused"}'
expect_eq "$HS" 201 "user A creates u/reused"
out=$(slow_get "$UA" /v1/u/reused/data "bash -c '$recreate' - '$UA' reused") || fail "the slow GET"
expect_not_in "$out" b-victim-note "user A's slow GET of u/reused/data, now B's"
expect_eq "$(head -n 1 <<<"$out")" 403 "user A's slow GET of u/reused/data, now B's"
expect_eq "$(jq_note u/reused)" b-victim-note "B's u/reused"
json_post "$UA" /v1/u '{"name": "reused2"}'
expect_eq "$HS" 201 "user A creates u/reused2"
SR2=$(jbody 'j["secret"]')
out=$(slow_get "$SR2" /v1/u/reused2/data "bash -c '$recreate' - '$UA' reused2") || fail "the slow GET"
expect_not_in "$out" b-victim-note "the old secret's slow GET of u/reused2/data, now B's"
expect_eq "$(head -n 1 <<<"$out")" 403 "the old secret's slow GET of u/reused2/data, now B's"
ok "a slow GET is decided on the service it reads when it reads it: A's token and an old secret get 403 on B's service of the same name"
before=$(snapshot) # with B's two new services

# ---- a password in a manifest's env (a proxy's URL) ----
for tok in "$UA" "$ADMIN"; do
	http "$tok" GET /v1/@robot/templates/u/manifest
	expect_eq "$HS" 200 "GET the manifest of u"
	expect_not_in "$HB" proxy-pass-word "the manifest of u over HTTP"
	expect_eq "$(jbody 'j["env"]["HTTP_PROXY"]')" 'http://proxyuser:***@proxy.example:3128' \
		"the proxy's URL in the manifest"
done
expect_not_in "$(cat "$MNT/@robot/templates/u/manifest")" proxy-pass-word "the manifest of u on the mount"
expect_http 201 "$UA" POST /v1/u/a1/actions/proxy
wait_for "[ -s '$MARKS/proxy' ]" 10 || fail "u's proxy action did not run"
expect_eq "$(cat "$MARKS/proxy")" 'http://proxyuser:proxy-pass-word@proxy.example:3128' \
	"HTTP_PROXY as the action gets it"
ok "a manifest's env shows URLs with their password masked (HTTP and mount); actions get the real value"

# ---- the Authorization header ----
for h in "Bearer $ADMIN$ADMIN" "Bearer ${ADMIN:0:32}" "Bearer ${ADMIN:0:63}" "Bearer $ADMIN x" \
	"Bearer x$ADMIN" "Bearer $(printf 'a%.0s' $(seq 8000))" "Basic $ADMIN" "$ADMIN" \
	"Bearer ${SB1:0:8}" "Bearer $UA$UA" "Bearer ${UA%?}"; do
	http - GET /v1/u/b1/data -H "Authorization: $h"
	expect_eq "$HS" 401 "Authorization: ${h:0:20}... (${#h} bytes)"
	expect_not_in "$HB" b-private "Authorization: ${h:0:20}..."
done
expect_http 200 - GET /v1/u/b1/data -H "Authorization: bearer   $SB1  "
ok "a token is the whole token: longer, shorter, repeated, with more words or another scheme is 401"

expect_eq "$(snapshot)" "$before" "services, data and tokens after the attacks"
pid_alive "$ZR_PID" || fail "the robot died"
zr_stop
