# Production image: a static-ish release build on Debian slim.
#   docker build -t saghat .
#   docker run -p 8000:8000 -e APP_ENV=prod -e SECRET_KEY=... -e JWT_SECRET_KEY=... -e BITPIN_API_KEY=... \
#     -e DATABASE_URL=postgres://... saghat
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN cargo build --release --locked --bin saghat && strip target/release/saghat

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/saghat --create-home saghat
COPY --from=build /src/target/release/saghat /usr/local/bin/saghat
USER saghat
WORKDIR /var/lib/saghat
ENV BIND=0.0.0.0:8000 SAGHAT_DATA_DIR=/var/lib/saghat/data LOG_FORMAT=json
EXPOSE 8000
# Orchestrators: probe GET /healthz (process up) and GET /readyz (database reachable).
ENTRYPOINT ["saghat"]
CMD ["serve"]
