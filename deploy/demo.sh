#!/usr/bin/env bash
# Builds the images on this machine (no registry needed), then `docker-compose up`s the
# top-level docker-compose.yml with its CPU profile: a master with TLS, two CPU workers
# and a Python trainer-program worker, all with client certificates and host networking
# on 127.0.0.1. Submits a small Fashion-MNIST search and a small search of the example
# trainer program (deploy/demo-program.yaml) from inside the master's container, watches
# both to the end, prints the leaderboards, checks that every container is healthy and
# that /metrics answers over HTTPS, and takes everything down again (volumes included).
# Exits non-zero when any of that fails.
#   deploy/demo.sh            (needs docker, docker-compose and, without a base image,
#                              debootstrap)
# DEEPEVOLVE_DEMO_TARGETS lists the targets to build (default: every one that builds
# without a download from outside Debian: master worker-cpu worker-cpu-python
# build-gpu-base).
set -euo pipefail
cd "$(dirname "$0")/.."

started=$SECONDS
elapsed() { printf '%dm%02ds' $(((SECONDS - started) / 60)) $(((SECONDS - started) % 60)); }

bash deploy/base-image.sh
for target in ${DEEPEVOLVE_DEMO_TARGETS:-master worker-cpu worker-cpu-python build-gpu-base}; do
  echo "demo: building deepevolve/$target ($(elapsed))"
  log=$(mktemp)
  if ! docker build --network host -f deploy/Dockerfile --target "$target" \
      -t "deepevolve/$target:latest" . >"$log" 2>&1; then
    tail -n 40 "$log"
    rm -f "$log"
    echo "demo: building deepevolve/$target failed" >&2
    exit 1
  fi
  rm -f "$log"
done
docker image rm deepevolve/build-gpu-base:latest >/dev/null 2>&1 || true
for image in master worker-cpu worker-cpu-python; do
  echo "demo: deepevolve/$image is $(docker image inspect -f '{{.Size}}' "deepevolve/$image:latest" \
    | awk '{printf "%.0f MB", $1 / 1e6}'), user $(docker image inspect -f '{{.Config.User}}' \
    "deepevolve/$image:latest")"
done
echo "demo: images built ($(elapsed))"

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
export COMPOSE_PROJECT_NAME=deepevolve-demo
export DEEPEVOLVE_LISTEN=127.0.0.1
export DEEPEVOLVE_PORT=${DEEPEVOLVE_PORT:-$(free_port)}
export DEEPEVOLVE_HTTP_PORT=${DEEPEVOLVE_HTTP_PORT:-$(free_port)}
compose() { docker-compose --profile cpu "$@"; }
run=$(mktemp -d)
cleanup() {
  compose down -v --remove-orphans >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT
fail() {
  echo "demo: $*" >&2
  compose logs --tail 30 >&2 || true
  exit 1
}

echo "demo: docker-compose up (master on 127.0.0.1:$DEEPEVOLVE_PORT, HTTPS on $DEEPEVOLVE_HTTP_PORT)"
compose up -d --no-build --scale worker-cpu=2 master worker-cpu worker-cpu-python

# Polls a container's health (bounded: up to $2 seconds) until it leaves "starting".
settled_health() {
  local container=$1 limit=$2 health=starting
  for _ in $(seq 1 "$limit"); do
    health=$(docker inspect -f \
      '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}} {{.State.ExitCode}}{{end}}' \
      "$container")
    [ "$health" = starting ] || break
    sleep 1
  done
  echo "$health"
}
[ "$(settled_health "$(compose ps -q master)" 120)" = healthy ] || fail "the master is not healthy"

cli() {
  compose exec -T master deepevolve "$@" --master "127.0.0.1:$DEEPEVOLVE_PORT" \
    --tls-ca /certs/ca.pem --token-file /certs/token
}
# Submits a search, watches it to its end (the CLI exits non-zero unless it succeeded)
# and prints its leaderboard.
search() {
  cli submit "$@" --watch --no-live | tee "$run/submit" || fail "the search did not succeed"
  local id
  id=$(sed -n 's/^submitted search \([0-9]*\).*/\1/p' "$run/submit")
  [ -n "$id" ] || fail "submit printed no search id"
  cli top "$id" -n 5
}
echo "demo: search 1, the built-in trainer ($(elapsed))"
search --preset fashion_mnist_mlp --population 6 --generations 2 --epochs 1 \
  --train-limit 6000 --test-limit 2000 --seed 5 --name demo

echo "demo: search 2, the trainer program fmnist-cnn@1 in worker-cpu-python ($(elapsed))"
compose exec -T master sh -c 'cat > /tmp/demo-program.yaml' <deploy/demo-program.yaml
search --spec /tmp/demo-program.yaml

unhealthy=0
for container in $(compose ps -q); do
  name=$(docker inspect -f '{{.Name}}' "$container")
  health=$(settled_health "$container" 60)  # a worker's first check runs a while after it starts
  echo "demo: ${name#/} is $health"
  case "$health" in
    healthy | "exited 0") ;;  # "exited 0": the one-shot certs job
    *) unhealthy=1 ;;
  esac
done
((unhealthy == 0)) || fail "a container is not healthy"

compose exec -T master cat /certs/ca.pem >"$run/ca.pem"
echo "demo: metrics"
curl -fs --cacert "$run/ca.pem" "https://127.0.0.1:$DEEPEVOLVE_HTTP_PORT/metrics" >"$run/metrics" ||
  fail "/metrics did not answer over HTTPS"
grep -E '^deepevolve_(genomes_done_total|workers|queue_depth|search_best_accuracy|store_commits_total)' \
  "$run/metrics" || fail "/metrics has none of deepevolve's series"
echo "demo: finished in $(elapsed)"
