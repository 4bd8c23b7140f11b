#!/usr/bin/env bash
# Install what the checks of compose/ and its observability files need, when missing: Debian's
# `prometheus` (promtool: `check config`, `check rules`), `prometheus-alertmanager` (amtool:
# `check-config`) and `docker-compose` 1.29 (`config` validates the Compose file without an engine;
# Debian 12 has no Compose v2 plugin). Idempotent and quiet: `make test` calls it every time.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v amtool >/dev/null 2>&1 || missing+=(prometheus-alertmanager)
docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1 \
  || missing+=(docker-compose)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} ..."
  as_root apt-get update -qq
  # Only the tools are wanted; --no-install-recommends keeps the exporters out.
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
