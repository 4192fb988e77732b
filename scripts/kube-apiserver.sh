#!/usr/bin/env bash
# Build and run a real kube-apiserver (v1.20, from Debian's `kubernetes` source
# package) against Debian's etcd-server, on loopback only. Used by the
# kubernetes driver's integration tests and by anyone trying `cluster join`
# without a managed Kubernetes at hand.
#
#   scripts/kube-apiserver.sh build            build once; print the binary path
#   scripts/kube-apiserver.sh path             print the cached binary path (exit 1 if absent)
#   scripts/kube-apiserver.sh start DIR [what] start etcd and/or kube-apiserver (what: all|etcd|apiserver)
#   scripts/kube-apiserver.sh stop DIR [what]  stop them (what: all|etcd|apiserver)
#
# The binary is cached outside the repository in
# ${YUNJIAN_CACHE:-$HOME/.cache/yunjian}/kubernetes/bin and reused when present,
# so CI pays the ~5 minute build once per cache. `start` reads the ports from
# ETCD_PORT, ETCD_PEER_PORT and KUBE_PORT (defaults 23790, 23800, 26443) and
# writes DIR/kubeconfig (user "admin", token in DIR/token).
set -euo pipefail

CACHE="${YUNJIAN_CACHE:-$HOME/.cache/yunjian}/kubernetes"
BIN="$CACHE/bin/kube-apiserver"

log() { echo "kube-apiserver.sh: $*" >&2; }

ensure_deb_src() {
  # deb-src for the same suites as the configured deb entries (deb822 or one-line format).
  if apt-get source --print-uris kubernetes >/dev/null 2>&1; then return; fi
  local changed=0 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    if grep -q '^Types: deb$' "$f"; then
      sed -i 's/^Types: deb$/Types: deb deb-src/' "$f"
      changed=1
    fi
  done
  if [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list \
    && ! grep -q '^deb-src ' /etc/apt/sources.list; then
    grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' >>/etc/apt/sources.list
    changed=1
  fi
  [ "$changed" = 1 ] || { log "no deb entries to mirror as deb-src"; exit 1; }
  apt-get update -qq
}

build() {
  if [ -x "$BIN" ]; then echo "$BIN"; return; fi
  for tool in go rsync; do
    command -v "$tool" >/dev/null || { log "missing $tool (apt-get install golang-go rsync)"; exit 1; }
  done
  mkdir -p "$CACHE"
  local src
  src=$(find "$CACHE" -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)
  if [ -z "$src" ]; then
    ensure_deb_src
    log "fetching Debian's kubernetes source package into $CACHE"
    (cd "$CACHE" && apt-get source -qq kubernetes >&2)
    src=$(find "$CACHE" -maxdepth 1 -type d -name 'kubernetes-*' | head -n1)
  fi
  log "building kube-apiserver in $src (GOPATH mode, offline; ~5 min on 2 cores)"
  # Same environment as debian/rules: GOPATH inside the tree with k8s.io/kubernetes
  # linked to it; hack/lib/init.sh forces GO111MODULE=off so vendor/ is used.
  mkdir -p "$src/.go/src/k8s.io"
  [ -L "$src/.go/src/k8s.io/kubernetes" ] || ln -s ../../.. "$src/.go/src/k8s.io/kubernetes"
  (cd "$src" && GOPATH="$src/.go" CGO_ENABLED=0 GOPROXY=off GOFLAGS=-mod=vendor \
    make WHAT=cmd/kube-apiserver >&2)
  mkdir -p "$CACHE/bin"
  install -m 0755 "$src/_output/bin/kube-apiserver" "$BIN.tmp"
  mv "$BIN.tmp" "$BIN"
  echo "$BIN"
}

# Credentials, keys and certificates, made once per DIR (kept across restarts
# so a stopped and restarted API server is the same cluster to its clients).
prepare() {
  local dir="$1"
  mkdir -p "$dir"
  chmod 700 "$dir"
  [ -f "$dir/token" ] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/token"
  [ -f "$dir/tokens.csv" ] || echo "$(cat "$dir/token"),admin,admin,system:masters" >"$dir/tokens.csv"
  [ -f "$dir/sa.key" ] || openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
  [ -f "$dir/sa.pub" ] || openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
  if [ ! -f "$dir/serving.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=kube-apiserver" \
      -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
      -keyout "$dir/serving.key" -out "$dir/serving.crt" 2>/dev/null
  fi
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start_etcd() {
  local dir="$1"
  alive "$dir/etcd.pid" && return
  command -v etcd >/dev/null || { log "missing etcd (apt-get install etcd-server)"; exit 1; }
  setsid etcd --name yunjian-test --data-dir "$dir/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER_PORT" \
    --initial-cluster "yunjian-test=http://127.0.0.1:$ETCD_PEER_PORT" \
    --listen-metrics-urls "" --quota-backend-bytes $((512 * 1024 * 1024)) \
    >"$dir/etcd.out" 2>&1 </dev/null &
  echo $! >"$dir/etcd.pid"
  echo "$ETCD_PORT" >"$dir/etcd.port"
  wait_for "etcd" "$dir/etcd.pid" "$dir/etcd.out" curl -fsS "http://127.0.0.1:$ETCD_PORT/health"
}

start_apiserver() {
  local dir="$1" bin
  alive "$dir/apiserver.pid" && return
  bin=$(build)
  local etcd_port
  etcd_port=$(cat "$dir/etcd.port")
  # No kubelets, no admission plugins that wait for controllers (ServiceAccount
  # would reject pods without a token controller): the tests play those parts.
  setsid "$bin" --etcd-servers "http://127.0.0.1:$etcd_port" \
    --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$KUBE_PORT" \
    --tls-cert-file "$dir/serving.crt" --tls-private-key-file "$dir/serving.key" \
    --token-auth-file "$dir/tokens.csv" --authorization-mode AlwaysAllow \
    --service-account-key-file "$dir/sa.pub" --service-account-signing-key-file "$dir/sa.key" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-cluster-ip-range 10.96.0.0/16 --disable-admission-plugins ServiceAccount \
    --enable-priority-and-fairness=false --watch-cache=true --profiling=false \
    --cert-dir "$dir/certs" --v 0 \
    >"$dir/apiserver.out" 2>&1 </dev/null &
  echo $! >"$dir/apiserver.pid"
  echo "$KUBE_PORT" >"$dir/apiserver.port"
  wait_for "kube-apiserver" "$dir/apiserver.pid" "$dir/apiserver.out" \
    curl -fsS --cacert "$dir/serving.crt" -H "Authorization: Bearer $(cat "$dir/token")" \
    "https://127.0.0.1:$KUBE_PORT/readyz"
  write_kubeconfig "$dir"
}

wait_for() {
  local what="$1" pidfile="$2" out="$3"
  shift 3
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then return; fi
    if ! alive "$pidfile"; then
      log "$what exited; last output:"
      tail -n 20 "$out" >&2
      exit 1
    fi
    sleep 0.5
  done
  log "$what not ready after 60 s; last output:"
  tail -n 20 "$out" >&2
  exit 1
}

write_kubeconfig() {
  local dir="$1" name
  name=$(basename "$dir")
  cat >"$dir/kubeconfig" <<KCFG
apiVersion: v1
kind: Config
clusters:
- name: $name
  cluster:
    server: https://127.0.0.1:$(cat "$dir/apiserver.port")
    certificate-authority-data: $(base64 -w0 <"$dir/serving.crt")
users:
- name: admin
  user:
    token: $(cat "$dir/token")
contexts:
- name: $name
  context: {cluster: $name, user: admin}
current-context: $name
KCFG
  chmod 600 "$dir/kubeconfig"
}

stop_one() {
  local pidfile="$1" pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

ETCD_PORT="${ETCD_PORT:-23790}"
ETCD_PEER_PORT="${ETCD_PEER_PORT:-23800}"
KUBE_PORT="${KUBE_PORT:-26443}"

case "${1:-}" in
  build) build ;;
  path) [ -x "$BIN" ] && echo "$BIN" ;;
  start)
    dir="${2:?start needs DIR}"
    prepare "$dir"
    case "${3:-all}" in
      all) start_etcd "$dir"; start_apiserver "$dir" ;;
      etcd) start_etcd "$dir" ;;
      apiserver) start_apiserver "$dir" ;;
      *) echo "start: what must be all, etcd or apiserver" >&2; exit 2 ;;
    esac
    [ -f "$dir/kubeconfig" ] && echo "$dir/kubeconfig"
    ;;
  stop)
    dir="${2:?stop needs DIR}"
    case "${3:-all}" in
      all) stop_one "$dir/apiserver.pid"; stop_one "$dir/etcd.pid" ;;
      etcd) stop_one "$dir/etcd.pid" ;;
      apiserver) stop_one "$dir/apiserver.pid" ;;
      *) echo "stop: what must be all, etcd or apiserver" >&2; exit 2 ;;
    esac
    ;;
  *) echo "usage: $0 build|path|start DIR [all|etcd|apiserver]|stop DIR [all|etcd|apiserver]" >&2; exit 2 ;;
esac
