# tern: an outbound mail relay (smarthost) for applications.
# Multi-stage: build with Debian's -dev packages, run with only the runtime
# libraries, as an unprivileged user. Nothing here is architecture-specific
# (amd64 and arm64 build the same way). Configure with TERN_* variables, e.g.
#   docker run -e TERN_DELIVERY_MODE=relayhost -e TERN_DELIVERY_RELAYHOST=smtp.example.com:587 ...
# The package stages are separate so a rebuild after a source change reuses
# them (and deploy/test-image.sh can keep them cached by name).

FROM debian:bookworm-slim AS build-deps
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates cmake ninja-build g++ pkg-config \
      libuv1-dev libssl-dev libsqlite3-dev libc-ares-dev prometheus-cpp-dev \
      libtomlplusplus-dev libcli11-dev nlohmann-json3-dev libargon2-dev \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin

FROM build-deps AS build
WORKDIR /src
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTERN_TESTS=OFF \
 && cmake --build /build --target tern \
 && strip /build/tern

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates libuv1 libssl3 libsqlite3-0 libc-ares2 libprometheus-cpp-core1.0 \
      libtomlplusplus3 libargon2-1 libcap2-bin \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
 && groupadd --system --gid 10001 tern \
 && useradd --system --uid 10001 --gid tern --home-dir /var/spool/tern --shell /usr/sbin/nologin tern \
 && mkdir -p /var/spool/tern /etc/tern \
 && chown tern:tern /var/spool/tern \
 && chmod 0700 /var/spool/tern

FROM runtime
COPY --from=build /build/tern /usr/bin/tern
COPY deploy/healthcheck.sh /usr/local/bin/tern-healthcheck
# Port 587 as an unprivileged user; `tern sendmail` as the system's sendmail(8).
RUN setcap cap_net_bind_service=+ep /usr/bin/tern \
 && apt-get purge -y libcap2-bin \
 && ln -s /usr/bin/tern /usr/sbin/sendmail
USER tern
VOLUME /var/spool/tern
# Prometheus must reach the metrics from outside the container.
ENV TERN_METRICS_LISTEN=0.0.0.0:9464
EXPOSE 587 465 9464
# GET /healthz on TERN_METRICS_LISTEN's port; tern is listening within a second of start.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 CMD ["/usr/local/bin/tern-healthcheck"]
ENTRYPOINT ["/usr/bin/tern"]
CMD ["serve"]
