#!/usr/bin/env bash
# Hostile input, bounded (the sign-in lock-out per address is lifted: the passes sign in from
# 127.0.0.1 after thousands of generated wrong passwords on both login endpoints): schemathesis generates requests from /api/openapi.json against a
# running server (SQLite), authenticated as an admin, as a member (a fund member made after
# the admin pass, on the operations a member may call) and as a lender (on the tickets), and
# fails on any 5xx,
# undocumented status or content type, response that breaks the schema, or schema-violating
# request that is accepted. Business rules that refuse schema-valid data (paying twice, a draw
# before everyone paid) are expected, so "positive data acceptance" is not checked.
# Usage: bash scripts/schemathesis.sh <path-to-saghat-binary> [max-examples]
set -euo pipefail
binary=${1:?usage: schemathesis.sh <saghat binary> [max-examples]}
examples=${2:-40}
version=4.32.5

if ! command -v schemathesis >/dev/null 2>&1 || ! schemathesis --version 2>/dev/null | grep -q "$version"; then
  python3 -m pip install --quiet "schemathesis==$version"
fi

work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
APP_ENV=test SAGHAT_DATA_DIR="$work" DATABASE_URL="sqlite://$work/st.db?mode=rwc" BIND="127.0.0.1:$port" \
  SAGHAT_ADMIN_USERNAME=admin SAGHAT_ADMIN_PASSWORD=admin-password-1 RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn \
  LOGIN_MAX_FAILURES_PER_IP=100000 \
  "$binary" serve >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do curl -fs "$base/readyz" >/dev/null 2>&1 && break; sleep 0.1; done

token() {
  curl -fs -X POST "$base/api/auth/login" -H 'content-type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$2\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
admin=$(token admin admin-password-1)

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance,negative_data_rejection
# Operations only main users (and, for the online payments' exchanges and settlement and the
# reports, accountants or lenders) may call: to a member they can only answer 403, so the member pass leaves them
# to the admin pass.
admin_only=(audit_log list_users create_user update_user loan_history fund_wallet
  list_jobs queue_summary get_job retry_job discard_job delivery_log
  list_webhooks create_webhook get_webhook update_webhook delete_webhook list_deliveries replay_delivery
  intent_exchanges settle_intent run_reconciliation
  invoicing_report fund_report tickets_report ask_export list_exports show_export export_file
  ask_to_leave withdraw_request rejoin member_departures member_statements member_statement_pdf
  close_year list_closings get_closing year_report)

# Ticket moves only a reviewer (lender or admin) may make: to a member they can only answer
# 403 or 404, so the member pass leaves them to the admin and lender passes. And the
# borrower's own (applying, submitting, withdrawing), which a lender can only be refused.
reviewer_only=(review_ticket approve_ticket reject_ticket ask_for_information disburse_ticket mark_ticket_defaulted)
borrower_only=(create_ticket submit_ticket withdraw_ticket)

# run <who> <token> <parameters or ""> [schemathesis options…]: one pass; prints how many
# operations it tested. With parameters (`ticket_id = "…"`), every `{ticket_id}` is that ticket
# (a real one, so the moves and the ticket's page are answered, not only 404); without, ids are
# generated.
passed=0 failed=0
run() {
  local who=$1 tok=$2 ticket=$3; shift 3
  echo "--- schemathesis as $who ($examples examples per operation)"
  local rc=0 config="$work/$who.toml"
  if [ -n "$ticket" ]; then
    printf '[parameters]\n%s\n' "$ticket" >"$config"
  else
    : >"$config"
  fi
  schemathesis --config-file "$config" run "$base/api/openapi.json" -H "Authorization: Bearer $tok" --max-examples "$examples" \
    --checks "$checks" --seed 1 --no-color "$@" 2>&1 | tee "$work/$who.out" || rc=$?
  local tested
  tested=$(sed -n 's/^ *Tested: *\([0-9]*\).*/\1/p' "$work/$who.out" | tail -1)
  echo "schemathesis as $who: ${tested:-0} operations exercised"
  # A pass whose token stopped working (or whose user lacks the right) tests nothing but the
  # authentication check: that is a failure of this script, not a pass.
  if grep -q "returned only 401/403" "$work/$who.out"; then
    echo "schemathesis as $who: some operations answered only 401/403 (see the warnings above)"
    rc=1
  fi
  if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

# /api/v1's edits of one user are left to a pass of their own at the end, on a user made for
# them: reached from `GET /api/v1/users/me/`, they would deactivate the admin mid-pass. For the
# same reason the admin pass has no stateful phase: its inferred links (an `id` from one answer
# into the next request) lead the user edits to the admin's own account.
v1_user_edits='^/api/v1/users/\{id\}/$'
# And /api/auth's user edits (`{user_id}`) go to that user too, never to the admin itself.
victim=$(curl -fs -X POST "$base/api/auth/users" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
  -d '{"username":"stvictim","password":"victim-password-1"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
run admin "$admin" "user_id = $victim" --exclude-path-regex "$v1_user_edits" --phases examples,coverage,fuzzing

# The member is made after the admin pass, which deactivates users and changes their roles
# (PATCH /api/auth/users/{id}): a member made before it ended up signed out or no longer a
# fund member, and its pass saw only 401/403. This one is an active fund member who has paid
# this month, so its operations reach the business rules.
curl -fs -X POST "$base/api/auth/users" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
  -d '{"username":"stmember","password":"member-password-1","loan_request_amount":"10"}' >/dev/null
member=$(token stmember member-password-1)
curl -fs -X POST "$base/api/payments/pay" -H "authorization: Bearer $member" -H 'content-type: application/json' \
  -d '{"membership_fee":"20","bitpin_payment_id":"schemathesis-member-fee"}' >/dev/null
# The member's own draft, for the member pass: submitted and withdrawn by it (then refused
# with 409), read with its history and deadlines.
ticket() {
  curl -fs -X POST "$base/api/tickets" -H "authorization: Bearer $member" -H 'content-type: application/json' \
    -d "{\"amount\":\"$1\",\"purpose\":\"schemathesis\",\"term_months\":12,\"payout_address\":\"TSchemathesisPayout$1\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}
own_draft=$(ticket 100)
excluded=()
for id in "${admin_only[@]}" "${reviewer_only[@]}"; do excluded+=(--exclude-operation-id "$id"); done
# Fund members have no part in invoicing: to them /api/v1's invoicing answers only 403.
run member "$member" "ticket_id = \"$own_draft\"" "${excluded[@]}" \
  --exclude-path-regex '^/api/v1/((clients|products|invoices|payments|recurring-invoices)/|users/\{id\}/$)'

# A lender (made after the admin pass, like the member) on the tickets: the member's submitted
# application, taken under review, sent back, approved or rejected as the examples come.
curl -fs -X POST "$base/api/auth/users" -H "authorization: Bearer $admin" -H 'content-type: application/json' \
  -d '{"username":"stlender","password":"lender-password-1","role":"lender"}' >/dev/null
lender=$(token stlender lender-password-1)
submitted=$(ticket 200)
curl -fs -X POST "$base/api/tickets/$submitted/submit" -H "authorization: Bearer $member" >/dev/null
lender_ops=(--include-tag tickets)
for id in "${borrower_only[@]}"; do lender_ops+=(--exclude-operation-id "$id"); done
run lender "$lender" "ticket_id = \"$submitted\"" "${lender_ops[@]}"

# /api/v1's user edits, on the same user of their own (the admin keeps its account).
run "admin on one user" "$admin" "id = $victim" --include-path-regex "$v1_user_edits"

echo "schemathesis: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
