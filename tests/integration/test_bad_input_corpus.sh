#!/usr/bin/env bash
# The bad-input corpus: every broken config in tests/corpus/config and every
# broken CA reply in tests/corpus/replies, run through the binary, each
# checked against its NAME.expect — exit status, message, wall time and
# peak RSS (corpus_run.py measures the certsync process with wait4).
# Replies answer a real pending request: one site with a manual issuer is
# made here and has applied once (key and CSR waiting for the CA); each
# case gets a copy of it with its reply in inbox/.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/fixtures.sh"

site=$TEST_TMP/site
make_ca "$site" vendor
local_config "$site" '{ manual: { requests: requests/, inbox: inbox/ } }' 'echo reloaded >> out/reload.log'
(cd "$site" && "$CERTSYNC" apply --yes >apply.log 2>&1) || { echo "Bail out! first apply failed: $(cat "$site/apply.log")"; exit 1; }
[ -f "$site/requests/web.csr" ] || { echo "Bail out! no pending request"; exit 1; }
python3 "$(dirname "$0")/corpus_run.py" "$_lib_root" "$CERTSYNC" "$TEST_TMP" "$site"
