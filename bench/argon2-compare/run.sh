#!/usr/bin/env bash
# argon2id implementations side by side (docs/performance.md, P1). Builds
# one binary per other implementation (they cannot link together) and runs
# each: RustCrypto's argon2 against libsodium, and against the reference C.
#   bench/argon2-compare/run.sh [ROUNDS] [SECONDS]
set -euo pipefail
cd "$(dirname "$0")"
for feature in sodium reference; do
  cargo build --quiet --release --features "$feature" --target-dir "target/$feature"
done
for feature in sodium reference; do
  echo "== RustCrypto argon2 against $feature"
  "target/$feature/release/argon2-compare" "${1:-5}" "${2:-5}"
done
