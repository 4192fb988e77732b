#!/usr/bin/env bash
# A local etcd cluster on loopback for the etcd store backend (issue 15):
# Debian's etcd-server (/usr/bin/etcd, v3.4), one process per member, all state
# inside DIR. Used by the store tests and by anyone trying `--store etcd://`.
#
#   scripts/etcd.sh start DIR [--members N] [--base-port P]   start N members (default 1), wait until healthy
#   scripts/etcd.sh stop DIR                                  stop every member started in DIR
#   scripts/etcd.sh endpoints DIR                             print host:port,host:port,... of the members
#   scripts/etcd.sh stop-member DIR I                         kill -9 member I (1-based), keep its data
#   scripts/etcd.sh start-member DIR I                        start member I again with its data
#
# Member I listens for clients on 127.0.0.1:P+2(I-1) and for peers on the port
# after it. Without --base-port a base in 20000-31999 with all 2N ports free is
# picked: below Linux's ephemeral range (32768-60999), so an outgoing
# connection's local port cannot take a member's port between check and bind. DIR holds mI/ (data), mI.pid, mI.cmd (its command line), mI.log and
# `endpoints`. Only the PIDs recorded in DIR are ever signalled, and only while
# /proc says they are still an etcd.
#
# The store backend needs transactions larger than etcd's defaults allow (a
# batch of N writes is one transaction of 2N+1 operations), hence
# --max-txn-ops and --max-request-bytes; run production members with the same.
set -euo pipefail

ETCD="${ETCD_BIN:-/usr/bin/etcd}"

log() { echo "etcd.sh: $*" >&2; }
usage() { sed -n '6,11p' "$0" | sed 's/^# //' >&2; exit 2; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

pick_base() {
  local members=$1 tries base p busy
  for tries in $(seq 1 50); do
    base=$((20000 + (RANDOM % 6000) * 2))
    busy=0
    for p in $(seq "$base" $((base + 2 * members - 1))); do
      if port_in_use "$p"; then busy=1; break; fi
    done
    [ "$busy" = 0 ] && { echo "$base"; return; }
  done
  log "no free port range found"; exit 1
}

# The PID recorded for member I, if that process is alive and still an etcd.
member_pid() {
  local dir=$1 i=$2 pid
  [ -f "$dir/m$i.pid" ] || return 1
  pid=$(cat "$dir/m$i.pid")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--data-dir $dir/m$i " || return 1
  echo "$pid"
}

launch() {
  local dir=$1 i=$2
  # setsid: the member outlives this script and gets no signal meant for the caller's group.
  setsid bash -c "exec $(cat "$dir/m$i.cmd")" >>"$dir/m$i.log" 2>&1 </dev/null &
  echo $! >"$dir/m$i.pid"
}

# Exited (a zombie not yet reaped by whoever adopted it counts as exited).
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }

healthy() { curl -fsS --max-time 2 "http://$1/health" 2>/dev/null | grep -q '"health":"true"'; }

wait_healthy() {
  local dir=$1 deadline=$((SECONDS + ${ETCD_START_TIMEOUT:-30})) ep
  for ep in $(tr ',' ' ' <"$dir/endpoints"); do
    until healthy "$ep"; do
      if [ "$SECONDS" -ge "$deadline" ]; then
        log "etcd at $ep not healthy after ${ETCD_START_TIMEOUT:-30}s; logs in $dir/m*.log"
        return 1
      fi
      sleep 0.2
    done
  done
}

start() {
  local dir=$1; shift
  local members=1 base=""
  while [ $# -gt 0 ]; do
    case $1 in
      --members) members=$2; shift 2 ;;
      --base-port) base=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  [[ $members =~ ^[1-9]$ ]] || { log "--members must be 1 to 9, got $members"; exit 2; }
  [ -x "$ETCD" ] || { log "$ETCD not found (apt-get install etcd-server)"; exit 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  for i in $(seq 1 9); do
    if member_pid "$dir" "$i" >/dev/null; then log "$dir already runs etcd (member $i)"; exit 1; fi
  done
  [ -n "$base" ] || base=$(pick_base "$members")
  local cluster="" endpoints="" i client peer
  for i in $(seq 1 "$members"); do
    peer=$((base + 2 * (i - 1) + 1))
    cluster+="${cluster:+,}m$i=http://127.0.0.1:$peer"
    endpoints+="${endpoints:+,}127.0.0.1:$((base + 2 * (i - 1)))"
  done
  echo "$endpoints" >"$dir/endpoints"
  for i in $(seq 1 "$members"); do
    client=$((base + 2 * (i - 1)))
    peer=$((client + 1))
    echo "$ETCD --name m$i --data-dir $dir/m$i \
--listen-client-urls http://127.0.0.1:$client --advertise-client-urls http://127.0.0.1:$client \
--listen-peer-urls http://127.0.0.1:$peer --initial-advertise-peer-urls http://127.0.0.1:$peer \
--initial-cluster $cluster --initial-cluster-state new --initial-cluster-token yunjian-$base \
--max-txn-ops 20000 --max-request-bytes 33554432 --logger zap --log-outputs stderr" >"$dir/m$i.cmd"
    launch "$dir" "$i"
  done
  if ! wait_healthy "$dir"; then stop "$dir"; exit 1; fi
  cat "$dir/endpoints"
}

stop_member() {
  local dir=$1 i=$2 pid
  if pid=$(member_pid "$dir" "$i"); then
    kill -9 "$pid" 2>/dev/null || true
    until gone "$pid"; do sleep 0.05; done
  fi
  rm -f "$dir/m$i.pid"
}

stop() {
  local dir=$1 i pid
  [ -d "$dir" ] || return 0
  dir=$(cd "$dir" && pwd)
  for i in $(seq 1 9); do
    if pid=$(member_pid "$dir" "$i"); then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do gone "$pid" && break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/m$i.pid"
  done
}

cmd=${1:-}; dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || usage
shift 2
case $cmd in
  start) start "$dir" "$@" ;;
  stop) stop "$dir" ;;
  endpoints) cat "$dir/endpoints" ;;
  stop-member) [ $# -eq 1 ] || usage; stop_member "$(cd "$dir" && pwd)" "$1" ;;
  start-member)
    [ $# -eq 1 ] || usage
    dir=$(cd "$dir" && pwd)
    if member_pid "$dir" "$1" >/dev/null; then log "member $1 already runs"; exit 1; fi
    launch "$dir" "$1"
    ;;
  *) usage ;;
esac
