#!/usr/bin/env bash
# The container images' test: builds every image that builds from Debian alone and runs
# deploy/demo.sh (a TLS master, two CPU workers and a trainer-program worker through
# docker-compose, two searches to their end, health, /metrics over HTTPS, all taken down).
# Starts dockerd when none runs and stops what it started. Where Docker cannot run it
# says why and is skipped ("SKIPPED", exit 0) — never passed silently.
set -euo pipefail
cd "$(dirname "$0")/../.."

skip() {
  echo "containers_test: SKIPPED: $*"
  exit 0
}

command -v docker >/dev/null || skip "docker is not installed (scripts/install-deps.sh --test installs it)"
command -v docker-compose >/dev/null || skip "docker-compose is not installed"

started_dockerd=""
dockerd_log=$(mktemp)
stop_dockerd() {
  if [[ -n "$started_dockerd" ]]; then
    kill "$started_dockerd" 2>/dev/null || true
    for _ in $(seq 1 30); do   # bounded: dockerd stops its containers first
      kill -0 "$started_dockerd" 2>/dev/null || break
      sleep 1
    done
  fi
  rm -f "$dockerd_log"
}
trap stop_dockerd EXIT

if ! docker info >/dev/null 2>&1; then
  command -v dockerd >/dev/null || skip "no Docker daemon runs and dockerd is not installed"
  [[ $(id -u) == 0 ]] || skip "no Docker daemon runs, and starting one needs root"
  dockerd >"$dockerd_log" 2>&1 &
  started_dockerd=$!
  for _ in $(seq 1 60); do   # bounded wait for the daemon's socket
    docker info >/dev/null 2>&1 && break
    kill -0 "$started_dockerd" 2>/dev/null || break
    sleep 1
  done
  docker info >/dev/null 2>&1 ||
    skip "dockerd did not start here: $(tail -n 3 "$dockerd_log" | tr '\n' ' ')"
  echo "containers_test: started dockerd (pid $started_dockerd); stopped again at the end"
fi

start=$SECONDS
bash deploy/demo.sh
echo "containers_test: PASSED in $((SECONDS - start)) s"
