#!/usr/bin/env bash
# Soak (issue 10): the Standalone gateway under steady load for BENCH_SOAK_SECONDS (10 minutes) through the
# seed config's policy set: jwt + rate-limiting (distributed, registry and counters in Azurite) +
# correlation-id, the same route as bench/run.sh's seed target, imported through the management API; after
# every window a PATCH publishes a new config version (BENCH_SOAK_CHURN=0: none). The load is wrk, closed loop, a fixed number
# of connections, run back to back in windows of BENCH_SOAK_WINDOW seconds; after each window the gateway's
# working set (VmRSS), open file descriptors and threads are read from /proc.
#
# Pass: zero errors (non-2xx answers and socket errors, the warm-up included), every config change served,
# and a working set after
# warm-up that stays flat: the median of the last minute at most BENCH_SOAK_MAX_GROWTH % above the median
# of the first minute after warm-up. Otherwise the script exits 1, after writing the report.
# Writes bench/results/soak.md, soak.tsv (one row per window) and soak.svg (the chart). See bench/README.md.
#
# Every wait is bounded; everything started here is stopped on exit, on failure too.
# Traffic goes to 127.0.0.1 only.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
WORK="$BENCH/.work"
LOGS="$WORK/logs/soak"
LOG_NAME=soak

# ---- knobs (environment overrides) -------------------------------------------------
TOTAL=${BENCH_SOAK_SECONDS:-600}         # seconds of load in all, warm-up included
WINDOW=${BENCH_SOAK_WINDOW:-10}          # seconds per wrk run (one row of the report)
WARMUP=${BENCH_SOAK_WARMUP:-120}         # seconds at the start not counted in the growth baseline (JIT tiering, GC sizing)
CONNECTIONS=${BENCH_SOAK_CONNECTIONS:-32}
MAX_GROWTH=${BENCH_SOAK_MAX_GROWTH:-10}  # % working-set growth allowed after warm-up
CHURN=${BENCH_SOAK_CHURN:-1}             # 1: change the config through the management API after every window
PIN=${BENCH_SOAK_PIN:-1}                 # 1: wrk + backend + Azurite on one half of the CPUs, the gateway on the other
STARTUP_TIMEOUT=${BENCH_SOAK_STARTUP_TIMEOUT:-60}
BUILD_TIMEOUT=${BENCH_SOAK_BUILD_TIMEOUT:-900}
for knob in TOTAL WINDOW WARMUP CONNECTIONS MAX_GROWTH STARTUP_TIMEOUT BUILD_TIMEOUT; do
  if ! [[ ${!knob} =~ ^[0-9]+$ ]]; then
    echo "soak: BENCH_SOAK_${knob/TOTAL/SECONDS} must be a whole number, got '${!knob}'" >&2
    exit 2
  fi
done
# The growth compares a minute after warm-up with the last minute: they must not overlap.
if ((WINDOW < 1 || CONNECTIONS < 1 || TOTAL < WARMUP + 120)); then
  echo "soak: BENCH_SOAK_WINDOW and _CONNECTIONS must be at least 1, BENCH_SOAK_SECONDS at least BENCH_SOAK_WARMUP + 120" >&2
  exit 2
fi
# A shortened run must not overwrite the published result.
if ((TOTAL >= 600)); then OUT_DIR=${BENCH_SOAK_OUTPUT_DIR:-$BENCH/results}; else OUT_DIR=${BENCH_SOAK_OUTPUT_DIR:-$WORK/soak-partial}; fi
COMMAND=""
for var in BENCH_SOAK_SECONDS BENCH_SOAK_WINDOW BENCH_SOAK_WARMUP BENCH_SOAK_CONNECTIONS BENCH_SOAK_MAX_GROWTH BENCH_SOAK_CHURN BENCH_SOAK_PIN; do
  if [[ -n ${!var+x} ]]; then COMMAND+="$var=${!var} "; fi
done
COMMAND+="bench/soak.sh"

# shellcheck source=bench/lib.sh
source "$BENCH/lib.sh"
WRK_PID=""
cleanup_hook() { if [[ -n $WRK_PID ]]; then kill -TERM "$WRK_PID" 2>/dev/null || true; fi; }

for tool in wrk curl openssl dotnet; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not on PATH (wrk: apt-get install wrk, as bench/run.sh does)"
done

# ---- CPU layout (as bench/run.sh) ---------------------------------------------------------
NPROC=$(nproc)
PIN_LOAD=()
PIN_PROXY=()
LAYOUT="no pinning: wrk, backend, Azurite and the gateway share all $NPROC CPUs"
if [[ $PIN == 1 ]] && ((NPROC >= 2)); then
  half=$((NPROC / 2))
  PIN_LOAD=(taskset -c "0-$((half - 1))")
  PIN_PROXY=(taskset -c "$half-$((NPROC - 1))")
  LAYOUT="wrk, backend and Azurite pinned to CPU 0-$((half - 1)), the gateway to CPU $half-$((NPROC - 1)) (taskset)"
fi
THREADS=$(((NPROC + 1) / 2))

# ---- build and start ------------------------------------------------------------------------
rm -rf "$LOGS" "$WORK/soak"
mkdir -p "$LOGS" "$WORK/soak" "$OUT_DIR"
publish gateway "$ROOT/src/ServerlessGateway.Standalone/ServerlessGateway.Standalone.csproj" ||
  die "the gateway (src/ServerlessGateway.Standalone) does not build"
publish backend "$BENCH/Backend/Backend.csproj" || die "bench/Backend does not build"

START_WRAP=("${PIN_LOAD[@]}")
start_azurite
free_port BACKEND_PORT
BACKEND_URL="http://127.0.0.1:$BACKEND_PORT"
start backend "${DOTNET_ENV[@]}" dotnet "$WORK/publish/backend/Backend.dll" --urls "$BACKEND_URL"
wait_http backend "$BACKEND_URL/api/hello" || die "the backend did not start"

make_jwt
{
  printf '_format_version: "3.0"\nservices:\n- name: backend\n  url: %s\n  routes:\n  - name: all\n    paths: [/]\n' "$BACKEND_URL"
  seed_plugins
  printf '%s\n' "$JWT_CONSUMER"
} >"$WORK/soak/kong-seed.yaml"
ADMIN_KEY="soak-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
ADMIN=(-H "X-Gateway-Admin-Key: $ADMIN_KEY")
free_port GATEWAY_PORT
GATEWAY_URL="http://127.0.0.1:$GATEWAY_PORT"
START_WRAP=("${PIN_PROXY[@]}")
start gateway "${DOTNET_ENV[@]}" Gateway__Upstreams__AllowLoopback=true Gateway__Admin__Keys__0="$ADMIN_KEY" \
  Gateway__Secrets__Key="$(head -c 32 /dev/urandom | base64 -w0)" GatewayStorage="$AZURITE_STORAGE" Gateway__TablePrefix=Soak \
  dotnet "$WORK/publish/gateway/ServerlessGateway.Standalone.dll" --urls "$GATEWAY_URL"
START_WRAP=()
wait_http gateway "$GATEWAY_URL/_gateway/metrics" "${ADMIN[@]}" || die "the gateway did not start"
# The config goes into the registry in Azurite through the management API, as a platform team would load it.
code=$(curl -s -o "$LOGS/import.json" -w '%{http_code}' --max-time 30 -X POST "${ADMIN[@]}" -H 'Content-Type: application/yaml' \
  --data-binary "@$WORK/soak/kong-seed.yaml" "$GATEWAY_URL/_gateway/config" || true)
[[ $code == 201 ]] || die "the config import answered $code: $(head -c 800 "$LOGS/import.json")"
AUTH="Authorization: Bearer $JWT_TOKEN"
wait_http gateway "$GATEWAY_URL/api/hello" -H "$AUTH" || die "the gateway did not serve /api/hello with the seed config"
# The policies must be in the path: 401 without the token, rate-limit headers with it.
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$GATEWAY_URL/api/hello" || true)
[[ $code == 401 ]] || die "the gateway answered $code without a token (expected 401): jwt is not in the path"
headers=$(curl -s -D - -o /dev/null --max-time 5 -H "$AUTH" "$GATEWAY_URL/api/hello" || true)
[[ $headers == *"X-RateLimit-Remaining-Minute"* ]] || die "the gateway answered without rate-limit headers: rate-limiting is not in the path"
config_version() { curl -s --max-time 5 "$GATEWAY_URL/_gateway/health" | grep -o '"config_version": *[0-9]*' | grep -o '[0-9]*$'; }
VERSION0=$(config_version)
[[ -n $VERSION0 ]] || die "no config_version on /_gateway/health"
GATEWAY_PID=$PID_gateway
log "Azurite on $AZURITE_PORT, backend on $BACKEND_PORT, gateway on $GATEWAY_PORT; $LAYOUT"

# ---- soak -------------------------------------------------------------------------------------
write_wrk_report "$WORK/soak/report.lua"
proc_status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$GATEWAY_PID/status"; }
gateway_ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$GATEWAY_PID/stat"; }
ls "/proc/$GATEWAY_PID/fd" >/dev/null || die "cannot read /proc/$GATEWAY_PID/fd"

TSV="$OUT_DIR/soak.tsv"
printf 't_s\trps\tp50_ms\tp99_ms\tmax_ms\tnon2xx\tsocket_errors\trss_mib\tfds\tthreads\tgateway_cpu_pct\tother_cpu_pct\n' >"$TSV"
RSS0=$(proc_status VmRSS)
log "soak: ${TOTAL}s in ${WINDOW}s windows, wrk -t$THREADS -c$CONNECTIONS, working set at the start $((RSS0 / 1024)) MiB"
elapsed=0
window=0
CHANGES=0
while ((elapsed < TOTAL)); do
  window=$((window + 1))
  seconds=$((TOTAL - elapsed < WINDOW ? TOTAL - elapsed : WINDOW))
  out="$LOGS/wrk-$window.log"
  ticks0=$(gateway_ticks)
  read -r busy0 _ <<<"$(machine_ticks)"
  ours0=$(our_ticks)
  children_ticks
  wrk0=$CHILD_TICKS
  t0=$EPOCHREALTIME
  "${PIN_LOAD[@]}" timeout $((seconds + 30)) wrk --latency -t"$THREADS" -c"$CONNECTIONS" -d"${seconds}s" --timeout 5s \
    -H "$AUTH" -s "$WORK/soak/report.lua" "$GATEWAY_URL/api/hello" >"$out" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || die "wrk failed in window $window (see $out)"
  WRK_PID=""
  t1=$EPOCHREALTIME
  children_ticks
  wrk1=$CHILD_TICKS
  ours1=$(our_ticks)
  read -r busy1 _ <<<"$(machine_ticks)"
  kill -0 "$GATEWAY_PID" 2>/dev/null || die "the gateway exited during the soak (see $LOGS/gateway.log)"
  if ((CHURN)); then
    # A config change per window, as the management API makes them: a new version in the registry, polled,
    # compiled and swapped in under load (the plugins' state, pools and breakers are rebuilt or carried over).
    code=$(curl -s -o "$LOGS/churn.json" -w '%{http_code}' --max-time 10 -X PATCH "${ADMIN[@]}" -H 'Content-Type: application/json' \
      -d "{\"read_timeout\": $((60000 + window % 2))}" "$GATEWAY_URL/_gateway/services/backend" || true)
    [[ $code == 200 ]] || die "the config change in window $window answered $code: $(head -c 400 "$LOGS/churn.json")"
    CHANGES=$((CHANGES + 1))
  fi
  ticks1=$(gateway_ticks)
  rss=$(proc_status VmRSS)
  threads=$(proc_status Threads)
  fds=$(find "/proc/$GATEWAY_PID/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
  line=$(grep '^BENCH ' "$out") || die "no result line in $out"
  elapsed=$((elapsed + seconds))
  row=$(awk -v l="$line" -v t="$elapsed" -v rss="$rss" -v fds="$fds" -v th="$threads" \
    -v hz="$CLK_TCK" -v t0="$t0" -v t1="$t1" -v dticks="$((ticks1 - ticks0))" -v ncpu="$NPROC" \
    -v others="$((busy1 - busy0 - (ours1 - ours0) - (wrk1 - wrk0)))" 'BEGIN {
      n = split(l, kv, /[ =]/); for (i = 2; i < n; i += 2) v[kv[i]] = kv[i + 1]
      other = others / hz / (t1 - t0) / ncpu * 100; if (other < 0) other = 0
      printf "%d\t%.0f\t%.3f\t%.3f\t%.3f\t%d\t%d\t%.1f\t%d\t%d\t%.0f\t%.0f\n", t, v["requests"] / (v["duration_us"] / 1e6),
        v["p50_us"] / 1000, v["p99_us"] / 1000, v["max_us"] / 1000, v["non2xx"],
        v["connect"] + v["read"] + v["write"] + v["timeout"], rss / 1024, fds, th, dticks / hz / (t1 - t0) * 100, other }')
  printf '%s\n' "$row" >>"$TSV"
  IFS=$'\t' read -r _ rps _ p99 _ non2xx sockerr rss_mib _ _ cpu other <<<"$row"
  log "  ${elapsed}s: $rps req/s, p99 $p99 ms, non-2xx $non2xx, socket errors $sockerr, working set $rss_mib MiB, $fds fds, gateway CPU $cpu%, other CPU $other%"
done
LOAD_AVG=$(cut -d' ' -f1-3 /proc/loadavg)
# Every config change must be served by the end (the registry is polled every 5 s).
EXPECTED_VERSION=$((VERSION0 + CHANGES))
for ((i = 0; i < 50; i++)); do
  VERSION1=$(config_version)
  [[ ${VERSION1:-0} -ge $EXPECTED_VERSION ]] && break
  sleep 0.2
done

# ---- verdict ----------------------------------------------------------------------------------
# Medians over the first minute after warm-up and over the last minute; sums of errors over the run.
read -r BASE_RSS LAST_RSS MAX_RSS BASE_RPS LAST_RPS BASE_P99 LAST_P99 BASE_FDS LAST_FDS REQUESTS ERRORS MEAN_RPS MAX_OTHER <<<"$(
  awk -F'\t' -v w="$WARMUP" -v total="$TOTAL" -v win="$WINDOW" '
    function median(a, n,   i, j, x) { for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    NR == 1 { next }
    { dur = $1 - prev; prev = $1; req += $2 * dur; err += $6 + $7 }
    $1 > w && $1 <= w + 60 { nb++; brss[nb] = $8; brps[nb] = $2; bp99[nb] = $4; bfd[nb] = $9 }
    $1 > total - 60 { nl++; lrss[nl] = $8; lrps[nl] = $2; lp99[nl] = $4; lfd[nl] = $9 }
    $1 > w && $8 > max { max = $8 }
    $12 > maxother { maxother = $12 }
    END { printf "%.1f %.1f %.1f %.0f %.0f %.3f %.3f %.0f %.0f %.0f %d %.0f %.0f\n", median(brss, nb), median(lrss, nl), max,
      median(brps, nb), median(lrps, nl), median(bp99, nb), median(lp99, nl), median(bfd, nb), median(lfd, nl), req, err, req / total,
      maxother }' "$TSV")"
GROWTH=$(awk -v b="$BASE_RSS" -v l="$LAST_RSS" 'BEGIN { printf "%.1f", (l / b - 1) * 100 }')
PASS=1
VERDICT=""
if ((ERRORS == 0)); then VERDICT+="- errors: 0 (non-2xx answers and socket errors over the whole run, warm-up included): met"$'\n'
else VERDICT+="- errors: $ERRORS (non-2xx answers and socket errors; budget 0): NOT met"$'\n'; PASS=0; fi
if ((CHURN)); then
  if ((VERSION1 == EXPECTED_VERSION)); then
    VERDICT+="- config changes: $CHANGES published through the management API under load (one per window), served version $VERSION0 -> $VERSION1: met"$'\n'
  else
    VERDICT+="- config changes: $CHANGES published, served version $VERSION0 -> ${VERSION1:-none} (expected $EXPECTED_VERSION): NOT met"$'\n'
    PASS=0
  fi
fi
if awk -v g="$GROWTH" -v m="$MAX_GROWTH" 'BEGIN { exit !(g < m) }'; then
  VERDICT+="- working set after warm-up: $BASE_RSS MiB (median, first minute after warm-up) -> $LAST_RSS MiB (median, last minute), ${GROWTH}% (budget < ${MAX_GROWTH}%): met"
else
  VERDICT+="- working set after warm-up: $BASE_RSS MiB -> $LAST_RSS MiB, ${GROWTH}% (budget < ${MAX_GROWTH}%): NOT met"
  PASS=0
fi

# ---- chart ------------------------------------------------------------------------------------
# Four panels over time: requests/s, p99 (ms), working set (MiB), and the other processes' CPU (how noisy
# the machine was); the warm-up shaded.
SVG="$OUT_DIR/soak.svg"
awk -F'\t' -v warm="$WARMUP" -v total="$TOTAL" -v title="Soak: seed policy set on the Standalone host, $(date -u '+%Y-%m-%d %H:%M UTC')" '
  NR == 1 { next }
  { n++; t[n] = $1; v[1, n] = $2; v[2, n] = $4; v[3, n] = $8; v[4, n] = $12; for (p = 1; p <= 4; p++) if (v[p, n] > top[p]) top[p] = v[p, n] }
  END {
    W = 760; L = 70; R = 20; PH = 150; GAP = 45; T = 40
    name[1] = "requests/s"; name[2] = "p99 latency (ms)"; name[3] = "working set (MiB)"
    name[4] = "CPU used by other processes (% of the machine): noise, not the gateway"; top[4] = top[4] < 20 ? 20 : top[4]
    H = T + 4 * (PH + GAP)
    printf "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" font-size=\"12\">\n", W, H
    printf "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
    printf "<text x=\"%d\" y=\"22\" font-size=\"14\">%s</text>\n", L, title
    pw = W - L - R
    for (p = 1; p <= 4; p++) {
      y0 = T + (p - 1) * (PH + GAP) + 15; max = top[p] * 1.15; if (max <= 0) max = 1
      printf "<text x=\"%d\" y=\"%d\">%s</text>\n", L, y0 - 4, name[p]
      printf "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"#eeeeee\"/>\n", L, y0, warm / total * pw, PH
      printf "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#888\"/>\n", L, y0, pw, PH
      for (g = 0; g <= 4; g++) {
        gy = y0 + PH - g / 4 * PH
        printf "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>", L, L + pw, gy, gy
        printf "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", L - 6, gy + 4, (max < 10 ? sprintf("%.1f", g / 4 * max) : sprintf("%.0f", g / 4 * max))
      }
      printf "<polyline fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"1.6\" points=\""
      for (i = 1; i <= n; i++) printf "%.1f,%.1f ", L + t[i] / total * pw, y0 + PH - v[p, i] / max * PH
      printf "\"/>\n"
      for (s = 0; s <= total; s += 60) printf "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" fill=\"#555\">%d</text>\n", L + s / total * pw, y0 + PH + 14, s / 60
    }
    printf "<text x=\"%d\" y=\"%d\" fill=\"#555\">minutes (shaded: warm-up, not in the growth baseline)</text>\n", L, H - 8
    printf "</svg>\n"
  }' "$TSV" >"$SVG"

# ---- report -----------------------------------------------------------------------------------
CPU_MODEL=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
REPORT="$OUT_DIR/soak.md"
{
  echo "# Soak"
  echo
  echo "Run $(date -u '+%Y-%m-%d %H:%M UTC') with \`$COMMAND\`; git $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)."
  echo
  echo "![requests/s, p99 and working set over time](soak.svg)"
  echo
  echo "$VERDICT"
  echo
  echo "| | first minute after warm-up (median) | last minute (median) |"
  echo "|---|---|---|"
  echo "| requests/s | $BASE_RPS | $LAST_RPS |"
  echo "| p99 (ms) | $BASE_P99 | $LAST_P99 |"
  echo "| working set (MiB) | $BASE_RSS | $LAST_RSS |"
  echo "| open file descriptors | $BASE_FDS | $LAST_FDS |"
  echo
  echo "$REQUESTS requests in ${TOTAL}s ($MEAN_RPS req/s on average); highest working set after warm-up $MAX_RSS MiB, $((RSS0 / 1024)) MiB before the load. One row per ${WINDOW}s window in [soak.tsv](soak.tsv). Other processes used at most ${MAX_OTHER}% of the machine's CPU in a window (the chart's last panel: how much of a dip other work on the machine can explain)."
  echo
  echo "## Setup"
  echo
  echo "- gateway: the Standalone host (\`dotnet publish -c Release\`), one service, route \`/\`, with the seed's policy set on the service: \`jwt\` (HS256, one consumer, the same valid token on every request), \`rate-limiting\` (\`policy: redis\` = our distributed policy by consumer, \`minute: 100000000\` so that requests are admitted; counters synced to Table Storage every second) and \`correlation-id\`; registry and counters in Azurite (in memory)"
  if ((CHURN)); then
    echo "- config: imported through \`POST /_gateway/config\` into the registry in Azurite; after every window a \`PATCH /_gateway/services/backend\` (\`read_timeout\` alternating 60000/60001) publishes a new version, which the gateway compiles and swaps in under load"
  fi
  echo "- load: wrk, closed loop, \`-t$THREADS -c$CONNECTIONS --timeout 5s\`, \`GET /api/hello\` (95-byte JSON from bench/Backend), back to back in ${WINDOW}s runs; first ${WARMUP}s = warm-up"
  echo "- working set: VmRSS of the gateway process after each window; file descriptors: entries of /proc/PID/fd"
  echo "- layout: $LAYOUT"
  echo "- machine: $NPROC CPUs ($CPU_MODEL), kernel $(uname -r), .NET SDK $(dotnet --version 2>/dev/null || echo unknown); load average at the end $LOAD_AVG"
} >"$REPORT"
log "wrote $REPORT, $TSV and $SVG"
printf '%s\n' "$VERDICT"
((PASS)) || die "the soak did not meet its budgets (see $REPORT)"
