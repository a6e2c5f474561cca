#!/usr/bin/env bash
# Alternates two builds of Roster, run by run, each serving its own copy of
# one seeded database, so that a noisy machine weighs on both alike.
#
#   bench/compare.sh OLD_DIR NEW_DIR "<roster-bench arguments>" [ROUNDS]
#
# OLD_DIR and NEW_DIR hold a `roster` binary each (NEW_DIR also
# `roster-bench`). Environment: OLD_DATABASE_URL and NEW_DATABASE_URL (the
# two copies, e.g. made with `createdb -T roster_bench roster_bench_base`),
# USERS (seeded users, default 1000000), DURATION (seconds per figure,
# default 5), ROSTER_ADDR (default 127.0.0.1:3900) and whatever else the
# server needs (ADMIN_SECRET_CODE, LOGIN_MAX_FAILED_ATTEMPTS=0, RUST_LOG=warn).
set -euo pipefail
old_dir=$1 new_dir=$2 args=$3 rounds=${4:-3}
: "${OLD_DATABASE_URL:?set OLD_DATABASE_URL}" "${NEW_DATABASE_URL:?set NEW_DATABASE_URL}"
export ROSTER_ADDR=${ROSTER_ADDR:-127.0.0.1:3900}
# Builds since the signing-key rotation need a master key on PostgreSQL; a
# fixed one, so that every run opens the keys the first one sealed.
export ROSTER_MASTER_KEY=${ROSTER_MASTER_KEY:-YmVuY2gtbWFzdGVyLWtleS1ub3QtZm9yLXByb2R1Y3Q=}
# The load comes from one address, far above any real client's rate.
export RATE_LIMIT_ENABLED=${RATE_LIMIT_ENABLED:-false}
for round in $(seq 1 "$rounds"); do
  for side in old new; do
    if [ "$side" = old ]; then dir=$old_dir url=$OLD_DATABASE_URL; else dir=$new_dir url=$NEW_DATABASE_URL; fi
    DATABASE_URL=$url "$dir/roster" serve >"/tmp/roster-compare-$side.log" 2>&1 &
    server=$!
    for _ in $(seq 1 150); do curl -sf "http://$ROSTER_ADDR/health" >/dev/null 2>&1 && break; sleep 0.2; done
    echo "== $side, round $round"
    # shellcheck disable=SC2086 # the arguments are meant to split
    "$new_dir/roster-bench" --base "http://$ROSTER_ADDR" --users "${USERS:-1000000}" --duration "${DURATION:-5}" $args
    kill "$server"
    wait "$server" 2>/dev/null || true
    # PostgreSQL finishes a killed client's running statements (it notices
    # the closed socket only when it sends the result): wait until none is
    # left, or the next run shares the cores with them (the old binary's
    # searches ran for seconds).
    if command -v psql >/dev/null; then
      for _ in $(seq 1 240); do
        busy=$(psql "$url" -Atc "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
          AND state = 'active' AND pid <> pg_backend_pid()" 2>/dev/null || echo 0)
        [ "$busy" = 0 ] && break
        sleep 0.5
      done
    fi
  done
done
