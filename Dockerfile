# brokerd and brokerctl on Debian bookworm.
#
#   docker build -t brokerd .                  (or: podman build --format docker -t brokerd .)
#   docker run -d --name brokerd -v brokerd-data:/var/lib/brokerd \
#       -p 127.0.0.1:7070:7070 -p 127.0.0.1:9090:9090 brokerd
#   brokerctl --addr 127.0.0.1:7070 health     (or: docker exec brokerd brokerctl health)
#   docker stop brokerd                         (SIGTERM: drains, persists acks, exits 0)
#
# Inside the container brokerd listens on 0.0.0.0:7070 (gRPC) and 0.0.0.0:9090 (Prometheus
# /metrics); publish the ports on the host's loopback, or put TLS and tokens in front (see
# docs/operations.md). Data lives in the volume at /var/lib/brokerd. The process runs as the
# unprivileged user "broker" (uid 10001). Other flags: override CMD, repeating the defaults, e.g.
#   docker run ... brokerd --data-dir /var/lib/brokerd --listen 0.0.0.0:7070 --durability async
# or mount a config file and run `brokerd --config /etc/brokerd/brokerd.toml`.
#
# scripts/container-test.sh builds and runs this image for real with podman.

# The base image. scripts/container-test.sh passes a locally imported bookworm (no registry).
ARG DEBIAN_IMAGE=debian:bookworm

# ---- build: compilers and -dev packages, the two binaries only ----------------------------------
FROM ${DEBIAN_IMAGE} AS build
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN /src/scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . /src
# ccache in a build cache mount makes rebuilds of the image quick (BuildKit, buildah/podman).
RUN --mount=type=cache,target=/root/.cache/ccache \
    cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
          -DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DBROKER_WERROR=ON \
          -DBROKER_BUILD_TESTS=OFF -DBROKER_BUILD_BENCHMARKS=OFF \
 && cmake --build /build --target brokerd brokerctl \
 && cmake --install /build --prefix /out --component runtime --strip

# ---- runtime: shared libraries, the binaries, a non-root user -----------------------------------
FROM ${DEBIAN_IMAGE}
# The runtime halves of the -dev packages the binaries link (apt adds their dependencies).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librocksdb7.8 libgrpc++1.51 libprotobuf32 libspdlog1.10 libfmt9 libxxhash0 \
      libcpp-httplib0.11 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/brokerd --no-create-home \
      --shell /usr/sbin/nologin broker \
 && mkdir -p /var/lib/brokerd \
 && chown broker:broker /var/lib/brokerd
COPY --from=build /out/bin/brokerd /out/bin/brokerctl /usr/local/bin/

USER broker
VOLUME /var/lib/brokerd
EXPOSE 7070 9090
# brokerd drains on SIGTERM (the default stop signal): give `docker stop` more than its
# --shutdown-grace-ms (5 s) before it escalates to SIGKILL, e.g. `docker stop -t 30`.
STOPSIGNAL SIGTERM
# brokerctl's default address, 127.0.0.1:7070, is brokerd's inside the container. With TLS or a
# tokens file configured, extend this command accordingly (the health service needs no token).
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
  CMD ["brokerctl", "health", "--timeout", "3s"]
ENTRYPOINT ["brokerd"]
CMD ["--data-dir", "/var/lib/brokerd", "--listen", "0.0.0.0:7070", "--metrics-listen", "0.0.0.0:9090"]
