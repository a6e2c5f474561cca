# syntax=docker/dockerfile:1
#
# Roster: multi-stage build. The builder compiles the release binary
# (migrations are embedded at compile time by `sqlx::migrate!`); the runtime
# image holds only that binary.

FROM rust:1-bookworm AS builder
WORKDIR /build

# Every workspace member and the build script (tests/api/operations.rs checks
# this list against Cargo.toml).
COPY Cargo.toml Cargo.lock build.rs ./
COPY aggregates/ aggregates/
COPY projections/ projections/
COPY bench/ bench/
COPY migrations/ migrations/
COPY src/ src/

# Cache mounts keep the registry and target dir between builds; the binary is
# copied out in the same step because cache mounts are not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/build/target \
    cargo build --release --locked \
 && cp target/release/roster /usr/local/bin/roster

FROM debian:bookworm-slim AS runtime

RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 roster \
 && useradd --system --uid 10001 --gid roster --home-dir /var/lib/roster --create-home roster

COPY --from=builder /usr/local/bin/roster /usr/local/bin/roster

# Without DATABASE_URL, Roster uses SQLite at ./data/roster.db, i.e.
# /var/lib/roster/data/roster.db here (writable by the roster user).
WORKDIR /var/lib/roster
USER roster

# Inside a container, listen on all interfaces (the built-in default is 127.0.0.1:3000).
ENV ROSTER_ADDR=0.0.0.0:3000
EXPOSE 3000

ENTRYPOINT ["roster"]
CMD ["serve"]
