#!/bin/sh
# certsync in CI (GitHub Actions or GitLab CI; plain POSIX sh, curl).
#
#   certsync-ci.sh plan    on a pull (merge) request: make the plan, save it
#                          as plan.bin, print it and post it as Markdown in a
#                          comment on the pull request
#   certsync-ci.sh apply   on merge: carry out plan.bin exactly (made now when
#                          the job has none); certsync refuses a saved plan
#                          when the config or the hosts changed since
#
# Environment:
#   CERTSYNC          the certsync binary (default: certsync on PATH)
#   CERTSYNC_CONFIG   the config (default: certsync.yaml)
#   CERTSYNC_PLAN     the saved plan (default: plan.bin)
#   GitHub Actions:   GITHUB_TOKEN (pull-requests: write), GITHUB_REPOSITORY,
#                     PR_NUMBER (or GITHUB_REF=refs/pull/N/merge), and
#                     GITHUB_API_URL (set by Actions; default api.github.com)
#   GitLab CI:        CERTSYNC_GITLAB_TOKEN (a token with the api scope),
#                     with CI_API_V4_URL, CI_PROJECT_ID and
#                     CI_MERGE_REQUEST_IID set by GitLab for merge requests
#   CERTSYNC_COMMENT=none   print the plan, post nothing
#
# The token goes to curl in a header file (mode 0600), never on its
# command line.  Exit status: certsync's (plan: 1 when the plan has
# errors, after posting it).
set -u

certsync=${CERTSYNC:-certsync}
plan_file=${CERTSYNC_PLAN:-plan.bin}
work=$(mktemp -d "${TMPDIR:-/tmp}/certsync-ci.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

die() {
	echo "certsync-ci: $*" >&2
	exit 1
}

# json_string FILE: FILE's text as a JSON string.  Lines are kept whole up
# to about 60,000 bytes (a comment holds 65,536 characters); the rest is
# replaced by a note.
json_string() {
	awk -v max=60000 '
		# One character at a time: gsub replacement escapes differ
		# between awks (mawk, gawk, busybox).
		function esc(s,    out, i, c) {
			out = ""
			for (i = 1; i <= length(s); i++) {
				c = substr(s, i, 1)
				if (c == "\\") out = out "\\\\"
				else if (c == "\"") out = out "\\\""
				else if (c == "\t") out = out "\\t"
				else if (c == "\r") out = out "\\r"
				else if (c < " ") out = out "?"
				else out = out c
			}
			return out
		}
		BEGIN { printf "\"" }
		size + length($0) + 1 > max { cut++; next }
		{ size += length($0) + 1; printf "%s\\n", esc($0) }
		END {
			if (cut) printf "\\n_(%d more lines are in the job log: the comment would be too long.)_\\n", cut
			printf "\""
		}' "$1"
}

# post FILE: FILE (Markdown) as a comment on the pull or merge request.
post() {
	body=$work/body.json
	{ printf '{"body":'; json_string "$1"; printf '}\n'; } >"$body"
	headers=$work/headers
	(umask 077 && : >"$headers")
	if [ -n "${GITHUB_REPOSITORY:-}" ]; then
		[ -n "${GITHUB_TOKEN:-}" ] || die "GITHUB_TOKEN is not set: cannot post the plan"
		pr=${PR_NUMBER:-}
		if [ -z "$pr" ]; then
			case ${GITHUB_REF:-} in
			refs/pull/*/merge) pr=${GITHUB_REF#refs/pull/}; pr=${pr%/merge} ;;
			esac
		fi
		[ -n "$pr" ] || die "no pull request number (set PR_NUMBER, or run on pull_request)"
		url=${GITHUB_API_URL:-https://api.github.com}/repos/$GITHUB_REPOSITORY/issues/$pr/comments
		printf 'Authorization: Bearer %s\nAccept: application/vnd.github+json\nX-GitHub-Api-Version: 2022-11-28\n' \
			"$GITHUB_TOKEN" >"$headers"
	elif [ -n "${CI_MERGE_REQUEST_IID:-}" ]; then
		[ -n "${CERTSYNC_GITLAB_TOKEN:-}" ] || die "CERTSYNC_GITLAB_TOKEN is not set: cannot post the plan"
		url=${CI_API_V4_URL:?}/projects/${CI_PROJECT_ID:?}/merge_requests/$CI_MERGE_REQUEST_IID/notes
		printf 'PRIVATE-TOKEN: %s\n' "$CERTSYNC_GITLAB_TOKEN" >"$headers"
	else
		die "neither a GitHub pull request (GITHUB_REPOSITORY) nor a GitLab merge request (CI_MERGE_REQUEST_IID): set CERTSYNC_COMMENT=none to only print the plan"
	fi
	if ! curl -sS --fail-with-body -o "$work/reply" -X POST -H @"$headers" \
		-H 'Content-Type: application/json' --data-binary @"$body" "$url"; then
		cat "$work/reply" >&2 2>/dev/null
		die "posting the plan to $url failed"
	fi
	echo "certsync-ci: posted the plan to $url"
}

case ${1:-} in
plan)
	"$certsync" plan -o "$plan_file" --format markdown >"$work/plan.md"
	status=$?
	cat "$work/plan.md"
	# A plan that could not be made at all (a broken config) still gets a
	# comment saying so.
	if [ ! -s "$work/plan.md" ]; then
		printf '<!-- certsync plan -->\n## certsync plan\n\n**The plan could not be made** (exit %d): see the job log.\n' \
			"$status" >"$work/plan.md"
	fi
	if [ "${CERTSYNC_COMMENT:-}" != none ]; then
		post "$work/plan.md"
	fi
	exit "$status"
	;;
apply)
	if [ ! -f "$plan_file" ]; then
		echo "certsync-ci: no $plan_file: making the plan now"
		"$certsync" plan -o "$plan_file" || exit $?
	fi
	exec "$certsync" apply "$plan_file" --yes
	;;
*)
	die "usage: certsync-ci.sh plan | apply"
	;;
esac
