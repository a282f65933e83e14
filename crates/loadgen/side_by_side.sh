#!/usr/bin/env bash
# Sign-in throughput, one server at a time on this machine: cognate (password and SRP),
# cognito-local and moto (password). Each server gets a fresh data dir on a free port on
# 127.0.0.1, runs alone, and is stopped (SIGTERM, then SIGKILL) before the next one starts.
#
#   crates/loadgen/side_by_side.sh [extra cognate-loadgen args, e.g. --seconds 10 --concurrency 16]
#
# Environment: TARGET (cargo target dir, default /tmp/target-bench), SERVERS (default
# "cognate cognito-local moto"), NO_BUILD=1 to reuse existing binaries.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
TARGET="${TARGET:-/tmp/target-bench}"
SERVERS="${SERVERS:-cognate cognito-local moto}"
PEERS="$REPO/bench/.peers"
LOADGEN="$TARGET/release/cognate-loadgen"
COGNATE="$TARGET/release/cognate"

if [[ -z "${NO_BUILD:-}" ]]; then
  (cd "$REPO" && CARGO_TARGET_DIR="$TARGET" cargo build --release -q -p cognate-server --bin cognate -p cognate-loadgen)
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_up() { # port pid
  for _ in $(seq 1 600); do
    if curl -s -o /dev/null -X POST "http://127.0.0.1:$1/" \
         -H 'Content-Type: application/x-amz-json-1.1' \
         -H 'X-Amz-Target: AWSCognitoIdentityProviderService.ListUserPools' \
         -H 'Authorization: AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/cognito-idp/aws4_request, SignedHeaders=host, Signature=00' \
         -d '{"MaxResults": 10}'; then return 0; fi
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

SERVER_PID=""
stop_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  kill -TERM -- "-$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap stop_server EXIT

start_server() { # name workdir port
  local name=$1 work=$2 port=$3
  case "$name" in
    cognate)
      COGNATE_LOG=warn setsid "$COGNATE" serve --listen "127.0.0.1:$port" --data-dir "$work/data" >"$work/server.log" 2>&1 & ;;
    cognito-local)
      (cd "$work" && PORT=$port HOST=127.0.0.1 exec setsid node "$PEERS/node/node_modules/cognito-local/lib/bin/start.js") >"$work/server.log" 2>&1 & ;;
    moto)
      (cd "$work" && exec setsid "$PEERS/venv/bin/moto_server" -H 127.0.0.1 -p "$port") >"$work/server.log" 2>&1 & ;;
    *) echo "unknown server $name" >&2; return 1 ;;
  esac
  SERVER_PID=$!
  wait_up "$port" "$SERVER_PID" || { echo "$name did not start; log:" >&2; tail -20 "$work/server.log" >&2; return 1; }
}

run() { # name flow [args...]
  local name=$1 flow=$2; shift 2
  local work port
  work="$(mktemp -d /tmp/loadgen-XXXXXX)"
  port="$(free_port)"
  start_server "$name" "$work" "$port"
  echo "== $name / $flow (load $(cut -d' ' -f1 /proc/loadavg))"
  "$LOADGEN" --url "http://127.0.0.1:$port" --label "$name" --flow "$flow" --server-pid "$SERVER_PID" "$@" || true
  stop_server
  rm -rf "$work"
}

for s in $SERVERS; do
  run "$s" password "$@"
  if [[ "$s" == cognate ]]; then run cognate srp "$@"; fi
done
