#!/usr/bin/env bash
# certsync's C WinRM transport (providers/transport/winrm.c, wsman.c,
# winrm_scripts.c) against the WS-Management test server (tests/winrm/) on
# 127.0.0.1 over HTTPS, driven through tests/tools/winrm_client: the whole
# WinRS sequence with the script and its input framed on stdin, stdin data
# byte-exact (binary, 1 MiB), large stdout, stderr CLIXML turned into text,
# exit codes, a slow command needing several Receives (w:TimedOut), basic
# and NTLM, a wrong password, a certificate for another name; then the file
# operations (read, atomic write, stat, remove) on the model's C: drive.
. "$(dirname "$0")/lib.sh"

root=${CERTSYNC_SOURCE_ROOT:-$_lib_root}
C=${WINRM_CLIENT:-$(dirname "$CERTSYNC")/tests/winrm_client}
PY=/usr/bin/python3
[[ -x $C ]] || { echo "Bail out! no $C (build first)"; exit 1; }
[[ -x $PY ]] || { echo "1..0 # SKIP $PY missing"; exit 0; }
cd "$TEST_TMP" || exit 1

# --- a CA, the server's certificate (127.0.0.1, localhost), one for another name
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj '/CN=certsync test CA' \
	-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign >/dev/null 2>&1
issue() { # NAME SUBJECT SAN
	openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "$2" >/dev/null 2>&1
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$3" >"$1.ext"
	openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 2 \
		-extfile "$1.ext" >/dev/null 2>&1
}
issue srv /CN=localhost 'DNS:localhost,IP:127.0.0.1'
issue other /CN=elsewhere.example 'DNS:elsewhere.example'

# start NAME CERT KEY: a server on a free port sharing one host model;
# sets port_NAME.  Stopped at exit by the cleanup registry.
mkdir -p fs/C/Windows/Temp fs/C/certsync
start() {
	local p pid
	p=$(free_port)
	"$PY" "$root/tests/winrm/server.py" --https-port "$p" --cert "$2" --key "$3" \
		--user 'CORP\svc-certsync:S3cret!' --user 'vagrant:vagrant' \
		--state state.json --fs-root fs --ready-file "ready-$1.json" --log "server-$1.log" \
		>"server-$1.out" 2>&1 &
	pid=$!
	cleanup_add "kill $pid"
	if ! wait_port "$p" 15; then
		echo "Bail out! server $1 did not start: $(cat "server-$1.out")"
		exit 1
	fi
	printf -v "port_$1" %s "$p"
	printf -v "pid_$1" %s "$pid"
}
start main srv.crt srv.key
start other other.crt other.key

export CS_PW='S3cret!'
export CS_BAD='Wr0ng-Passw0rd'
W=("$C" --address 127.0.0.1 --port "$port_main" --ca-bundle ca.crt --user 'CORP\svc-certsync'
	--password-env CS_PW --timeout 30)

# runps NAME SCRIPT [INPUT_FILE]: run SCRIPT (text); stdout in out.NAME,
# stderr in err.NAME, exit status in $RC.
runps() {
	printf '%s' "$2" >"script.$1.ps1"
	"${W[@]}" run "script.$1.ps1" ${3:+"$3"} >"out.$1" 2>"err.$1"
	RC=$?
}

# check NAME CONDITION DETAIL...: ok when CONDITION (a shell test) holds.
check() {
	local name=$1 cond=$2
	shift 2
	if eval "$cond"; then ok "$name"; else not_ok "$name" "$@"; fi
}

# --- stdin: the input arrives byte-exact -------------------------------------------
echo_input='[Convert]::ToBase64String($CertsyncInput)'
printf 'hello, windows\n' >in.text
head -c 4096 /dev/urandom >in.bin
"$PY" -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 4)' >>in.bin
head -c 1048576 /dev/urandom >in.1m
: >in.empty
for f in in.text in.bin in.1m in.empty; do
	runps "stdin-$f" "$echo_input" "$f"
	want=$(base64 -w0 <"$f")
	got=$(tr -d '\r\n' <"out.stdin-$f")
	check "stdin $f ($(stat -c %s "$f") bytes) arrives byte-exact as \$CertsyncInput" \
		'[[ $RC == 0 && $got == "$want" ]]' "exit $RC" "$(head -c 300 "err.stdin-$f")" \
		"got ${#got} base64 chars, want ${#want}"
done
runps length '"$($CertsyncInput -is [byte[]]) $($CertsyncInput.Length)"' in.1m
check "the script sees \$CertsyncInput as byte[] of 1048576" \
	'[[ $RC == 0 && $(tr -d "\r" <out.length) == "True 1048576" ]]' "$(cat out.length err.length)"

# --- large stdout, many lines (a for loop), output before exit --------------------------
runps big '"x" * 3000000'
check "3 MB of stdout arrives whole" '[[ $RC == 0 && $(stat -c %s out.big) == 3000002 ]]' \
	"exit $RC size $(stat -c %s out.big)" "$(head -c 300 err.big)"
runps lines 'for ($i = 0; $i -lt 20000; $i++) { "line $i" }'
check "20000 lines from a for loop, in order" \
	'[[ $RC == 0 && $(wc -l <out.lines) == 20000 && $(tail -1 out.lines | tr -d "\r") == "line 19999" ]]' \
	"exit $RC, $(wc -l <out.lines) lines" "$(head -c 300 err.lines)"
runps before-exit $'"before exit"\nexit 5'
check "output written before exit 5 is kept, exit status 5" \
	'[[ $RC == 5 && $(tr -d "\r" <out.before-exit) == "before exit" ]]' "exit $RC" "$(cat out.before-exit)"

# --- exit codes -------------------------------------------------------------------------
for code in 0 1 3 44 255; do
	runps "exit$code" "exit $code"
	check "exit $code is the exit status" '[[ $RC == "$code" ]]' "exit $RC" "$(cat "err.exit$code")"
done
runps lastfails $'$ErrorActionPreference = "Continue"\nGet-Item -LiteralPath "C:\\nope"'
check "a script whose last statement fails exits 1" '[[ $RC == 1 ]]' "exit $RC"

# --- stderr: CLIXML decoded, the script's own line quoted, no input shown --------------
printf 'TOP-SECRET-INPUT' >in.secret
runps err $'$ErrorActionPreference = "Stop"\n"partial output"\nWrite-Error \'boom <&> _x0041_ "q"\'' in.secret
check "Write-Error under Stop: exit 1, output before it kept" \
	'[[ $RC == 1 && $(tr -d "\r" <out.err) == "partial output" ]]' "exit $RC" "$(cat out.err)"
expect_contains err.err ': boom <&> _x0041_ "q"$'
expect_contains err.err '^At line:3 char:1$'
expect_contains err.err "^\\+ Write-Error 'boom"
check "stderr is text, not CLIXML" '! grep -q -e "CLIXML" -e "_x000D_" -e "<Objs" err.err' "$(cat err.err)"
check "the error quotes the script's line, not the bootstrap with the input" \
	'! grep -q -e CertsyncInput -e "$(base64 -w0 <in.secret)" -e TOP-SECRET err.err' "$(cat err.err)"
runps unknown $'$ErrorActionPreference = "Stop"\n\n  Get-Nothing -Force'
expect_contains err.unknown "^Get-Nothing : The term 'Get-Nothing' is not recognized"
expect_contains err.unknown '^At line:3 char:3$'
runps console '[Console]::Error.WriteLine("plain stderr line"); exit 2'
check "[Console]::Error writes plain text to stderr" \
	'[[ $RC == 2 && $(tr -d "\r" <err.console) == "plain stderr line" ]]' "exit $RC" "$(cat err.console)"

# --- a slow command: several Receives answered w:TimedOut, then the output ----------------
before=$(grep -c 'fault .*TimedOut' server-main.log)
printf '"start"\nStart-Sleep -Seconds 5\n"end"\n' >script.slow.ps1
# --timeout 4: OperationTimeout 2 s, so 5 s of sleep take several Receives.
"$C" --address 127.0.0.1 --port "$port_main" --ca-bundle ca.crt --user 'CORP\svc-certsync' \
	--password-env CS_PW --timeout 4 run script.slow.ps1 >out.slow 2>err.slow
RC=$?
after=$(grep -c 'fault .*TimedOut' server-main.log)
check "slow command: exit 0 and both outputs after $((after - before)) TimedOut Receives" \
	'[[ $RC == 0 && $(tr -d "\r" <out.slow | paste -sd,) == "start,end" && $((after - before)) -ge 2 ]]' \
	"exit $RC" "$(cat out.slow err.slow)" "TimedOut faults: $((after - before))"

# --- a command that does not finish: given up after 10 x the host's timeout --------------
printf 'Start-Sleep -Seconds 30\n"never"\n' >script.hang.ps1
hang_start=$SECONDS
"$C" --address 127.0.0.1 --port "$port_main" --ca-bundle ca.crt --user 'CORP\svc-certsync' \
	--password-env CS_PW --timeout 1 run script.hang.ps1 >out.hang 2>err.hang
RC=$?
check "endless command: given up with a clear error after about 10 s" \
	'[[ $RC != 0 && $((SECONDS - hang_start)) -le 20 ]] && grep -q "did not finish within 10 s" err.hang' \
	"exit $RC after $((SECONDS - hang_start)) s" "$(cat out.hang err.hang)"

# --- authentication ---------------------------------------------------------------------
printf '$env:USERNAME + "@" + (hostname)' >script.who.ps1
for auth in basic ntlm; do
	out=$("${W[@]}" --auth "$auth" run script.who.ps1 2>&1)
	rc=$?
	check "auth $auth: runs" '[[ $rc == 0 ]]' "exit $rc" "$out"
	expect_exit 100 "$C" --address 127.0.0.1 --port "$port_main" --ca-bundle ca.crt --auth "$auth" \
		--user 'CORP\svc-certsync' --password-env CS_BAD --timeout 10 run script.who.ps1
	check "auth $auth, wrong password: the exact 401 message" \
		'[[ $OUT == "error: host sapphire: WinRM at https://127.0.0.1:$port_main/wsman refused the credentials of CORP\\svc-certsync (HTTP 401)" ]]' \
		"$OUT"
	check "auth $auth, wrong password: the password is not shown" '! grep -qF -- "$CS_BAD" <<<"$OUT"' "$OUT"
done
out=$(V=vagrant "$C" --address localhost --port "$port_main" --ca-bundle ca.crt --user vagrant \
	--password-env V --auth ntlm run script.who.ps1 2>&1)
rc=$?
check "a local account over NTLM, the server reached as localhost" '[[ $rc == 0 ]]' "exit $rc" "$out"

# --- TLS: a certificate for another name is refused ----------------------------------------
expect_exit 100 "$C" --address 127.0.0.1 --port "$port_other" --ca-bundle ca.crt --user 'CORP\svc-certsync' \
	--password-env CS_PW --timeout 10 run script.who.ps1
expect_contains "$OUT" "^error: host sapphire: WinRM at https://127\.0\.0\.1:$port_other/wsman: TLS verification failed: "
check "nothing was sent to the mismatched server" '! grep -q "action" server-other.log' "$(cat server-other.log)"
expect_exit 100 "$C" --address 127.0.0.1 --port "$port_main" --user 'CORP\svc-certsync' \
	--password-env CS_PW --timeout 10 run script.who.ps1
expect_contains "$OUT" "TLS verification failed"

# --- files on the model's C: drive -------------------------------------------------------------
F=("${W[@]}")
dir='C:\certsync'
real=fs/C/certsync
expect_exit 0 "${F[@]}" stat "$dir"
expect_contains "$OUT" '^exists=1 size=0$'
expect_exit 0 "${F[@]}" stat "$dir\\new.bin"
expect_contains "$OUT" '^exists=0 size=0$'
# A new file (the Move path), 1 MiB of binary.
expect_exit 0 "${F[@]}" write "$dir\\new.bin" in.1m
check "write: the new file's content is exact" 'cmp -s in.1m "$real/new.bin"' "$(ls -la "$real")"
check "write: no temporary file left" '[[ $(ls -A "$real") == new.bin ]]' "$(ls -A "$real")"
expect_exit 0 "${F[@]}" stat "$dir\\new.bin"
expect_contains "$OUT" '^exists=1 size=1048576$'
"${F[@]}" read "$dir\\new.bin" >read.1m 2>read.err
check "read: 1 MiB comes back byte-exact" 'cmp -s in.1m read.1m' "$(cat read.err)"
# Replacing an existing file (the File.Replace path), with content of another size.
expect_exit 0 "${F[@]}" write "$dir\\new.bin" in.bin
check "write over an existing file: content exact" 'cmp -s in.bin "$real/new.bin"'
check "write over an existing file: no temporary or backup file left" '[[ $(ls -A "$real") == new.bin ]]' \
	"$(ls -A "$real")"
"${F[@]}" read "$dir\\new.bin" >read.bin 2>read.err
check "read after replace: exact" 'cmp -s in.bin read.bin' "$(cat read.err)"
# The caller's size cap: a file one byte larger is refused by name, not cut.
for cap in 5119 4000 1000; do
	expect_exit 100 "${F[@]}" --cap "$cap" read "$dir\\new.bin"
	expect_contains "$OUT" "^error: host sapphire: read C:\\\\certsync\\\\new\\.bin: larger than $cap bytes\$"
done
"${F[@]}" --cap 5120 read "$dir\\new.bin" >read.cap 2>read.err
check "read: a file of exactly the cap is read whole" 'cmp -s in.bin read.cap' "$(cat read.err)"
# Empty content, and a name with spaces and quotes.
expect_exit 0 "${F[@]}" write "$dir\\it's \$a \`b.txt" in.empty
check "write: an empty file under a name with quotes, \$ and a backtick" \
	'[[ -f "$real/it'"'"'s \$a \`b.txt" && ! -s "$real/it'"'"'s \$a \`b.txt" ]]' "$(ls -A "$real")"
expect_exit 0 "${F[@]}" stat "$dir\\it's \$a \`b.txt"
expect_contains "$OUT" '^exists=1 size=0$'
expect_exit 0 "${F[@]}" remove "$dir\\it's \$a \`b.txt"
check "remove: gone" '[[ $(ls -A "$real") == new.bin ]]' "$(ls -A "$real")"
expect_exit 0 "${F[@]}" remove "$dir\\never-there.txt"
# Errors: missing file, missing folder.
expect_exit 100 "${F[@]}" read "$dir\\nope.txt"
expect_contains "$OUT" '^error: host sapphire: read C:\\certsync\\nope\.txt: no such file$'
expect_exit 100 "${F[@]}" write 'C:\no\such\folder\x.txt' in.text
expect_contains "$OUT" '^error: host sapphire: write C:\\no\\such\\folder\\x\.txt: folder does not exist$'
check "a failed write leaves nothing behind" '[[ ! -e fs/C/no ]]'
expect_exit 100 "${F[@]}" write "$dir" in.text
expect_contains "$OUT" "^error: host sapphire: write C:\\\\certsync: exit 1: "
# Every shell the transport created was deleted again.
creates=$(grep -c 'action Create' server-main.log)
deletes=$(grep -c 'action Delete' server-main.log)
check "every shell created was deleted ($creates)" '[[ $creates == "$deletes" && $creates -gt 0 ]]' \
	"Create $creates, Delete $deletes"

# --- stop the servers -------------------------------------------------------------------------------
kill "$pid_main" "$pid_other"
for _ in $(seq 50); do kill -0 "$pid_main" 2>/dev/null || break; sleep 0.1; done
check "server stopped" '! kill -0 "$pid_main" 2>/dev/null'

done_testing
