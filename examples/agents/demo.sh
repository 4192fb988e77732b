#!/usr/bin/env bash
# Shows issue 4 to a person, with real processes on this machine:
#   1. a control plane and three agent "clouds" on 127.0.1.1, 127.0.2.1, 127.0.3.1
#      (the second reports arm64), each serving the shop's ports on its address;
#   2. the shop (examples/agents/shop.yaml) placed over the three clouds, and
#      answering HTTP on every agent address;
#   3. kill -9 of one cloud (its agent and replicas): the replicas come back on
#      the other clouds after the grace period;
#   4. the cloud returns: after the stabilisation window the replicas fail back.
# Everything runs on loopback; on exit it stops what it started (its process
# groups and the replicas its agents recorded) and nothing else. Run from anywhere:
#   bash examples/agents/demo.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
NODE=node_modules/.bin/node
[ -x "$NODE" ] || { echo "run 'npm ci' first" >&2; exit 1; }
PORT=${PORT:-7181}
GRACE=${GRACE:-5}
DIR=$(mktemp -d -t yunjian-demo-XXXXXX)
# Process groups this script started with setsid (the control plane and the
# agents). Replicas are process groups of their own, started by the agents, who
# record each one (pid and /proc start time) in their data directory's
# processes.json. Cleanup signals only these groups: nothing else on the
# machine, whoever runs it.
STARTED=()
start_time() { # field 22 of /proc/PID/stat, counted after the parenthesised command name
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  # shellcheck disable=SC2086 # split on purpose: one word per field
  set -- ${stat##*) }
  echo "${20:-}"
}
recorded_replicas() { # "pid startTime" per replica group the agents recorded
  local f
  for f in "$DIR"/agent-*/processes.json; do
    [ -f "$f" ] || continue
    "$NODE" -e 'for (const p of JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")))
      console.log(p.pid, p.startTime ?? "")' "$f" 2>/dev/null || true
  done
}
alive() { # any of these process groups still has a member
  local g
  for g; do kill -0 -- "-$g" 2>/dev/null && return 0; done
  return 1
}
cleanup() {
  trap - EXIT INT TERM
  local pid start g i
  local replicas=() starts=()
  # Read before the agents stop: an agent that stops cleanly empties its list.
  while read -r pid start; do
    [ -n "$pid" ] && [ -n "$start" ] && [ "$(start_time "$pid")" = "$start" ] || continue
    replicas+=("$pid")
    starts+=("$start")
  done < <(recorded_replicas)
  for g in "${STARTED[@]}"; do kill -TERM -- "-$g" 2>/dev/null || true; done
  # An agent stops its replicas on SIGTERM (SIGKILL after a 3 s grace): wait that long.
  local deadline=$((SECONDS + 5))
  while alive "${STARTED[@]}" "${replicas[@]}" && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  for g in "${STARTED[@]}"; do kill -KILL -- "-$g" 2>/dev/null || true; done
  for i in "${!replicas[@]}"; do
    # Only while the pid is still the replica recorded, never a process that reused it.
    if [ "$(start_time "${replicas[$i]}")" = "${starts[$i]}" ]; then
      kill -KILL -- "-${replicas[$i]}" 2>/dev/null || true
    fi
  done
  rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
yj() { bin/yunjian "$@"; }
# Reads the shop as JSON and prints what the expression returns.
shop() { yj get app shop -o json | "$NODE" -e "const a=JSON.parse(require('fs').readFileSync(0,'utf8'));console.log(($1)(a))"; }
wait_for() { # wait_for SECONDS DESCRIPTION EXPRESSION
  local deadline=$((SECONDS + $1))
  until [ "$(shop "$3" 2>/dev/null)" = "true" ]; do
    [ $SECONDS -lt $deadline ] || { echo "timed out waiting for: $2" >&2; exit 1; }
    sleep 0.5
  done
}

step "control plane on http://127.0.0.1:$PORT (no generated fleet; cluster grace ${GRACE}s)"
setsid bin/yunjian server --port "$PORT" --data "$DIR/server" --fleet none \
  --cluster-grace-seconds "$GRACE" >"$DIR/server.log" 2>&1 &
STARTED+=($!)
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do sleep 0.3; done
export YUNJIAN_SERVER="http://127.0.0.1:$PORT"
YUNJIAN_TOKEN=$(cat "$DIR/server/admin.token")
export YUNJIAN_TOKEN

step "three clouds, a single-use join token for each, three agents"
yj apply -f examples/agents/fleet.yaml
declare -A JOIN
for c in east north west; do JOIN[$c]=$(yj token create --cluster "$c" --ttl 1h --description demo); done
yj token list
# A restarted agent joins with the credential its first join saved in --data; the token is used up.
start_agent() { # cluster site address arch
  setsid bin/yunjian --token "${JOIN[$1]}" agent --cluster "$1" --site "$2" --address "$3" \
    --arch "$4" --cpu 4 --memory 4Gi --data "$DIR/agent-$1" >"$DIR/agent-$1.log" 2>&1 &
  STARTED+=($!)
  eval "AGENT_$1=$!"
}
start_agent east alpha-1 127.0.1.1 amd64
start_agent north beta-1 127.0.2.1 arm64
start_agent west gamma-1 127.0.3.1 amd64
sleep 3
yj get clusters -o wide

step "the shop: three components over three clouds, architecture-aware"
yj apply -f examples/agents/shop.yaml
wait_for 90 "shop Ready" 'a=>a.status?.conditions?.[0]?.status==="True"&&a.status.placements.every(p=>p.endpoints)'
yj get app shop -o wide
step "every agent address answers (real processes behind each agent's ingress)"
for addr in 127.0.1.1 127.0.2.1 127.0.3.1; do
  for port in 18080 18081; do
    printf '%s:%s -> ' "$addr" "$port"
    curl -s --max-time 2 "http://$addr:$port/" || echo "(no $port here: nothing of that component on this cloud)"
  done
done

step "kill -9 of cloud west: its agent and every replica it runs"
WEST_PIDS=$(yj get workloads -o json | "$NODE" -e '
  const l=JSON.parse(require("fs").readFileSync(0,"utf8"));
  console.log(l.items.filter(w=>w.spec.cluster==="west").flatMap(w=>(w.status?.replicas??[]).map(r=>r.pid)).filter(Boolean).join(" "))')
T0=$SECONDS
kill -KILL -- "-$AGENT_west"
for p in $WEST_PIDS; do kill -KILL -- "-$p" 2>/dev/null || true; done
wait_for 60 "replicas off west" 'a=>a.status?.conditions?.[0]?.status==="True"&&!a.status.placements.some(p=>p.cluster==="west"&&!p.draining)'
echo "failed over in $((SECONDS - T0)) s (grace ${GRACE} s)"
yj get app shop -o wide

step "cloud west returns; failback after the stabilisation window (10 s in shop.yaml)"
start_agent west gamma-1 127.0.3.1 amd64
T0=$SECONDS
wait_for 90 "failback to west" 'a=>a.status?.conditions?.[0]?.status==="True"&&!a.status.displaced&&a.status.placements.some(p=>p.cluster==="west"&&p.ready>0)&&a.status.placements.every(p=>!p.draining)'
echo "failed back $((SECONDS - T0)) s after west returned"
yj get app shop -o wide
yj get events
step "done; stopping everything"
