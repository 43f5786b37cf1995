#!/usr/bin/env bash
# A real Kubernetes control plane on 127.0.0.1, for the chart's end-to-end check:
# etcd + kube-apiserver + kube-controller-manager + kube-scheduler, and kwok
# standing in for the kubelets (fake nodes; it moves pods to Running/Ready and
# the pods of Jobs to Succeeded, deletes terminating pods). No container runs.
#
#   cluster.sh start DIR    build the binaries if needed (build.sh), generate a CA,
#                           certificates and service-account keys in DIR, start every
#                           component, add one fake node, wait until the API answers
#                           and the node is Ready; writes DIR/kubeconfig, DIR/env
#   cluster.sh stop DIR     stop what start started (by the pids it recorded)
#
# Logs: DIR/logs/<component>.log. Ports: free ones, in DIR/env.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${TICKCAST_CACHE:-$HOME/.cache/tickcast}"
BIN="$CACHE/kube/bin"
log() { echo "[kube] $*" >&2; }

cmd=${1:-}; DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: cluster.sh start|stop DIR" >&2; exit 2; }

stop() {
  local f pid
  for f in kwok kube-scheduler kube-controller-manager kube-apiserver etcd; do
    [ -f "$DIR/pids/$f" ] || continue
    pid=$(cat "$DIR/pids/$f")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$DIR/pids/$f"
  done
}
if [ "$cmd" = stop ]; then stop; log "stopped"; exit 0; fi
[ "$cmd" = start ] || { echo "usage: cluster.sh start|stop DIR" >&2; exit 2; }

bash "$HERE/build.sh"
mkdir -p "$DIR/pki" "$DIR/logs" "$DIR/pids" "$DIR/etcd"
DIR=$(cd "$DIR" && pwd)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ETCD_PORT=$(free_port); ETCD_PEER=$(free_port); API_PORT=$(free_port)

# ---- certificates (openssl): a CA, the API server's serving cert, an admin client
# cert (system:masters) used by every component here, the service-account key pair.
P="$DIR/pki"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$P/ca.key" -out "$P/ca.crt" -days 2 \
  -subj "/CN=tickcast-e2e-ca" 2>/dev/null
cat >"$P/apiserver.ext" <<EOF
subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local
extendedKeyUsage=serverAuth
EOF
openssl req -newkey rsa:2048 -nodes -keyout "$P/apiserver.key" -out "$P/apiserver.csr" -subj "/CN=kube-apiserver" 2>/dev/null
openssl x509 -req -in "$P/apiserver.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
  -extfile "$P/apiserver.ext" -out "$P/apiserver.crt" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$P/client.ext"
openssl req -newkey rsa:2048 -nodes -keyout "$P/admin.key" -out "$P/admin.csr" -subj "/O=system:masters/CN=tickcast-e2e-admin" 2>/dev/null
openssl x509 -req -in "$P/admin.csr" -CA "$P/ca.crt" -CAkey "$P/ca.key" -CAcreateserial -days 2 \
  -extfile "$P/client.ext" -out "$P/admin.crt" 2>/dev/null
openssl genrsa -out "$P/sa.key" 2048 2>/dev/null
openssl rsa -in "$P/sa.key" -pubout -out "$P/sa.pub" 2>/dev/null

KUBECONFIG_FILE="$DIR/kubeconfig"
cat >"$KUBECONFIG_FILE" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: e2e
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $P/ca.crt
users:
- name: admin
  user:
    client-certificate: $P/admin.crt
    client-key: $P/admin.key
contexts:
- name: e2e
  context: {cluster: e2e, user: admin}
current-context: e2e
EOF
chmod 600 "$KUBECONFIG_FILE"
cat >"$DIR/env" <<EOF
export KUBECONFIG=$KUBECONFIG_FILE
export TICKCAST_E2E_API=https://127.0.0.1:$API_PORT
EOF

start_bg() { # name args...
  local name=$1; shift
  "$BIN/$name" "$@" >"$DIR/logs/$name.log" 2>&1 &
  echo $! >"$DIR/pids/$name"
}
trap 'log "start failed; logs in $DIR/logs"; stop' ERR

start_bg etcd --name e2e --data-dir "$DIR/etcd" \
  --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$ETCD_PEER" --initial-advertise-peer-urls "http://127.0.0.1:$ETCD_PEER" \
  --initial-cluster "e2e=http://127.0.0.1:$ETCD_PEER" --quota-backend-bytes 1073741824 --log-level warn
for _ in $(seq 1 100); do curl -fsS "http://127.0.0.1:$ETCD_PORT/health" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fsS "http://127.0.0.1:$ETCD_PORT/health" >/dev/null || { log "etcd did not start"; tail -20 "$DIR/logs/etcd.log" >&2; false; }

start_bg kube-apiserver --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
  --bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$API_PORT" \
  --tls-cert-file "$P/apiserver.crt" --tls-private-key-file "$P/apiserver.key" --client-ca-file "$P/ca.crt" \
  --service-account-issuer https://kubernetes.default.svc.cluster.local \
  --service-account-key-file "$P/sa.pub" --service-account-signing-key-file "$P/sa.key" \
  --service-cluster-ip-range 10.96.0.0/16 --authorization-mode Node,RBAC --allow-privileged=true \
  --enable-priority-and-fairness=false --endpoint-reconciler-type none
KC=("$BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE")
for _ in $(seq 1 300); do "${KC[@]}" get --raw /readyz >/dev/null 2>&1 && break; sleep 0.5; done
"${KC[@]}" get --raw /readyz >/dev/null || { log "kube-apiserver not ready"; tail -30 "$DIR/logs/kube-apiserver.log" >&2; false; }
log "kube-apiserver $("${KC[@]}" version -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["gitVersion"])') ready on https://127.0.0.1:$API_PORT"

start_bg kube-controller-manager --kubeconfig "$KUBECONFIG_FILE" --leader-elect=false \
  --service-account-private-key-file "$P/sa.key" --root-ca-file "$P/ca.crt" \
  --cluster-signing-cert-file "$P/ca.crt" --cluster-signing-key-file "$P/ca.key" \
  --controllers '*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller' \
  --use-service-account-credentials=false --bind-address 127.0.0.1 --secure-port 0
start_bg kube-scheduler --kubeconfig "$KUBECONFIG_FILE" --leader-elect=false \
  --bind-address 127.0.0.1 --secure-port 0
start_bg kwok --kubeconfig "$KUBECONFIG_FILE" --manage-all-nodes=false \
  --manage-nodes-with-annotation-selector kwok.x-k8s.io/node=fake \
  --cidr 10.244.0.0/16 --node-ip 10.0.0.10

# One fake node, big enough for the production-like values; no taint, so the
# chart's pods schedule on it as on any node.
"${KC[@]}" apply -f - >/dev/null <<'EOF'
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-0
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels: {kubernetes.io/hostname: kwok-node-0, kubernetes.io/os: linux, kubernetes.io/arch: amd64, type: kwok}
status:
  allocatable: {cpu: "32", memory: 128Gi, pods: "110"}
  capacity: {cpu: "32", memory: 128Gi, pods: "110"}
EOF
"${KC[@]}" wait --for=condition=Ready node/kwok-node-0 --timeout=90s >/dev/null \
  || { log "the kwok node did not become Ready"; tail -30 "$DIR/logs/kwok.log" >&2; false; }
# The API server taints a new node not-ready; the node lifecycle controller lifts it.
for _ in $(seq 1 120); do
  [ -z "$("${KC[@]}" get node kwok-node-0 -o jsonpath='{.spec.taints}')" ] && break; sleep 0.5
done
[ -z "$("${KC[@]}" get node kwok-node-0 -o jsonpath='{.spec.taints}')" ] \
  || { log "the node keeps its taints: $("${KC[@]}" get node kwok-node-0 -o jsonpath='{.spec.taints}')"; false; }
# The namespace "default" service account appears once the controller manager runs.
for _ in $(seq 1 120); do "${KC[@]}" -n default get serviceaccount default >/dev/null 2>&1 && break; sleep 0.5; done
trap - ERR
log "control plane up: $("${KC[@]}" get nodes --no-headers | awk '{print $1" "$2}'); KUBECONFIG=$KUBECONFIG_FILE"
