# Helpers shared by bench/run.sh, bench/ratelimit.sh and bench/soak.sh: logging, starting and stopping
# the processes a run needs, building them, Azurite, and the jwt consumer the gateway targets use.
# Sourced, not run. The sourcing script sets before sourcing:
#   ROOT, WORK      the repository root and bench/.work
#   LOG_NAME        the prefix of its log lines
#   LOGS            where process logs go (created here)
#   STARTUP_TIMEOUT seconds a server may take to answer; BUILD_TIMEOUT seconds per dotnet publish
# and may define cleanup_hook (called first on exit, e.g. to stop a load generator).
# Every wait is bounded; every process started with `start` is stopped on exit, on failure too.

log() { printf '[%s %(%H:%M:%S)T] %s\n' "$LOG_NAME" -1 "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

# ---- cleanup: stop every process group started here -------------------------------------
PIDS=()
START_WRAP=() # a command prefix for the next `start` (e.g. taskset); reset by the caller
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if declare -F cleanup_hook >/dev/null; then cleanup_hook || true; fi
  if ((${#PIDS[@]})); then
    log "stopping ${#PIDS[@]} process(es)"
    local pid
    for pid in "${PIDS[@]}"; do
      # Each process runs in its own session (setsid), so its pid is its process group: this reaches
      # nginx's workers and Azurite's node children too.
      kill -TERM -- "-$pid" 2>/dev/null || true
    done
    local deadline=$((SECONDS + 15)) alive
    while ((SECONDS < deadline)); do
      alive=0
      for pid in "${PIDS[@]}"; do
        if kill -0 -- "-$pid" 2>/dev/null; then alive=1; fi
      done
      ((alive)) || break
      sleep 0.2
    done
    for pid in "${PIDS[@]}"; do
      kill -KILL -- "-$pid" 2>/dev/null || true
    done
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'log "ERROR: unexpected failure at line $LINENO: $BASH_COMMAND"' ERR
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p "$LOGS"

# free_port VAR: sets VAR to a 127.0.0.1 port nobody answers on, below the ephemeral range (32768+)
# that the load generators' and the proxies' client sockets use. Each server is started and ready
# before the next port is chosen, so two servers cannot be handed the same one.
free_port() {
  local port try
  for try in $(seq 1 200); do
    port=$((20000 + RANDOM % 12000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    printf -v "$1" '%s' "$port"
    return 0
  done
  die "no free 127.0.0.1 port found"
}

# start NAME CMD...: runs START_WRAP + CMD in its own session, output to $LOGS/NAME.log; sets PID_NAME.
start() {
  local name=$1
  shift
  "${START_WRAP[@]}" setsid "$@" >"$LOGS/$name.log" 2>&1 </dev/null &
  local pid=$!
  PIDS+=("$pid")
  printf -v "PID_$name" '%s' "$pid"
}

# wait_http NAME URL [curl args...]: polls until URL answers 200, the process dies, or the timeout.
wait_http() {
  local name=$1 url=$2 pid_var="PID_$1" code=000
  shift 2
  local pid=${!pid_var}
  local deadline=$((SECONDS + STARTUP_TIMEOUT))
  while ((SECONDS < deadline)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited before answering; last lines of $LOGS/$name.log:"
      tail -n 30 "$LOGS/$name.log" >&2 || true
      return 1
    fi
    code=$(curl -s -o "$LOGS/$name.probe" -w '%{http_code}' --max-time 2 "$@" "$url" || true)
    [[ $code == 200 ]] && return 0
    sleep 0.3
  done
  log "$name did not answer 200 on $url within ${STARTUP_TIMEOUT}s (last status: $code)"
  if [[ -s $LOGS/$name.probe ]]; then log "last response body: $(head -c 600 "$LOGS/$name.probe")"; fi
  log "last lines of $LOGS/$name.log:"
  tail -n 30 "$LOGS/$name.log" >&2 || true
  return 1
}

# wait_tcp NAME PORT: polls until 127.0.0.1:PORT accepts a connection (bounded).
wait_tcp() {
  local name=$1 port=$2 pid_var="PID_$1"
  local pid=${!pid_var} deadline=$((SECONDS + STARTUP_TIMEOUT))
  while ((SECONDS < deadline)); do
    kill -0 "$pid" 2>/dev/null || { tail -n 30 "$LOGS/$name.log" >&2 || true; return 1; }
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.3
  done
  log "$name did not listen on $port within ${STARTUP_TIMEOUT}s"
  return 1
}

# publish NAME PROJECT: dotnet publish -c Release into $WORK/publish/NAME. A separate artifacts path
# keeps the build out of the projects' own bin/ and obj/.
publish() {
  local name=$1 project=$2
  log "building $name (dotnet publish -c Release)"
  if ! timeout "$BUILD_TIMEOUT" dotnet publish "$project" -c Release --nologo --disable-build-servers \
    --artifacts-path "$WORK/artifacts" -o "$WORK/publish/$name" >"$LOGS/build-$name.log" 2>&1; then
    log "build of $name failed; last lines of $LOGS/build-$name.log:"
    grep -E 'error|Error' "$LOGS/build-$name.log" | tail -n 20 >&2 || tail -n 20 "$LOGS/build-$name.log" >&2
    return 1
  fi
}

# The same environment for every .NET process: Production, no per-request logging, nothing inherited
# that could switch the gateway to storage.
DOTNET_ENV=(env -u GatewayStorage -u DOTNET_ENVIRONMENT
  ASPNETCORE_ENVIRONMENT=Production
  Logging__LogLevel__Default=Warning
  Logging__LogLevel__Microsoft.Hosting.Lifetime=Warning
  DOTNET_CLI_TELEMETRY_OPTOUT=1)

# ---- CPU accounting, in clock ticks ---------------------------------------------------------
# The proxy's own CPU per request is the least noisy efficiency figure on a shared machine; "other CPU"
# (everything that is neither a process started here nor the load generator, e.g. a build running
# beside the benchmark) says how noisy a run was.
CLK_TCK=$(getconf CLK_TCK)
NPROC=$(nproc)
group_ticks() { # utime+stime of every process in process group $1
  # Processes come and go while the glob is read (a build beside the benchmark): ignore those.
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v g="$1" '{ sub(/^.*\) /, ""); if ($3 == g) s += $12 + $13 } END { print s + 0 }'
}
our_ticks() { # utime+stime of every process group started here (PIDS)
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v groups=" ${PIDS[*]} " '{
    sub(/^.*\) /, ""); if (index(groups, " " $3 " ")) s += $12 + $13 } END { print s + 0 }'
}
machine_ticks() { # task ticks of all CPUs (user nice system; irq and softirq are charged to no task) and steal
  awk '$1 == "cpu" { print $2 + $3 + $4, $9 }' /proc/stat
}
children_ticks() { # sets CHILD_TICKS: CPU of this shell's finished children (the load generator), from `times`
  # Not in $(...): a subshell's `times` starts from zero.
  times >"$WORK/times.txt"
  CHILD_TICKS=$(awk -v hz="$CLK_TCK" 'NR == 2 {
    split($1, u, /[ms]/); split($2, s, /[ms]/)
    printf "%.0f", ((u[1] * 60 + u[2]) + (s[1] * 60 + s[2])) * hz }' "$WORK/times.txt")
}

# ---- Azurite ------------------------------------------------------------------------------
AZURITE="$ROOT/node_modules/.bin/azurite-table"
AZURITE_ACCOUNT_KEY="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==" # Azurite's public development key

# start_azurite: installs Azurite when absent (npm ci, as test.sh does), starts it in memory on a free
# loopback port with the flags of tests/.../AzuriteServer.cs, and sets AZURITE_PORT and AZURITE_STORAGE
# (the GatewayStorage connection string).
start_azurite() {
  if [[ ! -x $AZURITE ]]; then
    command -v npm >/dev/null 2>&1 || die "npm is not on PATH (needed for Azurite: npm ci)"
    log "installing Azurite (npm ci)"
    (cd "$ROOT" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) >"$LOGS/npm-ci.log" 2>&1 ||
      die "npm ci failed (see $LOGS/npm-ci.log)"
  fi
  free_port AZURITE_PORT
  start azurite "$AZURITE" --inMemoryPersistence --tableHost 127.0.0.1 --tablePort "$AZURITE_PORT" \
    --skipApiVersionCheck --disableProductStyleUrl --loose --disableTelemetry --silent
  wait_tcp azurite "$AZURITE_PORT" || die "Azurite did not start (see $LOGS/azurite.log)"
  AZURITE_STORAGE="DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$AZURITE_ACCOUNT_KEY;TableEndpoint=http://127.0.0.1:$AZURITE_PORT/devstoreaccount1;"
}

# ---- the jwt consumer -------------------------------------------------------------------
# make_jwt: Kong's jwt plugin with one HS256 credential. Sets JWT_TOKEN (valid for a day) and
# JWT_CONSUMER (the consumers: block of the Kong YAML). Every request carries the same token, so the
# gateway answers it from its validated-token cache (a SHA-256 and a lookup), as repeat clients see it.
make_jwt() {
  local secret head body sig
  secret=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
  b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
  head=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
  body=$(printf '{"iss":"bench-key","sub":"bench","exp":%d}' $(($(date +%s) + 86400)) | b64url)
  sig=$(printf '%s.%s' "$head" "$body" | openssl dgst -sha256 -hmac "$secret" -binary | b64url)
  JWT_TOKEN="$head.$body.$sig"
  JWT_CONSUMER="consumers:
- username: bench
  jwt_secrets:
  - key: bench-key
    algorithm: HS256
    secret: \"$secret\""
}

# seed_plugins: the seed config's policy set (examples/seed-kong.yaml) as a service's plugins: block
# (indented for the first service of a services: list): jwt, rate-limiting with policy redis (our distributed policy:
# counted in memory, synced to Table Storage every second) by consumer, and correlation-id. The limit is
# raised from the seed's 1000/minute so that requests are admitted (a 429 is cheaper than a proxied
# request); the counting path is the same.
seed_plugins() {
  cat <<'YAML'
  plugins:
  - name: jwt
    config:
      claims_to_verify: [exp]
  - name: rate-limiting
    config:
      minute: 100000000
      policy: redis
  - name: correlation-id
YAML
}

# write_wrk_report FILE: a wrk script whose done() hook prints exact figures (microseconds) as one
# "BENCH key=value ..." line next to wrk's usual --latency report.
write_wrk_report() {
  cat >"$1" <<'EOF'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
EOF
}
