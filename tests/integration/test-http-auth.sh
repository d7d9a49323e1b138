#!/bin/bash
# HTTP authentication: the admin token (made once, 0600, its path logged, never the token),
# user tokens from --token-file, service secrets; the matrix admin/user/secret × endpoints
# with 401 and 403 (README "Security": a user token acts only on the services it created, a
# secret never deletes); secrets and the admin token survive a restart; TLS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-http.sh"

mk_t
# t is offered to user tokens here (the role model's "users": true).
$ZR_PY - "$TPL/t/template.json" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))
m["users"] = True
json.dump(m, open(sys.argv[1], "w"))
PY
USER1=user-token-0123456789abcdef
USER2=second-user-token-zyxwvutsrq
printf '# user tokens\n\n  %s  \n%s\n' "$USER1" "$USER2" >"$TMP/tokens"
zr_start_http --token-file "$TMP/tokens"

# ---- the admin token ----
expect_eq "$(stat -c %a "$DATA/admin.token")" 600 "mode of admin.token"
expect_match "$ADMIN" '^[0-9a-f]{64}$' "admin token: 256 bits in hex"
expect_in "$(cat "$TMP/robot.log")" "$DATA/admin.token" "the token's path in the log"
grep -qF "$ADMIN" "$TMP/robot.log" && fail "the admin token is in the log"
grep -qF "$USER1" "$TMP/robot.log" && fail "a user token is in the log"
ok "admin token: 64 hex digits, mode 0600, its path logged, never the token"

# ---- services and their secrets ----
json_post "$ADMIN" /v1/t '{"name": "a"}'
SA=$(jbody 'j["secret"]')
json_post "$ADMIN" /v1/t '{"name": "b"}'
SB=$(jbody 'j["secret"]')
json_post "$ADMIN" /v1/t/a/actions/slow '{"secs": 30}'
TA=$(jbody 'j["id"]')
json_post "$ADMIN" /v1/t/b/actions/echo '{"n": 1}'

# ---- 401: no token, bad tokens ----
for tok in - "" "x$ADMIN" "${ADMIN%?}" "$(printf '%s' "$ADMIN" | tr a-f A-F)" "$USER1.x" "${SA:0:32}"; do
	expect_http 401 "$tok" GET /v1/t/a/state
done
expect_eq "$(hdr WWW-Authenticate)" 'Bearer realm="zrobot"' "WWW-Authenticate"
expect_eq "$(jbody 'j["error"]')" EACCES "401 error"
HS=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Basic $(printf 'a:b' | base64)" "$URL/v1/")
expect_eq "$HS" 401 "Basic auth"
HS=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: bearer $ADMIN" "$URL/v1/")
expect_eq "$HS" 200 "the scheme is case-insensitive"
expect_http 401 - GET /metrics
expect_http 401 - POST /v1/t -H 'Content-Type: application/json' -d '{"name": "z"}'
expect_http 401 - DELETE /v1/t/a
[ -d "$MNT/t/a" ] || fail "t/a deleted without a token"
ok "401 for no token, Basic, near-miss tokens (prefix, suffix, case, truncated)"

# ---- the matrix ----
# check ROLE-NAME TOKEN WANT METHOD PATH [CURL-ARGS...]
check() {
	local who=$1 tok=$2 want=$3
	shift 3
	http "$tok" "$@"
	[ "$HS" = "$want" ] || fail "$who: $1 $2: status $HS, want $want; body: $HB"
}
body=(-H 'Content-Type: application/json' --data-binary)
# Every row: endpoint, then the status for admin, user, secret of t/a.
rows=(
	"GET /v1/|200|200|403"
	"GET /v1/t|200|200|403"
	"GET /v1/@robot/info|200|200|403"
	"GET /v1/@robot/events|200|200|403"
	"GET /metrics|200|200|403"
	"GET /v1/t/a|200|200|200"
	"GET /v1/t/a/state|200|200|200"
	"GET /v1/t/a/data|200|403|200"
	"GET /v1/t/a/tasks/$TA/state|200|200|200"
	"HEAD /v1/t/a/data|200|403|200"
	"GET /v1/t/b/state|200|200|403"
	"GET /v1/t/b/data|200|403|403"
	"GET /v1/t/zz/state|404|404|403"
	"GET /v1/t/a/nope|404|404|404"
	"GET /v1/@robot/log|200|403|403"
	"HEAD /v1/@robot/log|200|403|403"
)
for row in "${rows[@]}"; do
	IFS='|' read -r ep wa wu ws <<<"$row"
	check admin "$ADMIN" "$wa" $ep
	check user "$USER1" "$wu" $ep
	check user2 "$USER2" "$wu" $ep
	check secret "$SA" "$ws" $ep
done
ok "reads: admin everything, user all but data and @robot/log, a secret its own service only"

for who in admin user secret; do
	case $who in
	admin) tok=$ADMIN w=(201 204 201 204 204 201 204 405) ;;
	user) tok=$USER1 w=(201 403 403 403 403 403 403 403) ;;
	secret) tok=$SA w=(403 204 201 204 403 403 403 403) ;;
	esac
	check "$who" "$tok" "${w[0]}" POST /v1/t "${body[@]}" "{\"name\": \"by-$who\"}"
	check "$who" "$tok" "${w[1]}" PUT /v1/t/a/data "${body[@]}" '{"greeting": "hello"}'
	check "$who" "$tok" "${w[2]}" POST /v1/t/a/actions/echo "${body[@]}" '{"n": 2}'
	json_post "$ADMIN" /v1/t/a/actions/slow '{"secs": 30}'
	id=$(jbody 'j["id"]')
	check "$who" "$tok" "${w[3]}" POST "/v1/t/a/tasks/$id/cancel"
	check "$who" "$tok" "${w[4]}" PUT /v1/t/b/data "${body[@]}" '{"greeting": "hello"}'
	check "$who" "$tok" "${w[5]}" POST /v1/t/b/actions/echo "${body[@]}" '{"n": 2}'
	svc t "del-$who" >/dev/null
	check "$who" "$tok" "${w[6]}" DELETE "/v1/t/del-$who"
	check "$who" "$tok" "${w[7]}" POST /v1/@robot/info -d x
done
expect_http 403 "$USER1" POST /v1/@robot/templates -d x
expect_eq "$(jbody 'j["error"]')" EPERM "403 error"
[ -d "$MNT/t/by-admin" ] && [ -d "$MNT/t/by-user" ] || fail "services created by admin and user are missing"
[ ! -e "$MNT/t/by-secret" ] || fail "a secret created a service"
[ ! -e "$MNT/t/del-admin" ] || fail "the admin's deletion left the service"
[ -d "$MNT/t/del-user" ] || fail "a user token deleted a service it did not create"
[ -d "$MNT/t/del-secret" ] || fail "a secret deleted another service"
ok "writes: create, data, actions, cancel, delete, @robot — admin, user (not its services), secret"

# The creator's token acts on its own service like its secret; another user token may not.
expect_eq "$(jsonstr "$(cat "$MNT/t/by-user/info")" 'j["creator"]')" \
	"user:$(printf '%s' "$USER1" | sha256sum | cut -c1-16)" "creator of t/by-user"
expect_eq "$(jsonstr "$(cat "$MNT/t/by-admin/info")" 'j["creator"]')" admin "creator of t/by-admin"
check user "$USER1" 200 GET /v1/t/by-user/data
check user "$USER1" 204 PUT /v1/t/by-user/data "${body[@]}" '{"greeting": "mine"}'
check user "$USER1" 201 POST /v1/t/by-user/actions/slow "${body[@]}" '{"secs": 30}'
id=$(jbody 'j["id"]')
check user "$USER1" 204 POST "/v1/t/by-user/tasks/$id/cancel"
check user "$USER1" 204 PUT /v1/t/by-user/ctl -d force
before=$(cat "$MNT/t/by-user/data")
check user2 "$USER2" 403 GET /v1/t/by-user/data
check user2 "$USER2" 403 PUT /v1/t/by-user/data "${body[@]}" '{"greeting": "theirs"}'
check user2 "$USER2" 403 POST /v1/t/by-user/actions/echo "${body[@]}" '{"n": 3}'
check user2 "$USER2" 403 PUT /v1/t/by-user/ctl -d force
check user2 "$USER2" 403 PUT /v1/t/by-user/upgrade -d latest
check user2 "$USER2" 403 DELETE /v1/t/by-user
expect_eq "$(cat "$MNT/t/by-user/data")" "$before" "t/by-user's data after another user's attempts"
! grep -qx echo "$MNT"/t/by-user/tasks/*/action || fail "another user's action was queued on t/by-user"
check user "$USER1" 204 DELETE /v1/t/by-user
[ ! -e "$MNT/t/by-user" ] || fail "the creator could not delete its service"
ok "the creator reads its data, acts, changes and deletes; another user token gets 403, nothing changes"

# A secret reaches nothing outside its service, whatever the path says.
check secret "$SA" 403 GET /v1/@robot/templates
check secret "$SA" 403 GET /v1/@robot/metrics
check secret "$SA" 400 GET /v1/t/a/../b/data
check secret "$SA" 400 GET /v1/t/a/%2e%2e/b/data
check secret "$SB" 403 GET /v1/t/a/state
check secret "$SB" 200 GET /v1/t/b/state
ok "a secret: @robot and other services are 403, traversal is 400"

# A secret never deletes, not even its own service; it dies with its service; the admin token
# and the other secrets survive a restart.
check secret "$SA" 403 DELETE /v1/t/a
[ -d "$MNT/t/a" ] || fail "a secret deleted its service"
check admin "$ADMIN" 204 DELETE /v1/t/a
check secret "$SA" 401 GET /v1/t/a/state
zr_stop
old=$ADMIN
zr_start_http --token-file "$TMP/tokens"
expect_eq "$ADMIN" "$old" "admin token after a restart"
check secret "$SB" 200 GET /v1/t/b/data
check admin "$ADMIN" 200 GET /v1/t/b/state
check user "$USER2" 200 GET /v1/t/b/state
[ "$(grep -c 'Created the HTTP admin token' "$TMP/robot.log")" = 1 ] || fail "the admin token was made twice"
ok "a secret may not delete; a deleted service's secret is 401; tokens and secrets survive a restart"
zr_stop

# A token file with a token too short: the robot refuses to start and does not echo it.
printf '%s\nshort-secret\n' "$USER1" >"$TMP/bad-tokens"
ZR_LOG=$TMP/bad.log zr_launch --mount "$MNT" --data "$DATA" --listen 127.0.0.1:0 --token-file "$TMP/bad-tokens"
zr_reap "$ZR_PID" 10 || fail "the robot with a bad token file kept running"
expect_eq "$ZR_STATUS" 1 "exit status with a bad token file"
expect_in "$(cat "$TMP/bad.log")" "bad-tokens:2" "the bad line is named"
grep -qF short-secret "$TMP/bad.log" && fail "the bad token is in the log"
ZR_LOG=$TMP/bad.log zr_launch --mount "$MNT" --data "$DATA" --listen 127.0.0.1:0 --token-file "$TMP/missing"
zr_reap "$ZR_PID" 10 || fail "the robot with a missing token file kept running"
expect_eq "$ZR_STATUS" 1 "exit status with a missing token file"
ok "a bad or missing token file stops the robot (status 1) without echoing tokens"

# ---- TLS ----
if ! command -v openssl >/dev/null 2>&1; then
	echo "SKIP: TLS part: openssl is missing"
	exit 0
fi
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/key.pem" -out "$TMP/cert.pem" -days 1 \
	-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 || fail "openssl failed"
zr_start_http --tls-cert "$TMP/cert.pem" --tls-key "$TMP/key.pem"
expect_match "$URL" '^https://127\.0\.0\.1:[0-9]+$' "https address"
expect_http 200 "$ADMIN" GET /v1/t/b/state --cacert "$TMP/cert.pem"
expect_http 401 - GET /v1/t/b/state --cacert "$TMP/cert.pem"
HS=$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "http://${URL#https://}/v1/" 2>/dev/null) || true
[ "$HS" != 200 ] || fail "plain HTTP answered on the TLS port"
curl -sS -m 10 -o /dev/null "$URL/v1/" 2>/dev/null && fail "an unknown certificate was accepted"
expect_http 200 "$ADMIN" GET /v1/t/b/state --cacert "$TMP/cert.pem"
zr_stop
ZR_LOG=$TMP/bad.log zr_launch --mount "$MNT" --data "$DATA" --listen 127.0.0.1:0 --tls-cert "$TMP/cert.pem"
zr_reap "$ZR_PID" 10 || fail "the robot with a certificate and no key kept running"
expect_eq "$ZR_STATUS" 1 "exit status with --tls-cert alone"
ZR_LOG=$TMP/bad.log zr_launch --mount "$MNT" --data "$DATA" --listen 127.0.0.1:0 --tls-cert "$TMP/key.pem" --tls-key "$TMP/cert.pem"
zr_reap "$ZR_PID" 10 || fail "the robot with swapped TLS files kept running"
expect_eq "$ZR_STATUS" 1 "exit status with swapped TLS files"
ok "TLS: https with --tls-cert/--tls-key; plain HTTP refused there; bad TLS options exit 1"
