#!/usr/bin/env bash
# The panel's front-end files: installs the packages pinned in package-lock.json from the npm
# registry and copies their built files to admin/static/vendor (git-ignored). `make assets` runs it.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null; then
  echo "npm is needed to build the panel's assets: apt-get install nodejs npm" >&2
  exit 1
fi
npm ci --no-audit --no-fund --loglevel=error
out=../static/vendor
rm -rf "$out"
mkdir -p "$out"
cp node_modules/@tabler/core/dist/css/tabler.min.css "$out/"
cp node_modules/@tabler/core/dist/js/tabler.min.js "$out/"
cp node_modules/htmx.org/dist/htmx.min.js "$out/"
cp node_modules/htmx-ext-sse/dist/sse.min.js "$out/"
cp node_modules/idiomorph/dist/idiomorph-ext.min.js "$out/"
cp node_modules/chart.js/dist/chart.umd.min.js "$out/"
echo "panel assets in admin/static/vendor"
