#!/usr/bin/env bash
# One command to run the gateway locally (needs the .NET SDK and Node.js with npm):
#   1. installs the npm packages when missing (Azurite);
#   2. starts Azurite (blob, queue, table on 127.0.0.1:10000-10002, data in .local/azurite),
#      or reuses an Azurite already listening there;
#   3. starts the demo backend (samples/demo-backend.mjs, 127.0.0.1:9080);
#   4. starts the gateway: the Azure Functions app with `func start` when Azure Functions Core Tools
#      are installed, else the Standalone host (Kestrel), on 127.0.0.1:$GATEWAY_PORT (default 8000);
#   5. waits for GET /_gateway/health, loads samples/kong.yaml through the management API and prints
#      the first requests to try.
# Ctrl+C stops everything this script started. Logs: .local/logs/.
#
# Environment: GATEWAY_PORT (default 8000), GATEWAY_START_TIMEOUT seconds (default 300; the first
# run builds the solution), RUN_LOCAL_HOST=standalone to use the Standalone host even where `func`
# is installed.
set -euo pipefail
set -m # every background job gets its own process group, so cleanup can stop a whole tree

cd "$(dirname "$0")"

readonly GATEWAY_PORT="${GATEWAY_PORT:-8000}"
readonly GATEWAY_START_TIMEOUT="${GATEWAY_START_TIMEOUT:-300}"
readonly DEMO_PORT=9080 # fixed: samples/kong.yaml points the demo service at it
readonly GATEWAY="http://127.0.0.1:${GATEWAY_PORT}"
readonly STATE_DIR=".local"
readonly LOG_DIR="${STATE_DIR}/logs"
readonly FUNCTIONS_DIR="src/ServerlessGateway.Functions"

started_pids=()
started_names=()

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
warn() { printf '\033[33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[31merror:\033[0m %s\n' "$*" >&2; exit 1; }

cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  set +m # no job-status chatter while stopping
  if ((${#started_pids[@]} > 0)); then
    say "stopping what run-local.sh started"
    local i pid
    for ((i = ${#started_pids[@]} - 1; i >= 0; i--)); do
      pid=${started_pids[i]}
      # The job's process group holds its children too (dotnet run's app, func's host and worker).
      kill -TERM -- "-${pid}" 2>/dev/null || kill -TERM "${pid}" 2>/dev/null || true
    done
    local deadline=$((SECONDS + 15))
    for pid in "${started_pids[@]}"; do
      while kill -0 -- "-${pid}" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
      kill -KILL -- "-${pid}" 2>/dev/null || true
    done
  fi
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# start NAME LOGFILE COMMAND... : runs a command in the background, logging to a file.
start() {
  local name=$1 log=$2
  shift 2
  "$@" >"${log}" 2>&1 &
  started_pids+=("$!")
  started_names+=("${name}")
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# server_header PORT: the Server header of an HTTP answer on 127.0.0.1:PORT (empty if none).
server_header() {
  curl -s -m 3 -D - -o /dev/null "http://127.0.0.1:$1/" 2>/dev/null | tr -d '\r' | sed -n 's/^[Ss]erver: //p' | head -n1
}

wait_for_port() {
  local port=$1 what=$2 deadline=$((SECONDS + 30))
  until port_open "${port}"; do
    ((SECONDS < deadline)) || die "${what} did not listen on 127.0.0.1:${port} within 30 s (see ${LOG_DIR})"
    sleep 0.2
  done
}

# settings_value FILE KEY: a value from a local.settings(.sample).json "Values" object.
settings_value() {
  node -e 'const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); process.stdout.write(String(s.Values?.[process.argv[2]] ?? ""));' "$1" "$2"
}

# --- prerequisites -------------------------------------------------------------------------------
command -v dotnet >/dev/null || die "the .NET SDK is not installed (https://dot.net); global.json pins the version"
dotnet --version >/dev/null 2>&1 || die "the .NET SDK that global.json asks for is not installed ($(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' global.json))"
command -v node >/dev/null || die "Node.js is not installed (https://nodejs.org, version 20 or later)"
command -v npm >/dev/null || die "npm is not installed (it comes with Node.js)"
command -v curl >/dev/null || die "curl is not installed"

mkdir -p "${STATE_DIR}/azurite" "${LOG_DIR}"
# Everything under .local/ is machine-local state: keep it out of git without touching .gitignore.
[[ -f "${STATE_DIR}/.gitignore" ]] || printf '*\n' >"${STATE_DIR}/.gitignore"

if [[ ! -d node_modules || ! -x node_modules/.bin/azurite-table ]]; then
  say "installing npm packages (Azurite)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- Azurite -------------------------------------------------------------------------------------
# The Functions host keeps its own state in blob and queue storage (AzureWebJobsStorage); the
# gateway's registry lives in tables (GatewayStorage). Each service already answering as Azurite on
# its default port is reused, any other listener there is an error, a free port gets its service.
azurite_started=()
azurite_reused=()
for service in blob:10000 queue:10001 table:10002; do
  name=${service%%:*} port=${service##*:}
  if port_open "${port}"; then
    header=$(server_header "${port}")
    if [[ $(printf '%s' "${header}" | tr '[:upper:]' '[:lower:]') == azurite-${name}* ]]; then
      azurite_reused+=("${name}")
      continue
    fi
    die "port ${port} (Azurite ${name}) is taken by something that is not Azurite${header:+ (Server: ${header})}"
  fi
  start "azurite-${name}" "${LOG_DIR}/azurite-${name}.log" \
    "node_modules/.bin/azurite-${name}" "--${name}Host" 127.0.0.1 "--${name}Port" "${port}" \
    --location "${STATE_DIR}/azurite" --skipApiVersionCheck --loose --disableTelemetry
  azurite_started+=("${name}")
done
for service in blob:10000 queue:10001 table:10002; do
  wait_for_port "${service##*:}" "Azurite ${service%%:*}"
done
((${#azurite_reused[@]} == 0)) || say "reusing the Azurite already running (${azurite_reused[*]})"
((${#azurite_started[@]} == 0)) || say "started Azurite (${azurite_started[*]}) on 127.0.0.1:10000-10002, data in ${STATE_DIR}/azurite"

# --- demo backend --------------------------------------------------------------------------------
if port_open "${DEMO_PORT}"; then
  curl -s -m 3 "http://127.0.0.1:${DEMO_PORT}/" | grep -q '"backend": "demo-backend"' \
    || die "port ${DEMO_PORT} is taken by something other than the demo backend (samples/kong.yaml points there)"
  say "reusing the demo backend already running on 127.0.0.1:${DEMO_PORT}"
else
  start demo-backend "${LOG_DIR}/demo-backend.log" node samples/demo-backend.mjs "${DEMO_PORT}"
  wait_for_port "${DEMO_PORT}" "the demo backend"
  say "started the demo backend on 127.0.0.1:${DEMO_PORT}"
fi

# --- gateway -------------------------------------------------------------------------------------
port_open "${GATEWAY_PORT}" && die "port ${GATEWAY_PORT} is taken; set GATEWAY_PORT to a free port"

if command -v func >/dev/null && [[ ${RUN_LOCAL_HOST:-} != standalone ]]; then
  host_name="Azure Functions host (func start)"
  settings="${FUNCTIONS_DIR}/local.settings.json"
  if [[ ! -f ${settings} ]]; then
    # A fresh secrets key per machine, kept in the (git-ignored) local.settings.json so stored HMAC
    # secrets keep decrypting across runs; the Functions host never invents one itself.
    node -e '
      const fs = require("fs"), crypto = require("crypto");
      const s = JSON.parse(fs.readFileSync("local.settings.sample.json", "utf8"));
      if (!s.Values.Gateway__Secrets__Key) s.Values.Gateway__Secrets__Key = crypto.randomBytes(32).toString("base64");
      fs.writeFileSync(process.argv[1], JSON.stringify(s, null, 2) + "\n");' "${settings}"
    say "created ${settings} from local.settings.sample.json"
  fi
  admin_key=$(settings_value "${settings}" Gateway__Admin__Keys__0)
  say "starting the gateway on the ${host_name}, ${GATEWAY} (builds first; log: ${LOG_DIR}/gateway.log)"
  warn "func start listens on all network interfaces (Core Tools have no option for loopback only); the admin API still requires the admin key"
  # shellcheck disable=SC2016 # $1 and $2 belong to the inner bash
  start gateway "${LOG_DIR}/gateway.log" bash -c 'cd "$1" && exec func start --port "$2"' _ "${FUNCTIONS_DIR}" "${GATEWAY_PORT}"
else
  host_name="Standalone host (Kestrel)"
  admin_key=$(settings_value local.settings.sample.json Gateway__Admin__Keys__0)
  if command -v func >/dev/null; then
    say "RUN_LOCAL_HOST=standalone: using the Standalone host although Azure Functions Core Tools are installed"
  else
    say "Azure Functions Core Tools (func) are not installed: using the Standalone host, the same gateway on Kestrel"
  fi
  say "starting the gateway on the ${host_name}, ${GATEWAY} (builds first; log: ${LOG_DIR}/gateway.log)"
  start gateway "${LOG_DIR}/gateway.log" env \
    GatewayStorage=UseDevelopmentStorage=true \
    Gateway__Admin__Keys__0="${admin_key}" \
    dotnet run --project src/ServerlessGateway.Standalone -- --urls "${GATEWAY}"
fi
[[ -n ${admin_key} ]] || die "no Gateway__Admin__Keys__0 in the local settings"
gateway_pid=${started_pids[${#started_pids[@]} - 1]}

# Any answer from health means the gateway is serving (503 only says no config is loaded yet).
deadline=$((SECONDS + GATEWAY_START_TIMEOUT))
until code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "${GATEWAY}/_gateway/health") && [[ ${code} != 000 ]]; do
  if ! kill -0 "${gateway_pid}" 2>/dev/null; then
    tail -n 40 "${LOG_DIR}/gateway.log" >&2 || true
    die "the gateway exited before it answered (log above: ${LOG_DIR}/gateway.log)"
  fi
  ((SECONDS < deadline)) || die "the gateway did not answer GET /_gateway/health within ${GATEWAY_START_TIMEOUT} s (log: ${LOG_DIR}/gateway.log)"
  sleep 1
done
say "the gateway answers: GET /_gateway/health -> ${code}"

# --- sample config -------------------------------------------------------------------------------
load_config() { # load_config QUERY OUTFILE: POSTs samples/kong.yaml, prints the status code
  curl -s -m 30 -o "$2" -w '%{http_code}' -X POST "${GATEWAY}/_gateway/config$1" \
    -H "X-Gateway-Admin-Key: ${admin_key}" -H 'Content-Type: application/yaml' --data-binary @samples/kong.yaml || true
}
# A dry run first: with Azurite keeping the registry between runs, an unchanged file needs no new version.
code=$(load_config '?dry_run=true' "${LOG_DIR}/config-dry-run.json")
if [[ ${code} == 200 ]] && node -e 'process.exit(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).changes?.length === 0 ? 0 : 1)' "${LOG_DIR}/config-dry-run.json" 2>/dev/null; then
  say "samples/kong.yaml is already the current config (POST /_gateway/config?dry_run=true: no changes)"
else
  code=$(load_config '' "${LOG_DIR}/config-load.json")
  if [[ ${code} == 2?? ]]; then
    say "loaded samples/kong.yaml: POST /_gateway/config -> ${code}"
  else
    warn "loading samples/kong.yaml failed: POST /_gateway/config -> ${code}: $(head -c 600 "${LOG_DIR}/config-load.json" 2>/dev/null)"
  fi
fi
# The registry is polled (Gateway__ConfigRefreshSeconds, 5 s by default): wait until the route serves.
deadline=$((SECONDS + 15))
until [[ $(curl -s -m 5 -o /dev/null -w '%{http_code}' "${GATEWAY}/demo/hello") == 200 ]] || ((SECONDS >= deadline)); do sleep 0.5; done
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "${GATEWAY}/demo/hello") || code=000
if [[ ${code} == 200 ]]; then
  say "proxying works: GET /demo/hello -> 200 from the demo backend"
else
  warn "GET /demo/hello -> ${code} (expected 200 from the demo backend; log: ${LOG_DIR}/gateway.log)"
fi

cat <<EOF

  ServerlessGateway is running on the ${host_name}: ${GATEWAY}
  demo backend: http://127.0.0.1:${DEMO_PORT}    Azurite: 127.0.0.1:10000-10002    logs: ${LOG_DIR}/

  Try:
    curl -i ${GATEWAY}/demo/hello                      # proxied to the demo backend as /hello
    curl -i ${GATEWAY}/api/users/42                    # proxied unchanged (GET and POST only)
    curl -i ${GATEWAY}/_gateway/health                 # health, anonymous
    curl -s -H 'X-Gateway-Admin-Key: ${admin_key}' ${GATEWAY}/_gateway/config     # export the config (Kong format)
    curl -s -H 'X-Gateway-Admin-Key: ${admin_key}' ${GATEWAY}/_gateway/services   # list services

  Ctrl+C stops everything run-local.sh started.
EOF

# Stay in the foreground until Ctrl+C, or until the gateway exits on its own.
wait "${gateway_pid}" || true
warn "the gateway exited (log: ${LOG_DIR}/gateway.log)"
