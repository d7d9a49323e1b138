# Helpers for the HTTP API tests; source after lib.sh. Every robot listens on 127.0.0.1:0 (a
# free port the kernel picks) and the test reads the address from the robot's log.

command -v curl >/dev/null 2>&1 || skip "curl is missing"
HTTPTOOL="$ZR_SRC/tests/integration/httptool.py"

URL=        # http://127.0.0.1:PORT of the robot started last by zr_start_http
ADMIN=      # its admin token
HS=         # status of the last request made with http
HB=         # its body

httptool() {
	timeout -k 2 "${HTTPTOOL_TIMEOUT:-60}" "$ZR_PY" "$HTTPTOOL" "$@"
}

# zr_start_http [ARGS...]: zr_start listening on a free port; sets URL and ADMIN.
zr_start_http() {
	local before i
	before=$(grep -c 'HTTP API listening on' "$TMP/robot.log" 2>/dev/null)
	zr_start --listen 127.0.0.1:0 "$@"
	URL=
	for i in $(seq 50); do
		if [ "$(grep -c 'HTTP API listening on' "$TMP/robot.log")" -gt "${before:-0}" ]; then
			URL=$(grep -o 'HTTP API listening on [^ ]*' "$TMP/robot.log" | tail -n 1 | awk '{print $NF}')
			break
		fi
		sleep 0.1
	done
	[ -n "$URL" ] || fail "the robot logged no HTTP address"
	ADMIN=$(cat "$DATA/admin.token") || fail "no $DATA/admin.token"
}

# http TOKEN METHOD PATH [CURL-ARGS...]: one request, bounded to 30 s; TOKEN "-" sends no
# Authorization. Sets HS (status) and HB (body); headers are in $TMP/http.headers.
http() {
	local tok=$1 m=$2 p=$3 auth=() how=()
	shift 3
	how=(-X "$m")
	[ "$tok" = - ] || auth=(-H "Authorization: Bearer $tok")
	[ "$m" != HEAD ] || how=(-I)
	HS=$(curl -sS --path-as-is -m 30 -o "$TMP/http.body" -D "$TMP/http.headers" -w '%{http_code}' \
		"${how[@]}" "${auth[@]}" "$@" "$URL$p" 2>"$TMP/http.err") ||
		fail "curl $m $p failed: $(cat "$TMP/http.err")"
	HB=$(cat "$TMP/http.body")
}

# expect_http WANT-STATUS TOKEN METHOD PATH [CURL-ARGS...]: http, then the status must be WANT.
expect_http() {
	local want=$1
	shift
	http "$@"
	[ "$HS" = "$want" ] || fail "$2 $3: status $HS, want $want; body: $HB"
}

# hdr NAME: the value of header NAME in the last answer (empty when absent).
hdr() {
	grep -i "^$1:" "$TMP/http.headers" | head -n 1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'
}

# jbody EXPR: a python expression over the last JSON body (bound to j).
jbody() {
	jsonstr "$HB" "$1"
}

# json_post TOKEN PATH JSON: POST JSON with its content type.
json_post() {
	http "$1" POST "$2" -H 'Content-Type: application/json' --data-binary "$3"
}

# metric NAME-WITH-LABELS: its value in GET /metrics (admin).
metric() {
	curl -sS -m 10 -H "Authorization: Bearer $ADMIN" "$URL/metrics" | grep -v "^#" | grep -F "$1 " | head -n 1 | awk '{print $NF}'
}
