#!/usr/bin/env bash
# status --format html -o FILE: after a local-CA apply, one self-contained
# page (no script, nothing loaded from elsewhere) that a real headless
# Chromium renders with one validity bar per issued certificate, labelled
# with its name, the today mark, renew and remind marks, the bindings'
# states (in sync, drifted, missing, error), the failing host and the owed
# reboot; strings from the config and the state folder with <script> in
# them come out as text.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

d=$TEST_TMP/site
make_ca "$d" ca
mkdir -p "$d/out"
port=$(free_port)

# A Windows host (the WS-Management test server) to owe a reboot.
PY=/usr/bin/python3
root=${CERTSYNC_SOURCE_ROOT:-$_lib_root}
(cd "$d" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout pki/srv.key \
	-out pki/srv.crt -days 2 -subj /CN=localhost -addext "subjectAltName=IP:127.0.0.1" >/dev/null 2>&1)
mkdir -p "$d/fw.fs/C/Users/certsync/AppData/Local/Temp"
echo '{ "hostname": "FW" }' >"$d/fw.json"
wport=$(free_port)
"$PY" "$root/tests/winrm/server.py" --https-port "$wport" --cert "$d/pki/srv.crt" --key "$d/pki/srv.key" \
	--user 'certsync:Pa55-w0rd' --auth basic --state "$d/fw.json" --fs-root "$d/fw.fs" --hostname FW \
	--log "$d/winrm.log" >"$d/server.out" 2>&1 &
cleanup_add "kill $!"
wait_port "$wport" 15 || { echo "Bail out! winrm server: $(cat "$d/server.out")"; exit 1; }
export FW_PASSWORD='Pa55-w0rd'
cat >"$d/certsync.yaml" <<YAML
version: 1
issuers:
  lab: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 90 } }
  short: { ca: { cert: pki/ca.crt, key: { file: pki/ca.key }, days: 20 } }
hosts:
  here: { platform: linux, local: {} }
  down: { platform: linux, ssh: { address: 127.0.0.1, port: $port, user: svc } }
  fw:
    platform: windows
    winrm: { address: 127.0.0.1, port: $wport, auth: basic, user: certsync,
             password: { env: FW_PASSWORD }, ca_bundle: pki/srv.crt }
    reboot: after-change
certificates:
  web:
    common_name: web.test
    issuer: lab
    renew_before: 30d
    remind_before: 7d
    bindings:
      - { host: here, files: { cert: out/web.crt } }
      - { host: down, files: { cert: /etc/certsync-test/web.crt } }
  mail:
    common_name: mail.test
    issuer: short
    renew_before: 19d
    remind_before: 5d
    bindings:
      - { host: here, files: { cert: out/mail.crt } }
  drift:
    common_name: drift.test
    issuer: lab
    bindings:
      - { host: here, files: { cert: out/drift.crt } }
  inject:
    common_name: inject.test
    issuer: lab
    bindings:
      - { host: here, files: { cert: "out/<script>alert(1)<!--.crt" } }
      - { host: here, files: { cert: "out/<img src=x onerror=alert(2)>.crt" } }
  later:
    common_name: later.test
    issuer: lab
    bindings:
      - { host: here, files: { cert: out/later.crt } }
      - { host: fw, store: {} }
YAML
cd "$d" || exit 1
expect_exit 0 "$CERTSYNC" apply --yes --target host=here --target cert=web --target cert=mail \
	--target cert=drift --target cert=inject
# drift: another certificate in its file; inject: one of its files gone.
cp out/web.crt out/drift.crt
rm "out/<img src=x onerror=alert(2)>.crt"
# fw owes a reboot (as after a reboot that apply skipped); its reason comes
# from the state folder, <script> and all.
mkdir -p .certsync/hosts/fw
(umask 077 && printf '{"boot": "", "since": "2026-01-02T03:04:05Z", "why": "bind <script>alert(3)</script> waits"}\n' \
	>.certsync/hosts/fw/reboot-owed.json)

# Two days on: mail (20 days, renew_before 19d) is due for renewal.
export CERTSYNC_NOW=$(($(date +%s) + 2 * 86400))
expect_exit 1 "$CERTSYNC" status --format html -o page.html
[[ -z $OUT ]] && ok "-o: nothing on stdout or stderr" || not_ok "-o: nothing on stdout or stderr" "$OUT"
[[ -s page.html ]] && ok "page written" || not_ok "page written"
[[ $(stat -c %a page.html) == 644 ]] && ok "page is 0644" || not_ok "page is 0644" "$(stat -c %a page.html)"

# --- self-contained, escaped -------------------------------------------------------------
if grep -qiE '(src|href)[[:space:]]*=[[:space:]]*["'\'']?[[:space:]]*(https?:)?//' page.html ||
	grep -qiE 'https?://|url\(|@import|<link|<script|<iframe|<object|<embed|<img' page.html; then
	not_ok "no external reference, no script, no image element" \
		"$(grep -noiE '(src|href)=[^ >]*|https?://[^ "]*|url\([^)]*\)|@import|<link|<script|<img' page.html)"
else
	ok "no external reference, no script, no image element"
fi
expect_contains page.html '&lt;script&gt;alert\(1\)&lt;!--\.crt'
expect_contains page.html '&lt;img src=x onerror=alert\(2\)&gt;\.crt'
expect_contains page.html 'bind &lt;script&gt;alert\(3\)&lt;/script&gt; waits'
expect_contains page.html 'data-cert="inject"'

# --- rendered by Chromium -------------------------------------------------------------------
if ! command -v chromium >/dev/null 2>&1; then
	not_ok "chromium is installed (scripts/install-deps.sh)"
	done_testing
fi
chrome=(chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-dev-shm-usage
	--disable-extensions --disable-background-networking --user-data-dir="$TEST_TMP/chromium")
# One run (Chromium starts slowly): the DOM on stdout, and a screenshot of
# the top of the page, where the timeline is.
timeout 60 "${chrome[@]}" --hide-scrollbars --window-size=1000,400 --screenshot="$d/shot.png" \
	--dump-dom "file://$d/page.html" >dom.html 2>chromium.log
rc=$?
((rc == 0)) && [[ -s dom.html ]] && ok "chromium --dump-dom" || not_ok "chromium --dump-dom" "exit $rc" "$(tail -5 chromium.log)"
now=$(python3 -c 'import json,subprocess,sys; print(json.load(open(sys.argv[1]))["now"][:10])' <(
	"$CERTSYNC" status --json 2>/dev/null))
python3 - dom.html "$now" <<'PY' >dom.tap
import sys
from html.parser import HTMLParser

class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.els, self.stack = [], []
    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "attrs": dict(attrs), "text": ""}
        self.els.append(el)
        if tag not in ("meta", "br", "img", "link", "input"):
            self.stack.append(el)
    def handle_startendtag(self, tag, attrs):
        self.els.append({"tag": tag, "attrs": dict(attrs), "text": ""})
    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break
    def handle_data(self, data):
        for el in self.stack:
            el["text"] += data

dom = Dom()
dom.feed(open(sys.argv[1], encoding="utf-8").read())
now = sys.argv[2]
def classes(el):
    return el["attrs"].get("class", "").split()
def find(tag, cls=None):
    return [e for e in dom.els if e["tag"] == tag and (cls is None or cls in classes(e))]
n = 0
def check(cond, what, detail=""):
    global n
    n += 1
    print(("ok" if cond else "not ok") + f" {n} - {what}")
    if not cond and detail:
        print("# " + str(detail).replace("\n", "\n# "))

bars = find("rect", "bar")
check(sorted(b["attrs"].get("data-cert") for b in bars) == ["drift", "inject", "mail", "web"],
      "one bar per issued certificate", [b["attrs"] for b in bars])
labels = [e["text"] for e in find("text", "label")]
check(labels == ["web", "mail", "drift", "inject", "later"], "a label per certificate, in config order", labels)
titles = {b["attrs"]["data-cert"]: b["text"] for b in bars}
check(all(t.startswith(name + ": ") and " → " in t for name, t in titles.items()), "each bar says its validity", titles)
states = {b["attrs"]["data-cert"]: [c for c in classes(b) if c.startswith("state-")] for b in bars}
check(states["web"] == ["state-valid"] and states["mail"] == ["state-renewal-due"], "bar colours by state", states)
nobar = [e["text"] for e in find("text", "nobar")]
check(nobar == ["no certificate yet"], "later: no certificate yet, no bar", nobar)
today = find("line", "today")
check(len(today) == 1, "one today mark", today)
tl = [e["text"] for e in find("text", "today-label")]
check(tl == ["today " + now], "today mark labelled with the report's date", tl)
check(len(find("line", "renew")) == 4 and len(find("line", "remind")) == 4, "renew and remind marks per issued certificate")
renew_titles = sorted(e["text"] for e in find("line", "renew"))
check(all(t.startswith("renew from 20") for t in renew_titles), "renew marks say when", renew_titles)
# renew mark of web lies left of its bar's end, remind mark between it and the end
web_bar = [b for b in bars if b["attrs"]["data-cert"] == "web"][0]
x, w = float(web_bar["attrs"]["x"]), float(web_bar["attrs"]["width"])
idx = dom.els.index(web_bar)
renew = [e for e in dom.els[idx:idx + 6] if e["tag"] == "line" and "renew" in classes(e)][0]
remind = [e for e in dom.els[idx:idx + 6] if e["tag"] == "line" and "remind" in classes(e)][0]
rx, mx = float(renew["attrs"]["x1"]), float(remind["attrs"]["x1"])
check(x < rx < mx < x + w, "web: renew mark before remind mark, both inside the bar", (x, rx, mx, x + w))
tx = float(today[0]["attrs"]["x1"])
check(x - 2 <= tx < rx, "web: today at its start (just issued), before the renew mark", (x, tx, rx))
rows = [(e["attrs"].get("class", ""), e["text"]) for e in find("tr", "binding")]
got = {c.split()[1] for c, _ in rows}
check(got == {"state-in-sync", "state-drifted", "state-missing", "state-error"},
      "binding states: in sync, drifted, missing, error", rows)
check(any("state-drifted" in c and "drift.crt" in t for c, t in rows), "the drifted binding is marked", rows)
err_rows = [t for c, t in rows if "state-error" in c]
check(any("down" in t for t in err_rows), "the binding on the failing host is in error", err_rows)
failing = [e for e in find("li", "failing")]
check([e["attrs"].get("data-host") for e in failing] == ["down"] and "unreachable" in failing[0]["text"],
      "the failing host, unreachable", [e["text"] for e in failing])
owed = find("li", "reboot-owed")
check(len(owed) == 1 and owed[0]["attrs"].get("data-host") == "fw" and
      "bind <script>alert(3)</script> waits" in owed[0]["text"], "the owed reboot, its reason as text",
      [e["text"] for e in owed])
check(not find("script") and not find("img") and not find("iframe"), "no script or img element in the rendered DOM")
text = " ".join(e["text"] for e in find("body"))
check("<script>alert(1)<!--.crt" in text and "<img src=x onerror=alert(2)>.crt" in text,
      "hostile paths rendered as text")
print(f"1..{n}")
PY
while IFS= read -r line; do
	case $line in
	ok\ *) ok "dom: ${line#ok * - }" ;;
	not\ ok\ *) not_ok "dom: ${line#not ok * - }" ;;
	\#*) echo "$line" ;;
	esac
done <dom.tap
grep -q '^1\.\.' dom.tap && ok "dom checks ran to the end" || not_ok "dom checks ran to the end" "$(cat dom.tap)"

# The screenshot is not blank: the bars' green is on it.
python3 - shot.png <<'PY' && ok "screenshot shows the timeline" || not_ok "screenshot shows the timeline"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, ihdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR":
        ihdr = struct.unpack(">IIBBBBB", body)
    elif kind == b"IDAT":
        idat += body
    pos += 12 + n
w, h, depth, ctype = ihdr[:4]
assert depth == 8 and ctype in (2, 6), ihdr
bpp = 3 if ctype == 2 else 4
raw, stride = zlib.decompress(idat), w * bpp
prev, rows, i = bytearray(stride), [], 0
for _ in range(h):
    f, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
    i += 1 + stride
    for x in range(stride):
        a = line[x - bpp] if x >= bpp else 0
        b, c = prev[x], prev[x - bpp] if x >= bpp else 0
        if f == 1: line[x] = (line[x] + a) & 255
        elif f == 2: line[x] = (line[x] + b) & 255
        elif f == 3: line[x] = (line[x] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    rows.append(bytes(line))
    prev = line
green = sum(1 for r in rows for x in range(0, stride, bpp) if abs(r[x] - 0x43) < 12 and abs(r[x + 1] - 0xa0) < 12 and abs(r[x + 2] - 0x47) < 12)
assert green > 500, green
PY

# --- the other formats, and bad input ---------------------------------------------------------
expect_exit 1 "$CERTSYNC" status --format json -o report.json
python3 -c 'import json,sys; c = json.load(open("report.json"))["certificates"][0]; assert c["not_before"] and c["renew_at"] < c["remind_at"] < c["not_after"], c' &&
	ok "status --json: not_before, renew_at, remind_at" || not_ok "status --json: not_before, renew_at, remind_at" "$(head -c 600 report.json)"
expect_exit 1 "$CERTSYNC" status --format pdf
expect_contains "$OUT" '^certsync: status --format pdf: expected text, json or html$'
expect_exit 1 "$CERTSYNC" status --format html -o "$d/no/such/folder/page.html"
expect_contains "$OUT" "^certsync: status -o $d/no/such/folder/page.html: .*"

done_testing
