#!/usr/bin/env bash
# Make sure a Docker engine runs here (the watchdog's Docker runtime tests use it): Debian's
# docker.io installed when dockerd is missing, dockerd started in the background when it does not
# answer. Idempotent and quiet; quick when the engine is already up. Exits non-zero (with the
# engine's log) only when dockerd cannot start: the Docker tests then skip and say why.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
SOCKET=/var/run/docker.sock
LOG=/var/log/dockerd.log

answers() { curl -fsS --max-time 3 --unix-socket "$SOCKET" http://localhost/_ping >/dev/null 2>&1; }

if answers; then exit 0; fi

if ! command -v dockerd >/dev/null 2>&1; then
  echo "installing docker.io ..."
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    docker.io >/dev/null
fi

if ! pgrep -x dockerd >/dev/null; then
  # setsid: the engine outlives the shell (and `make`) that started it.
  as_root setsid dockerd >>"$LOG" 2>&1 < /dev/null &
fi
for _ in $(seq 60); do
  if answers; then echo "docker engine is up"; exit 0; fi
  sleep 0.5
done
echo "dockerd did not answer within 30 s; its log:" >&2
tail -n 30 "$LOG" >&2 || true
exit 1
