#!/usr/bin/env bash
# examples/gitops: the pre-commit hook refuses a config that does not
# validate and lets a good one through; certsync-ci.sh plan saves the plan
# and posts it as Markdown to a stand-in for the GitHub and GitLab APIs on
# loopback (comment_receiver.py), which records what it got: the path, the
# token header, and a JSON body that is the plan as `plan --format
# markdown` prints it; a failing API fails the job; certsync-ci.sh apply
# carries out the saved plan.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"
src=${CERTSYNC_SOURCE_ROOT:-$_lib_root}
gitops=$src/examples/gitops
PY=/usr/bin/python3
unset CERTSYNC_CONFIG GITHUB_REPOSITORY GITHUB_TOKEN GITHUB_REF GITHUB_API_URL PR_NUMBER CI_MERGE_REQUEST_IID
export NO_COLOR=1 CERTSYNC=$CERTSYNC

# --- a repository with a config ----------------------------------------------
repo=$TEST_TMP/repo
make_ca "$repo" lab
local_config "$repo" '{ ca: { cert: pki/lab.crt, key: { file: pki/lab.key }, days: 90 } }' 'echo reloaded >> out/reload.log'
cd "$repo" || exit 1
git init -q . && git config user.email t@example.test && git config user.name test
cp "$gitops/pre-commit" .git/hooks/pre-commit

# --- pre-commit ------------------------------------------------------------------
sed 's/curve: p256/curve: p521/' certsync.yaml >broken.yaml && cp certsync.yaml good.yaml && cp broken.yaml certsync.yaml
git add certsync.yaml pki/lab.crt
expect_exit 1 git commit -q -m broken
expect_contains "$OUT" 'certsync.yaml:[0-9]*:[0-9]*: invalid value "p521" for "curve"'
expect_contains "$OUT" 'pre-commit: certsync.yaml does not validate'
[[ -z $(git rev-parse -q --verify HEAD) ]] && ok "the broken config was not committed" ||
	not_ok "the broken config was not committed"
cp good.yaml certsync.yaml && git add certsync.yaml
expect_exit 0 git commit -q -m good
[[ $(git log --format=%s) == good ]] && ok "the good config was committed" || not_ok "the good config was committed"
# A commit that does not touch a config validates ./certsync.yaml all the same.
cp broken.yaml certsync.yaml && echo notes >notes.txt && git add notes.txt
expect_exit 1 git commit -q -m notes
cp good.yaml certsync.yaml
rm -f broken.yaml good.yaml

# --- the stand-in API ----------------------------------------------------------------
log=$TEST_TMP/requests.jsonl
"$PY" "$src/tests/integration/comment_receiver.py" "$log" "$TEST_TMP/port" &
cleanup_add "kill $!"
for _ in $(seq 100); do [[ -s $TEST_TMP/port ]] && break; sleep 0.1; done
port=$(cat "$TEST_TMP/port" 2>/dev/null)
[[ -n $port ]] && ok "the stand-in API listens" || { not_ok "the stand-in API listens"; done_testing; }

# last_request FIELD: a field of the last recorded request ("body" gives the
# comment's text, decoded from the JSON body).
last_request() {
	"$PY" -c '
import json, sys
r = json.loads(open(sys.argv[1]).read().splitlines()[-1])
if sys.argv[2] == "comment":
    print(json.loads(r["body"])["body"], end="")
elif sys.argv[2].startswith("header:"):
    print({k.lower(): v for k, v in r["headers"].items()}.get(sys.argv[2][7:].lower(), ""), end="")
else:
    print(r[sys.argv[2]], end="")' "$log" "$1"
}

# --- plan on a GitHub pull request ------------------------------------------------------
"$CERTSYNC" plan --format markdown >"$TEST_TMP/want.md" 2>&1
expect_contains "$(cat "$TEST_TMP/want.md")" '^<!-- certsync plan -->'
GITHUB_API_URL=http://127.0.0.1:$port GITHUB_REPOSITORY=example/infra GITHUB_TOKEN=ghs-t0ken-value \
	GITHUB_REF=refs/pull/7/merge expect_exit 0 sh "$gitops/certsync-ci.sh" plan
expect_contains "$OUT" 'posted the plan to http://127.0.0.1:[0-9]*/repos/example/infra/issues/7/comments'
expect_contains "$OUT" '#### \\#1 renew'
[[ $OUT != *ghs-t0ken-value* ]] && ok "the token is not in the job's output" || not_ok "the token is not in the job's output"
[[ -s plan.bin ]] && ok "plan.bin saved" || not_ok "plan.bin saved"
[[ $(last_request path) == /repos/example/infra/issues/7/comments ]] && ok "GitHub: POST to the pull request's comments" ||
	not_ok "GitHub: POST to the pull request's comments" "$(last_request path)"
[[ $(last_request header:Authorization) == "Bearer ghs-t0ken-value" ]] && ok "GitHub: the token as a Bearer header" ||
	not_ok "GitHub: the token as a Bearer header" "$(last_request header:Authorization)"
[[ $(last_request header:Content-Type) == application/json ]] && ok "GitHub: a JSON body" || not_ok "GitHub: a JSON body"
if [[ $(last_request comment) == "$(cat "$TEST_TMP/want.md")" ]]; then
	ok "GitHub: the comment is the Markdown plan, byte for byte"
else
	not_ok "GitHub: the comment is the Markdown plan, byte for byte" \
		"$(diff <(last_request comment) "$TEST_TMP/want.md" | head -20)"
fi
# PR_NUMBER wins over GITHUB_REF; no token is an error, before any request.
n=$(wc -l <"$log")
GITHUB_API_URL=http://127.0.0.1:$port GITHUB_REPOSITORY=example/infra PR_NUMBER=12 GITHUB_TOKEN=x \
	GITHUB_REF=refs/heads/main expect_exit 0 sh "$gitops/certsync-ci.sh" plan
[[ $(last_request path) == /repos/example/infra/issues/12/comments ]] && ok "PR_NUMBER names the pull request" ||
	not_ok "PR_NUMBER names the pull request" "$(last_request path)"
GITHUB_API_URL=http://127.0.0.1:$port GITHUB_REPOSITORY=example/infra PR_NUMBER=12 \
	expect_exit 1 sh "$gitops/certsync-ci.sh" plan
expect_contains "$OUT" 'GITHUB_TOKEN is not set'
[[ $(wc -l <"$log") == $((n + 1)) ]] && ok "nothing posted without a token" || not_ok "nothing posted without a token"
# The API refuses: the job fails and says where it posted.
GITHUB_API_URL=http://127.0.0.1:$port/fail GITHUB_REPOSITORY=example/infra PR_NUMBER=7 GITHUB_TOKEN=x \
	expect_exit 1 sh "$gitops/certsync-ci.sh" plan
expect_contains "$OUT" 'stand-in failure'
expect_contains "$OUT" 'certsync-ci: posting the plan to http://127.0.0.1:[0-9]*/fail/repos/example/infra/issues/7/comments failed'

# A plan longer than a comment holds: cut at a line, with a note, still
# valid JSON (a stand-in certsync prints 5,000 lines of 40 bytes with
# quotes, backslashes and tabs; the whole plan stays in the log).
cat >"$TEST_TMP/big-certsync" <<'SH'
#!/bin/sh
i=0
while [ $i -lt 5000 ]; do printf 'line %04d "q" \\ back\tslash........\n' $i; i=$((i + 1)); done
SH
chmod +x "$TEST_TMP/big-certsync"
CERTSYNC=$TEST_TMP/big-certsync GITHUB_API_URL=http://127.0.0.1:$port GITHUB_REPOSITORY=example/infra PR_NUMBER=9 \
	GITHUB_TOKEN=x expect_exit 0 sh "$gitops/certsync-ci.sh" plan
expect_contains "$OUT" 'line 4999 "q"'
comment=$(last_request comment)
expect_contains "$comment" '^line 0000 "q" \\ back	slash\.+$'
expect_contains "$comment" '^_\([0-9]+ more lines are in the job log: the comment would be too long\.\)_$'
n=$(wc -c <<<"$comment")
((n > 55000 && n < 65536)) && ok "the comment is cut below 65,536 bytes ($n)" || not_ok "the comment is cut below 65,536 bytes ($n)"

# --- plan on a GitLab merge request ----------------------------------------------------------
CI_API_V4_URL=http://127.0.0.1:$port/api/v4 CI_PROJECT_ID=42 CI_MERGE_REQUEST_IID=3 CERTSYNC_GITLAB_TOKEN=glpat-value \
	expect_exit 0 sh "$gitops/certsync-ci.sh" plan
[[ $(last_request path) == /api/v4/projects/42/merge_requests/3/notes ]] && ok "GitLab: POST to the merge request's notes" ||
	not_ok "GitLab: POST to the merge request's notes" "$(last_request path)"
[[ $(last_request header:Private-Token) == glpat-value ]] && ok "GitLab: the token as PRIVATE-TOKEN" ||
	not_ok "GitLab: the token as PRIVATE-TOKEN" "$(last_request header:Private-Token)"
[[ $(last_request comment) == "$(cat "$TEST_TMP/want.md")" ]] && ok "GitLab: the note is the Markdown plan" ||
	not_ok "GitLab: the note is the Markdown plan"

# --- a config that does not load still gets a comment, and fails the job ------------------------
cp certsync.yaml good.yaml && echo 'bogus: 1' >>certsync.yaml
GITHUB_API_URL=http://127.0.0.1:$port GITHUB_REPOSITORY=example/infra PR_NUMBER=8 GITHUB_TOKEN=x \
	expect_exit 1 sh "$gitops/certsync-ci.sh" plan
expect_contains "$OUT" 'unknown key "bogus" at the top level'
expect_contains "$(last_request comment)" 'The plan could not be made'
mv good.yaml certsync.yaml
CERTSYNC_COMMENT=none expect_exit 0 sh "$gitops/certsync-ci.sh" plan
expect_contains "$OUT" '## certsync plan'

# --- apply on merge: the saved plan, exactly ---------------------------------------------------
expect_exit 0 sh "$gitops/certsync-ci.sh" apply
[[ -s out/web.crt ]] && ok "apply wrote the certificate" || not_ok "apply wrote the certificate"
expect_exit 0 "$CERTSYNC" plan --detailed-exitcode
# No plan.bin: the job makes one and applies it (nothing to do now).
rm -f plan.bin
expect_exit 0 sh "$gitops/certsync-ci.sh" apply
expect_contains "$OUT" 'no plan.bin: making the plan now'
expect_contains "$OUT" 'No changes'
# A saved plan made before a change of the config is refused.
expect_exit 0 "$CERTSYNC" plan -o plan.bin
sed -i 's/remind_before: 7d/remind_before: 8d/' certsync.yaml
expect_exit 1 sh "$gitops/certsync-ci.sh" apply
expect_contains "$OUT" 'saved plan plan.bin was made from another version of .*certsync.yaml'

done_testing
