# syntax=docker/dockerfile:1
#
# Flow HQ container image: one binary on Debian slim.
#   docker build -t flowhq .
#   docker run -p 8080:8080 -v flowhq-data:/data flowhq
#
# The binary embeds config/default.toml and the static assets, so the runtime
# stage needs nothing from the source tree. SQLite is compiled in
# (libsqlite3-sys "bundled") and TLS is rustls, so no C libraries are needed at
# run time beyond glibc.

########## build ##########
FROM rust:1-slim-bookworm AS builder
WORKDIR /src

# The whole workspace: root crate (lib + bin), entity/, migration/.
COPY . .

# Cache mounts keep the crates.io downloads and compiled dependencies between
# builds (BuildKit, the default builder). target/ lives in a cache mount, so the
# binary is copied out of it within the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin flowhq \
    && install -m 0755 target/release/flowhq /usr/local/bin/flowhq

########## runtime ##########
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 flowhq \
    && useradd --system --uid 10001 --gid flowhq --home-dir /app \
        --shell /usr/sbin/nologin flowhq \
    && mkdir -p /app /data \
    && chown flowhq:flowhq /app /data

COPY --from=builder /usr/local/bin/flowhq /usr/local/bin/flowhq

# Listen on every interface inside the container; keep the SQLite database
# and the master key of secrets at rest on the /data volume
# ("sqlite:///data/…" = the absolute path /data/flowhq.db).
ENV FLOWHQ__SERVER__HOST=0.0.0.0 \
    FLOWHQ__DATABASE__URL=sqlite:///data/flowhq.db \
    FLOWHQ__SECURITY__MASTER_KEY_FILE=/data/master.key

# config/local.toml is read relative to the working directory, so an override
# file can be mounted at /app/config/local.toml.
WORKDIR /app
# Numeric, so orchestrators can verify the user is not root.
USER 10001:10001
VOLUME /data
EXPOSE 8080

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD curl -fsS "http://127.0.0.1:${FLOWHQ__SERVER__PORT:-8080}/healthz" || exit 1

ENTRYPOINT ["/usr/local/bin/flowhq"]
CMD ["serve"]
