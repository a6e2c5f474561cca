#!/usr/bin/env bash
# Screenshot of the /docs UI (docs/openapi-docs.png) in headless Chromium
# (Debian: apt-get install chromium), from the debug binary on a throw-away
# SQLite database.
set -euo pipefail
cd "$(dirname "$0")/.."
roster=${ROSTER_BIN:-target/debug/roster}
out=${1:-docs/openapi-docs.png}
dir=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATABASE_URL="sqlite://$dir/roster.db" ROSTER_ADDR="127.0.0.1:$port" RUST_LOG=warn "$roster" serve &
pid=$!
trap 'kill $pid; rm -rf "$dir"' EXIT
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.2; done
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1400 \
  --virtual-time-budget=8000 --screenshot="$out" "http://127.0.0.1:$port/docs" 2>/dev/null
echo "wrote $out"
