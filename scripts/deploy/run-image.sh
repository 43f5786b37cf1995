#!/usr/bin/env bash
# Run the built image with podman as it runs in the cluster, and check it works:
# the image's non-root user (uid 1000), a read-only root filesystem with a tmpfs
# on /tmp only, host networking, free ports.
#   run-image.sh embedded [TAG]     embedded defaults (`run all`): /readyz answers
#                                   200 and GET /v1/predictions/latest serves a
#                                   prediction (replayed sample trades)
#   run-image.sh production [TAG]   TICKCAST_MODE=production against the Kafka and
#                                   Elasticsearch named by TICKCAST_TEST_KAFKA_BROKERS /
#                                   TICKCAST_TEST_ES_URL (run it under
#                                   scripts/services/with-services.sh): `topics create`,
#                                   `stores init`, then `run all` as above, and the
#                                   predictions land in Elasticsearch
# TAG defaults to tickcast:dev. Exit 0 only if every check passed.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=podman/env.sh
source scripts/deploy/podman/env.sh
MODE=${1:-embedded}; TAG=${2:-tickcast:dev}
TIMEOUT=${TICKCAST_RUN_TIMEOUT:-300}
log() { echo "[run-image:$MODE] $*" >&2; }
fail() { log "FAILED: $*"; podman logs --tail 40 "$NAME" >&2 2>/dev/null || true; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

podman image exists "$TAG" || { log "no image $TAG: make build first"; exit 1; }
NAME="tickcast-run-$MODE-$$"
HTTP=$(free_port); API=$(free_port)
# --no-healthcheck: podman schedules HEALTHCHECK through systemd timers (none here).
COMMON=(--network host --no-healthcheck --read-only --tmpfs /tmp:rw,size=512m,mode=1777
        -e TICKCAST_HTTP_PORT="$HTTP" -e TICKCAST_API_PORT="$API" -e TICKCAST_PAIRS=BTC/USD,ETH/USD)
ENVS=()
if [ "$MODE" = production ]; then
  [ -n "${TICKCAST_TEST_KAFKA_BROKERS:-}" ] && [ -n "${TICKCAST_TEST_ES_URL:-}" ] \
    || { log "TICKCAST_TEST_KAFKA_BROKERS / TICKCAST_TEST_ES_URL unset: run under scripts/services/with-services.sh"; exit 2; }
  prefix="img$$"
  ENVS=(-e TICKCAST_MODE=production -e TICKCAST_KAFKA_BROKERS="$TICKCAST_TEST_KAFKA_BROKERS"
        -e TICKCAST_ES_URL="$TICKCAST_TEST_ES_URL" -e TICKCAST_KAFKA_TOPIC_PREFIX="$prefix."
        -e TICKCAST_ES_INDEX_PREFIX="$prefix-" -e TICKCAST_KAFKA_REPLICATION_FACTOR=1 -e KAFKAJS_NO_PARTITIONER_WARNING=1)
  for step in "topics create" "stores init"; do
    log "tickcast $step"
    # shellcheck disable=SC2086
    podman run --rm "${COMMON[@]}" "${ENVS[@]}" "$TAG" $step >&2 || { log "FAILED: tickcast $step"; exit 1; }
  done
elif [ "$MODE" != embedded ]; then
  echo "usage: run-image.sh embedded|production [TAG]" >&2; exit 2
fi

trap 'podman rm -f -t 5 "$NAME" >/dev/null 2>&1 || true' EXIT
t0=$(date +%s)
podman run -d --name "$NAME" "${COMMON[@]}" "${ENVS[@]}" "$TAG" run all >/dev/null
uid=$(podman exec "$NAME" id -u)
[ "$uid" = 1000 ] || fail "the process runs as uid $uid, not the image's 1000"
if podman exec "$NAME" sh -c 'touch /app/x 2>/dev/null || touch /x 2>/dev/null'; then fail "the root filesystem is writable"; fi
log "running as uid $uid, root filesystem read-only; http :$HTTP, api :$API"

code=000
while [ $(( $(date +%s) - t0 )) -lt "$TIMEOUT" ]; do
  podman container exists "$NAME" && [ "$(podman inspect "$NAME" --format '{{.State.Running}}')" = true ] || fail "the container exited"
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP/readyz" || true)
  [ "$code" = 200 ] && break
  sleep 2
done
[ "$code" = 200 ] || fail "/readyz answered $code after ${TIMEOUT}s"
log "/readyz 200 after $(( $(date +%s) - t0 )) s"

body=""
while [ $(( $(date +%s) - t0 )) -lt "$TIMEOUT" ]; do
  body=$(curl -s -f "http://127.0.0.1:$API/v1/predictions/latest?pair=BTC/USD" || true)
  [ -n "$body" ] && break
  sleep 3
done
[ -n "$body" ] || fail "no prediction for BTC/USD after ${TIMEOUT}s"
echo "$body" | python3 -c '
import json, sys
r = json.load(sys.stdin); p = r["prediction"]
assert p["pair"] == "BTC/USD", p
print("[run-image] prediction:", p["pair"], p.get("model_name"), p.get("model_version"), "age_ms", r["age_ms"], file=sys.stderr)
' || fail "the prediction reply is not what the API promises: $body"
log "a prediction served after $(( $(date +%s) - t0 )) s"

if [ "$MODE" = production ]; then
  n=0
  for _ in $(seq 1 30); do
    n=$(curl -s "$TICKCAST_TEST_ES_URL/$prefix-*/_count" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("count",0))' 2>/dev/null || echo 0)
    [ "${n:-0}" -gt 0 ] && break
    sleep 2
  done
  [ "${n:-0}" -gt 0 ] || fail "nothing written to Elasticsearch under $prefix-*"
  log "$n documents in Elasticsearch under $prefix-*"
fi
podman stop -t 30 "$NAME" >/dev/null
log "OK"
