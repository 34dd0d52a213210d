#!/usr/bin/env bash
# The JSON Schema of the config (schema/certsync.schema.json) checked with a
# real validator (Debian's python3-jsonschema): every example and init's
# config pass it and `certsync validate`; on the whole bad-input corpus the
# schema and validate agree, but for the cases schema_check.py lists with
# the reason a schema cannot see them.  The 4 MB corpus case alone takes
# some 25 s of Python (events, composing, validating).
# timeout: 600
. "$(dirname "$0")/lib.sh"
src=${CERTSYNC_SOURCE_ROOT:-$_lib_root}
PY=/usr/bin/python3
if ! "$PY" -c 'import jsonschema, yaml' 2>/dev/null; then
	not_ok "python3-jsonschema and python3-yaml are installed (scripts/install-deps.sh)"
	done_testing
fi
unset CERTSYNC_CONFIG
"$PY" "$(dirname "$0")/schema_check.py" "$src" "$CERTSYNC" "$TEST_TMP"
exit $?
