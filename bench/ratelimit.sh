#!/usr/bin/env bash
# Rate-limiting benchmark (issue 7, DESIGN.md §6): 3 Standalone gateway processes on one Azurite.
#   accuracy - minute: LIMIT by consumer (key-auth, one consumer), one route per policy (local, distributed,
#              strict), all three loaded at once; offered above the limit, spread evenly over the instances
#              for BENCH_RL_EVEN windows, then skewed onto one instance for BENCH_RL_SKEW windows. Admitted
#              (200) counted per clock-aligned UTC minute on the client, by send time.
#   cost     - distributed (`policy: cluster`), a limit nobody reaches, BENCH_RL_COST_KEYS consumers, about
#              BENCH_RL_COST_RATE req/s over the 3 instances for BENCH_RL_COST_SECONDS: Table transactions
#              per 1,000 proxied requests, from the instances' gateway_table_transactions_total.
# Writes bench/results/ratelimit.md and prints a summary. See bench/README.md.
#
# Every wait is bounded; everything started here is stopped on exit, on failure too.
# Traffic goes to 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
WORK="$BENCH/.work"
LOGS="$WORK/logs/ratelimit"
RUN="$WORK/ratelimit"

# ---- knobs (environment overrides) -------------------------------------------------
QUICK=${BENCH_RL_QUICK:-0}                  # 1: one even and one skewed window, a 10 s cost run at 500 req/s
if [[ $QUICK == 1 ]]; then
  : "${BENCH_RL_EVEN:=1}" "${BENCH_RL_SKEW:=1}" "${BENCH_RL_COST_SECONDS:=10}" "${BENCH_RL_COST_RATE:=500}" "${BENCH_RL_COST_WARMUP:=3}"
fi
PHASES=${BENCH_RL_PHASES:-cost accuracy}    # a subset for trying things out
LIMIT=${BENCH_RL_LIMIT:-300}                # minute limit of the accuracy routes
OFFERED=${BENCH_RL_OFFERED:-2}              # offered / limit per window, distributed and strict
LOCAL_OFFERED=${BENCH_RL_LOCAL_OFFERED:-4}  # offered / limit per window, local (above 3 to show the x3)
EVEN=${BENCH_RL_EVEN:-2}                    # windows with load spread evenly
SKEW=${BENCH_RL_SKEW:-2}                    # windows with load skewed onto instance 1 ...
HOT=${BENCH_RL_HOT:-90}                     # ... which gets this % of it, the other two half the rest each
COST_RATE=${BENCH_RL_COST_RATE:-1000}       # req/s over the 3 instances in the cost run
COST_SECONDS=${BENCH_RL_COST_SECONDS:-45}
COST_WARMUP=${BENCH_RL_COST_WARMUP:-10}     # seconds at half the rate before the cost run (JIT, connections)
COST_KEYS=${BENCH_RL_COST_KEYS:-10}         # consumers (one key each) in the cost run
REFRESH=${BENCH_RL_CONFIG_REFRESH:-5}       # Gateway__ConfigRefreshSeconds (the product default)
STARTUP_TIMEOUT=${BENCH_RL_STARTUP_TIMEOUT:-60}
BUILD_TIMEOUT=${BENCH_RL_BUILD_TIMEOUT:-900}
OUTPUT=${BENCH_RL_OUTPUT:-}
INSTANCES=3

for knob in LIMIT EVEN SKEW HOT COST_RATE COST_SECONDS COST_WARMUP COST_KEYS REFRESH STARTUP_TIMEOUT BUILD_TIMEOUT; do
  if ! [[ ${!knob} =~ ^[0-9]+$ ]]; then
    echo "ratelimit: BENCH_RL_$knob must be a whole number, got '${!knob}'" >&2
    exit 2
  fi
done
for knob in OFFERED LOCAL_OFFERED; do
  if ! [[ ${!knob} =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
    echo "ratelimit: BENCH_RL_$knob must be a number, got '${!knob}'" >&2
    exit 2
  fi
done
for phase in $PHASES; do
  case $phase in cost | accuracy) ;; *)
    echo "ratelimit: unknown phase '$phase' in BENCH_RL_PHASES (cost accuracy)" >&2
    exit 2
    ;;
  esac
done
has_phase() { [[ " $PHASES " == *" $1 "* ]]; }
if ((LIMIT < 1 || COST_KEYS < 1 || HOT > 100 || COST_RATE < 1)) || { has_phase accuracy && ((EVEN + SKEW < 1)); }; then
  echo "ratelimit: BENCH_RL_LIMIT, _COST_KEYS, _COST_RATE and _EVEN + _SKEW must be at least 1, BENCH_RL_HOT at most 100" >&2
  exit 2
fi
# A shortened run must not overwrite the published full result.
FULL=0
if [[ $PHASES == "cost accuracy" ]] && ((EVEN >= 2 && SKEW >= 2 && COST_SECONDS >= 30)); then FULL=1; fi
if [[ -z $OUTPUT ]]; then
  if ((FULL)); then OUTPUT=$BENCH/results/ratelimit.md; else OUTPUT=$WORK/ratelimit-partial.md; fi
fi

# The command line that reproduces this run, with the overrides that were set.
COMMAND=""
for var in BENCH_RL_QUICK BENCH_RL_PHASES BENCH_RL_LIMIT BENCH_RL_OFFERED BENCH_RL_LOCAL_OFFERED BENCH_RL_EVEN BENCH_RL_SKEW BENCH_RL_HOT \
  BENCH_RL_COST_RATE BENCH_RL_COST_SECONDS BENCH_RL_COST_WARMUP BENCH_RL_COST_KEYS BENCH_RL_CONFIG_REFRESH; do
  if [[ -n ${!var+x} ]]; then
    value=${!var}
    if [[ ! $value =~ ^[A-Za-z0-9_.,/-]+$ ]]; then value=${value@Q}; fi
    COMMAND+="$var=$value "
  fi
done
COMMAND+="bench/ratelimit.sh"

LOG_NAME=ratelimit
# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"

command -v dotnet >/dev/null 2>&1 || die "dotnet is not on PATH"
command -v curl >/dev/null 2>&1 || die "curl is not on PATH"
# cpu_mark / cpu_report: "ours X%, others Y%" of the machine's CPU between the two calls.
machine_busy() { local busy steal; read -r busy steal <<<"$(machine_ticks)"; echo "$busy"; }
cpu_mark() { CPU_T0=$EPOCHREALTIME CPU_M0=$(machine_busy) CPU_O0=$(our_ticks); }
cpu_report() {
  awk -v t0="$CPU_T0" -v t1="$EPOCHREALTIME" -v m="$(($(machine_busy) - CPU_M0))" -v o="$(($(our_ticks) - CPU_O0))" \
    -v hz="$CLK_TCK" -v n="$NPROC" 'BEGIN { c = (t1 - t0) * hz * n; x = (m - o) / c * 100; if (x < 0) x = 0
      printf "this run %.0f%%, other processes %.0f%% of the machine'"'"'s CPU", o / c * 100, x }'
}

# scrape FILE: every instance's /_gateway/metrics, concatenated, each line prefixed with its instance.
scrape() {
  local file=$1 i
  : >"$file"
  for ((i = 1; i <= INSTANCES; i++)); do
    curl -sf --max-time 5 -H "X-Gateway-Admin-Key: $ADMIN_KEY" "${GW_URL[$i]}/_gateway/metrics" |
      sed "s/^/gw$i /" >>"$file" || die "could not scrape the metrics of gateway $i"
  done
}
# transactions FILE: "instance store operation value" for gateway_table_transactions_total.
transactions() {
  awk '$2 ~ /^gateway_table_transactions_total\{/ {
      store = $2; sub(/.*store="/, "", store); sub(/".*/, "", store)
      op = $2; sub(/.*operation="/, "", op); sub(/".*/, "", op)
      if (op == $2) op = "-"
      print $1, store, op, $NF }' "$1"
}

# run_load NAME PLAN SECONDS: runs the load generator on PLAN (bounded: SECONDS + 120), counts to $RUN/NAME.tsv.
run_load() {
  local name=$1 plan=$2 seconds=$3
  start "load_$name" timeout "$((seconds + 120))" dotnet "$WORK/publish/ratelimitload/RateLimitLoad.dll" "$plan" "$RUN/$name.tsv"
  local pid_var="PID_load_$name"
  local status=0
  wait "${!pid_var}" || status=$?
  ((status == 0)) || { tail -n 20 "$LOGS/load_$name.log" >&2; die "the load generator failed ($name, exit $status; see $LOGS/load_$name.log)"; }
}

# ---- build -----------------------------------------------------------------------------
rm -rf "$LOGS" "$RUN"
mkdir -p "$LOGS" "$RUN" "$WORK/publish" "$(dirname "$OUTPUT")"
START_TIME=$SECONDS
publish gateway "$ROOT/src/ServerlessGateway.Standalone/ServerlessGateway.Standalone.csproj" ||
  die "the gateway (src/ServerlessGateway.Standalone) does not build; no benchmark run"
publish backend "$BENCH/Backend/Backend.csproj" || die "bench/Backend does not build"
publish ratelimitload "$BENCH/RateLimitLoad/RateLimitLoad.csproj" || die "bench/RateLimitLoad does not build"

# ---- start Azurite, the backend and 3 gateways --------------------------------------------
start_azurite

free_port BACKEND_PORT
BACKEND_URL="http://127.0.0.1:$BACKEND_PORT"
start backend "${DOTNET_ENV[@]}" dotnet "$WORK/publish/backend/Backend.dll" --urls "$BACKEND_URL"
wait_http backend "$BACKEND_URL/api/hello" || die "the backend did not start"

ADMIN_KEY="rl-bench-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
PREFIX="rlbench$(head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n')"
declare -A GW_URL=()
for ((i = 1; i <= INSTANCES; i++)); do
  free_port GW_PORT
  GW_URL[$i]="http://127.0.0.1:$GW_PORT"
  start "gw$i" "${DOTNET_ENV[@]}" GatewayStorage="$AZURITE_STORAGE" Gateway__TablePrefix="$PREFIX" Gateway__InstanceId="gw$i" \
    Gateway__Admin__Keys__0="$ADMIN_KEY" Gateway__Upstreams__AllowLoopback=true Gateway__ConfigRefreshSeconds="$REFRESH" \
    dotnet "$WORK/publish/gateway/ServerlessGateway.Standalone.dll" --urls "${GW_URL[$i]}"
  wait_http "gw$i" "${GW_URL[$i]}/_gateway/metrics" -H "X-Gateway-Admin-Key: $ADMIN_KEY" || die "gateway $i did not start"
done
log "Azurite on $AZURITE_PORT, backend on $BACKEND_PORT, gateways ${GW_URL[*]} (table prefix $PREFIX)"

# ---- config: one route per policy for accuracy, one for cost ----------------------------
{
  cat <<EOF
_format_version: "3.0"
services:
- name: backend
  url: $BACKEND_URL
  routes:
EOF
  for policy in local distributed strict; do
    cat <<EOF
  - name: rl-$policy
    paths: [/rl-$policy]
    strip_path: true
    plugins:
    - name: key-auth
    - name: rate-limiting
      config: {minute: $LIMIT, policy: $policy, limit_by: consumer}
EOF
  done
  cat <<EOF
  - name: rl-cost
    paths: [/rl-cost]
    strip_path: true
    plugins:
    - name: key-auth
    - name: rate-limiting
      config: {minute: 1000000, policy: cluster, limit_by: consumer}
consumers:
- username: rl-accuracy
  keyauth_credentials: [{key: rl-accuracy-key}]
EOF
  for ((k = 0; k < COST_KEYS; k++)); do
    printf -- '- username: rl-cost-%d\n  keyauth_credentials: [{key: rl-cost-key-%d}]\n' "$k" "$k"
  done
} >"$RUN/kong.yaml"
code=$(curl -s -o "$LOGS/import.json" -w '%{http_code}' --max-time 30 -X POST -H "X-Gateway-Admin-Key: $ADMIN_KEY" \
  -H 'Content-Type: application/yaml' --data-binary "@$RUN/kong.yaml" "${GW_URL[1]}/_gateway/config" || true)
[[ $code == 200 || $code == 201 ]] || die "config import answered $code: $(head -c 800 "$LOGS/import.json")"
# Every instance picks the config up from the registry (polling every REFRESH s). The probe uses the cost
# route, never an accuracy one (all routes come in one snapshot).
for ((i = 1; i <= INSTANCES; i++)); do
  wait_http "gw$i" "${GW_URL[$i]}/rl-cost/api/hello" -H "apikey: rl-cost-key-0" || die "gateway $i did not load the imported config"
done
log "config imported and served by all $INSTANCES instances"

urls_json() {
  local i sep=""
  printf '['
  for ((i = 1; i <= INSTANCES; i++)); do printf '%s"%s"' "$sep" "${GW_URL[$i]}"; sep=","; done
  printf ']'
}
cost_keys_json() {
  local k sep=""
  printf '['
  for ((k = 0; k < COST_KEYS; k++)); do printf '%s"rl-cost-key-%d"' "$sep" "$k"; sep=","; done
  printf ']'
}
LOAD_AVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- cost ------------------------------------------------------------------------------
declare -A TX_RL=() TX_CONFIG=()
if has_phase cost; then
  if ((COST_WARMUP > 0)); then
    log "cost: warm-up ${COST_WARMUP}s at $((COST_RATE / 2)) req/s"
    cat >"$RUN/plan-warmup.json" <<EOF
{"urls": $(urls_json), "alignToMinute": false, "leadSeconds": 0.2, "guardMilliseconds": 0, "maxInFlight": 256,
 "segments": [{"name": "warmup", "seconds": $COST_WARMUP, "weights": [1, 1, 1]}],
 "streams": [{"name": "cost", "path": "/rl-cost/api/hello", "requests": $((COST_RATE * COST_WARMUP / 2)), "header": "apikey", "keys": $(cost_keys_json)}]}
EOF
    run_load warmup "$RUN/plan-warmup.json" "$COST_WARMUP"
  fi
  cat >"$RUN/plan-cost.json" <<EOF
{"urls": $(urls_json), "alignToMinute": false, "leadSeconds": 0.2, "guardMilliseconds": 0, "maxInFlight": 256,
 "segments": [{"name": "cost", "seconds": $COST_SECONDS, "weights": [1, 1, 1]}],
 "streams": [{"name": "cost", "path": "/rl-cost/api/hello", "requests": $((COST_RATE * COST_SECONDS)), "header": "apikey", "keys": $(cost_keys_json)}]}
EOF
  log "cost: ${COST_SECONDS}s at $COST_RATE req/s over $INSTANCES instances, $COST_KEYS consumers"
  scrape "$RUN/metrics-cost-before.txt"
  COST_T0=$EPOCHREALTIME
  cpu_mark
  run_load cost "$RUN/plan-cost.json" "$COST_SECONDS"
  COST_CPU=$(cpu_report)
  scrape "$RUN/metrics-cost-after.txt"
  COST_T1=$EPOCHREALTIME
  cp "$LOGS/load_cost.log" "$RUN/load-cost.out"
fi

# ---- accuracy --------------------------------------------------------------------------
if has_phase accuracy; then
  rest=$(((100 - HOT) / 2))
  segments=""
  for ((w = 1; w <= EVEN; w++)); do segments+="{\"name\": \"even\", \"seconds\": 60, \"weights\": [1, 1, 1]},"; done
  for ((w = 1; w <= SKEW; w++)); do segments+="{\"name\": \"skewed\", \"seconds\": 60, \"weights\": [$HOT, $rest, $((100 - HOT - rest))]},"; done
  per_window() { awk -v l="$LIMIT" -v f="$1" 'BEGIN { printf "%.0f", l * f }'; }
  cat >"$RUN/plan-accuracy.json" <<EOF
{"urls": $(urls_json), "alignToMinute": true, "leadSeconds": 2, "guardMilliseconds": 50, "maxInFlight": 64,
 "segments": [${segments%,}],
 "streams": [
  {"name": "local", "path": "/rl-local/api/hello", "requests": $(per_window "$LOCAL_OFFERED"), "header": "apikey", "keys": ["rl-accuracy-key"]},
  {"name": "distributed", "path": "/rl-distributed/api/hello", "requests": $(per_window "$OFFERED"), "header": "apikey", "keys": ["rl-accuracy-key"]},
  {"name": "strict", "path": "/rl-strict/api/hello", "requests": $(per_window "$OFFERED"), "header": "apikey", "keys": ["rl-accuracy-key"]}]}
EOF
  log "accuracy: $EVEN even + $SKEW skewed (${HOT}%) minute windows, limit $LIMIT/min; starts at the next UTC minute"
  scrape "$RUN/metrics-accuracy-before.txt"
  cpu_mark
  run_load accuracy "$RUN/plan-accuracy.json" $(((EVEN + SKEW) * 60 + 62))
  ACCURACY_CPU=$(cpu_report)
  scrape "$RUN/metrics-accuracy-after.txt"
  cp "$LOGS/load_accuracy.log" "$RUN/load-accuracy.out"
fi
LOAD_AVG_END=$(cut -d' ' -f1-3 /proc/loadavg)
RUN_SECONDS=$((SECONDS - START_TIME))

# ---- report ------------------------------------------------------------------------------
FAILED=0
ACCURACY_TABLE="" ACCURACY_NOTES="" DECISIONS=""
if has_phase accuracy; then
  # Per policy and window: sums over the instances, checked against the policy's bound.
  ACCURACY_TABLE=$(awk -F'\t' -v limit="$LIMIT" 'NR > 1 {
      k = $1 SUBSEP $4
      if (!(k in sent)) { order[++n] = k; name[k] = $2; start[k] = substr($3, 12, 5); policy[k] = $4; seg[k] = $1 }
      sent[k] += $6; ok[k] += $7; r429[k] += $8; r503[k] += $9; bad[k] += $10 + $11; strad[k] += $13
      split_[k] = split_[k] (split_[k] == "" ? "" : " / ") $6
      expect[k] += ($6 < limit ? $6 : limit)
    }
    END {
      print "| policy | window (UTC) | spread | offered (per instance) | admitted | % of limit | 429 | 503 / errors | bound | result |"
      print "|---|---|---|---:|---:|---:|---:|---:|---|---|"
      for (p = 1; p <= 3; p++) {
        pol = (p == 1 ? "distributed" : p == 2 ? "strict" : "local")
        for (i = 1; i <= n; i++) {
          k = order[i]; if (policy[k] != pol) continue
          pct = ok[k] / limit * 100
          if (pol == "distributed") {
            hi = limit * 1.02; lo = (sent[k] > limit ? limit * 0.98 : sent[k] * 0.98)
            bound = sprintf("%.0f - %.0f", lo, hi); pass = (ok[k] <= hi && ok[k] >= lo)
          } else if (pol == "strict") {
            bound = sprintf("<= %d", limit); pass = (ok[k] <= limit)
          } else {
            bound = sprintf("= %d (sum of min(offered, limit))", expect[k]); pass = (ok[k] - expect[k] <= strad[k] && expect[k] - ok[k] <= strad[k])
          }
          if (bad[k] > 0) pass = 0
          result = pass ? "pass" : "FAIL"
          if (strad[k] > 0) result = result " (" strad[k] " straddled)"
          printf "| %s | %s | %s | %d (%s) | %d | %.1f%% | %d | %d / %d | %s | %s |\n", pol, seg[k] ": " start[k], name[k], sent[k], split_[k], ok[k], pct, r429[k], r503[k], bad[k], bound, result
        }
      }
    }' "$RUN/accuracy.tsv")
  if grep -q 'FAIL' <<<"$ACCURACY_TABLE"; then FAILED=1; fi
  # The gateways' own decision counts over the whole accuracy phase, as a cross-check of the client's.
  DECISIONS=$(join -a1 -e0 -o 0,1.2,2.2 \
    <(awk '$2 ~ /^gateway_rate_limit_decisions_total\{/ { l = $2; sub(/^[^{]*/, "", l); s[l] += $NF } END { for (l in s) print l, s[l] }' "$RUN/metrics-accuracy-after.txt" | sort) \
    <(awk '$2 ~ /^gateway_rate_limit_decisions_total\{/ { l = $2; sub(/^[^{]*/, "", l); s[l] += $NF } END { for (l in s) print l, s[l] }' "$RUN/metrics-accuracy-before.txt" | sort) |
    awk 'BEGIN { print "| decision (all instances) | during the accuracy phase |"; print "|---|---:|" } { printf "| `%s` | %d |\n", $1, $2 - $3 }')
fi

COST_TABLE="" COST_SUMMARY=""
if has_phase cost; then
  cost_line=$(grep '^LOAD ' "$RUN/load-cost.out")
  read -r COST_SENT COST_OK COST_429 COST_OTHER <<<"$(awk -F'\t' 'NR > 1 { s += $6; o += $7; r += $8; x += $9 + $10 + $11 } END { print s + 0, o + 0, r + 0, x + 0 }' "$RUN/cost.tsv")"
  COST_PER_INSTANCE=$(awk -F'\t' 'NR > 1 { printf "%sgw%d %d sent, %d admitted, %d rejected", (NR > 2 ? "; " : ""), $5, $6, $7, $8 }' "$RUN/cost.tsv")
  ((COST_OK > 0)) || die "no request was proxied in the cost run (see $RUN/cost.tsv)"
  join -a1 -e0 -o 0,1.2,2.2 \
    <(transactions "$RUN/metrics-cost-after.txt" | awk '{ print $2 "/" $3, $4 }' | awk '{ s[$1] += $2 } END { for (k in s) print k, s[k] }' | sort) \
    <(transactions "$RUN/metrics-cost-before.txt" | awk '{ print $2 "/" $3, $4 }' | awk '{ s[$1] += $2 } END { for (k in s) print k, s[k] }' | sort) \
    >"$RUN/cost-transactions.txt"
  COST_ELAPSED=$(awk -v a="$COST_T0" -v b="$COST_T1" 'BEGIN { printf "%.1f", b - a }')
  COST_TABLE=$(awk -v ok="$COST_OK" -v t="$COST_ELAPSED" '
    { split($1, p, "/"); d = $2 - $3; if (d == 0) next; rows[++n] = sprintf("| %s | %s | %d | %.2f | %.1f |", p[1], p[2], d, d / ok * 1000, d / t); tot[p[1]] += d }
    END {
      print "| store | operation | transactions | per 1,000 proxied requests | per second |"
      print "|---|---|---:|---:|---:|"
      for (i = 1; i <= n; i++) print rows[i]
      for (s in tot) printf "| **%s, total** | | **%d** | **%.2f** | **%.1f** |\n", s, tot[s], tot[s] / ok * 1000, tot[s] / t
    }' "$RUN/cost-transactions.txt")
  RL_PER_1000=$(awk -v ok="$COST_OK" '$1 ~ /^rate_limit\// { d += $2 - $3 } END { printf "%.2f", d / ok * 1000 }' "$RUN/cost-transactions.txt")
  CONFIG_PER_S=$(awk -v t="$COST_ELAPSED" '$1 ~ /^config\// { d += $2 - $3 } END { printf "%.2f", d / t }' "$RUN/cost-transactions.txt")
  CONFIG_PER_1000=$(awk -v ok="$COST_OK" '$1 ~ /^config\// { d += $2 - $3 } END { printf "%.2f", d / ok * 1000 }' "$RUN/cost-transactions.txt")
  COST_RPS=$(awk -v ok="$COST_SENT" -v s="$COST_SECONDS" 'BEGIN { printf "%.0f", ok / s }')
  COST_VERDICT=$(awk -v x="$RL_PER_1000" 'BEGIN { print (x < 50 ? "pass" : "FAIL") }')
  [[ $COST_VERDICT == pass ]] || FAILED=1
  # Every consumer stays far under its limit here: any 429 is a client under its limit rejected (DESIGN.md §6).
  COST_REJECTED_VERDICT=pass
  if ((COST_429 > 0 || COST_OTHER > 0)); then COST_REJECTED_VERDICT=FAIL FAILED=1; fi
  COST_SUMMARY="- distributed rate limiting: **$RL_PER_1000 rate-limit store transactions per 1,000 proxied requests** (target well under 50: $COST_VERDICT), $COST_OK of $COST_SENT requests proxied (200) at $COST_RPS req/s offered over $INSTANCES instances, $COST_KEYS consumers, ${COST_SECONDS}s
- clients under their limit rejected: $COST_429 (429) and $COST_OTHER other non-200 or failed of $COST_SENT (expected 0: $COST_REJECTED_VERDICT; each consumer offered about $((COST_RATE * 60 / COST_KEYS)) per minute against \`minute: 1000000\`); per instance: $COST_PER_INSTANCE
- config store (registry polling every ${REFRESH}s by each instance): $CONFIG_PER_S transactions/s in all, $CONFIG_PER_1000 per 1,000 requests at this rate (independent of traffic)
- load: \`${cost_line#LOAD }\`, \`$(grep '^PACING ' "$RUN/load-cost.out" | sed 's/^PACING //; s/ start_utc.*//')\` (send lateness behind schedule); CPU during the run: $COST_CPU"
fi

CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
DOTNET_VERSION=$(dotnet --version 2>/dev/null || echo unknown)
AZURITE_VERSION=$("$AZURITE" --version 2>/dev/null | head -n1 || echo unknown)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
DIRTY=""
if [[ -n $(git -C "$ROOT" status --porcelain -- src bench 2>/dev/null) ]]; then DIRTY=" (uncommitted changes in src/ or bench/)"; fi

{
  echo "# Rate-limiting benchmark: latest result"
  echo
  echo "3 Standalone gateway processes (\`Gateway__InstanceId\` gw1-gw3) on one Azurite (in memory), one backend, all on loopback."
  if ! ((FULL)); then
    echo
    echo "**Shortened run** (fewer windows or a shorter cost run than the full benchmark): indicative only."
  fi
  if has_phase accuracy; then
    echo
    echo "## Accuracy: \`minute: $LIMIT\` by consumer"
    echo
    echo "One consumer (key-auth), one route per policy, the three policies loaded at once. Per UTC minute window:"
    echo "distributed and strict offered ${OFFERED}x the limit, local ${LOCAL_OFFERED}x; even = 1/1/1 over the instances,"
    echo "skewed = $HOT/$rest/$((100 - HOT - rest)). Admitted = 200 answers, counted on the client by the window of the request's send time"
    echo "(same clock as the gateways; the load starts at a minute boundary, every window is whole, no request is sent within"
    echo "50 ms of a boundary, and an answer received after its window ended would be flagged as straddled)."
    echo
    echo "Bounds: distributed admits at most 102% of the limit and at least 98% of it when offered more (else at least 98% of"
    echo "what was offered); strict at most 100%; local exactly the sum over instances of min(offered, limit) (3x the limit at most)."
    echo
    echo "$ACCURACY_TABLE"
    echo
    echo "$DECISIONS"
    echo
    echo "- load: $(grep '^LOAD \|^PACING ' "$RUN/load-accuracy.out" | sed 's/^/`/; s/$/`/' | paste -sd';' | sed 's/;/; /g')"
    echo "- CPU during the accuracy phase: $ACCURACY_CPU"
  fi
  if has_phase cost; then
    echo
    echo "## Storage cost: distributed at ~$COST_RATE req/s"
    echo
    echo "\`policy: cluster\` (= distributed, \`sync_rate\` default: 1 s), \`minute: 1000000\` by consumer, $COST_KEYS consumers cycled"
    echo "request by request, load spread 1/1/1. Deltas of \`gateway_table_transactions_total\` summed over the 3 instances between"
    echo "a scrape just before and one just after the load (${COST_ELAPSED}s apart), divided by the requests proxied (200)."
    echo
    echo "$COST_SUMMARY"
    echo
    echo "$COST_TABLE"
  fi
  echo
  echo "## How it was run"
  echo
  echo "- command: \`$COMMAND\` ($((RUN_SECONDS / 60)) min $((RUN_SECONDS % 60)) s, builds included)"
  echo "- date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "- commit: $COMMIT$DIRTY"
  echo "- machine: $NPROC CPUs ($CPU_MODEL), kernel $(uname -r), .NET SDK $DOTNET_VERSION, Azurite $AZURITE_VERSION; load average $LOAD_AVG_START at the start, $LOAD_AVG_END at the end"
  echo "- gateways: \`dotnet publish -c Release\`, ASPNETCORE_ENVIRONMENT=Production, Logging__LogLevel__Default=Warning, \`Gateway__ConfigRefreshSeconds=$REFRESH\`, config imported with \`POST /_gateway/config\` on gw1 (below); no CPU pinning"
  echo "- load: \`bench/RateLimitLoad\` (open loop: every request at its scheduled time, evenly paced, instances by smooth weighted round robin), HttpClient, keep-alive"
  echo
  echo "<details><summary>config</summary>"
  echo
  echo '```yaml'
  cat "$RUN/kong.yaml"
  echo '```'
  echo
  echo "</details>"
} >"$OUTPUT"

echo
if has_phase accuracy; then echo "$ACCURACY_TABLE"; echo; fi
if has_phase cost; then echo "$COST_SUMMARY"; echo; echo "$COST_TABLE"; echo; fi
log "written: ${OUTPUT#"$ROOT"/} (${RUN_SECONDS}s)"
((FAILED == 0)) || die "a bound was not met (see above)"
