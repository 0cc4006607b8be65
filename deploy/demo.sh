#!/usr/bin/env bash
# Builds the images on this machine (no registry needed), then `docker-compose up`s the
# top-level docker-compose.yml with its CPU profile: a master with TLS and two CPU
# workers with client certificates, all with host networking on 127.0.0.1. Submits a
# small Fashion-MNIST search from inside the master's container, watches it to the
# end, prints the leaderboard, the containers' health and a few metrics, and takes
# everything down again (volumes included).
#   deploy/demo.sh            (needs docker, docker-compose and, without a base image,
#                              debootstrap)
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/base-image.sh
for target in master worker-cpu; do
  echo "demo: building deepevolve/$target"
  docker build --network host -q -f deploy/Dockerfile --target "$target" \
    -t "deepevolve/$target:latest" . >/dev/null
done

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

echo "demo: docker-compose up (master on 127.0.0.1:$DEEPEVOLVE_PORT, HTTPS on $DEEPEVOLVE_HTTP_PORT)"
compose up -d --no-build --scale worker-cpu=2 master worker-cpu

master=$(compose ps -q master)
health=starting
for _ in $(seq 1 120); do
  health=$(docker inspect -f '{{.State.Health.Status}}' "$master")
  [ "$health" = healthy ] && break
  sleep 1
done
[ "$health" = healthy ] || { compose logs master; exit 1; }

cli() {
  compose exec -T master deepevolve "$@" --master "127.0.0.1:$DEEPEVOLVE_PORT" \
    --tls-ca /certs/ca.pem --token-file /certs/token
}
cli submit --preset fashion_mnist_mlp --population 6 --generations 2 --epochs 1 \
  --train-limit 6000 --test-limit 2000 --seed 5 --name demo --watch --no-live
cli top 1 -n 5

for container in $(compose ps -q); do
  name=$(docker inspect -f '{{.Name}}' "$container")
  health=starting
  for _ in $(seq 1 60); do   # the workers' first checks run a while after they start
    health=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}' "$container")
    [ "$health" = starting ] || break
    sleep 1
  done
  echo "demo: ${name#/} is $health"
done
compose exec -T master cat /certs/ca.pem > "$run/ca.pem"
echo "demo: metrics"
curl -fs --cacert "$run/ca.pem" "https://127.0.0.1:$DEEPEVOLVE_HTTP_PORT/metrics" \
  | grep -E '^deepevolve_(genomes_done_total|workers|queue_depth|search_best_accuracy|store_commits_total)'
