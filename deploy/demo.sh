#!/usr/bin/env bash
# Builds the images on this machine (no registry needed) and runs, in containers with
# host networking on 127.0.0.1: a master with TLS, two CPU workers with client
# certificates, and a small Fashion-MNIST search submitted and watched from a third
# container. Prints the leaderboard, the containers' health and a few metrics, and
# removes everything it started.
#   deploy/demo.sh            (needs docker and, without a base image, debootstrap)
set -euo pipefail
cd "$(dirname "$0")/.."

bash deploy/base-image.sh
for target in master worker-cpu; do
  echo "demo: building deepevolve/$target"
  docker build --network host -q -f deploy/Dockerfile --target "$target" \
    -t "deepevolve/$target" . >/dev/null
done

run=$(mktemp -d)
chmod 777 "$run"
names=(deepevolve-demo-master deepevolve-demo-worker-0 deepevolve-demo-worker-1)
cleanup() {
  docker rm -f "${names[@]}" >/dev/null 2>&1 || true
  docker run --rm --network none -v "$run:/run-dir" --entrypoint sh deepevolve/master \
    -c 'rm -rf /run-dir/*' >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT

# Certificates for 127.0.0.1 and a token, made by the image's own `deepevolve certs`.
docker run --rm --network none -v "$run:/run-dir" --entrypoint deepevolve deepevolve/master \
  certs --out /run-dir/certs --hosts 127.0.0.1,localhost >/dev/null

# Port 0: the master picks free ports and writes them to files.
docker run -d --name deepevolve-demo-master --network host -v "$run:/run-dir" \
  --health-cmd 'curl -fs --cacert /run-dir/certs/ca.pem https://127.0.0.1:$(cat /run-dir/http-port)/healthz' \
  --health-interval 5s --health-start-period 5s \
  deepevolve/master --db /run-dir/master.db --listen 127.0.0.1:0 --port-file /run-dir/port \
  --http-listen 127.0.0.1:0 --http-port-file /run-dir/http-port \
  --tls-cert /run-dir/certs/master.pem --tls-key /run-dir/certs/master.key \
  --tls-client-ca /run-dir/certs/ca.pem --token-file /run-dir/certs/token >/dev/null
for _ in $(seq 1 100); do [ -s "$run/port" ] && [ -s "$run/http-port" ] && break; sleep 0.2; done
[ -s "$run/port" ] || { docker logs deepevolve-demo-master; exit 1; }
address="127.0.0.1:$(cat "$run/port")"
echo "demo: master on $address (TLS), HTTPS on port $(cat "$run/http-port")"

for i in 0 1; do
  docker run -d --name "deepevolve-demo-worker-$i" --network host -v "$run:/run-dir" \
    --health-interval 5s --health-start-period 5s \
    deepevolve/worker-cpu --master "$address" --id "demo-$i" --threads 1 \
    --tls-ca /run-dir/certs/ca.pem --tls-cert /run-dir/certs/worker.pem \
    --tls-key /run-dir/certs/worker.key >/dev/null
done

cli() {
  docker run --rm --network host -v "$run:/run-dir" --entrypoint deepevolve deepevolve/master \
    "$@" --master "$address" --tls-ca /run-dir/certs/ca.pem --token-file /run-dir/certs/token
}
cli submit --preset fashion_mnist_mlp --population 6 --generations 2 --epochs 1 \
  --train-limit 6000 --test-limit 2000 --seed 5 --name demo --watch --no-live
cli top 1 -n 5

for name in "${names[@]}"; do
  health=starting
  for _ in $(seq 1 60); do   # the first checks run a few seconds after start
    health=$(docker inspect -f '{{.State.Health.Status}}' "$name")
    [ "$health" = starting ] || break
    sleep 1
  done
  echo "demo: $name is $health"
done
echo "demo: metrics"
curl -fs --cacert "$run/certs/ca.pem" "https://127.0.0.1:$(cat "$run/http-port")/metrics" \
  | grep -E '^deepevolve_(genomes_done_total|workers|queue_depth|search_best_accuracy)'
