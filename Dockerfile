# syntax=docker/dockerfile:1
#
# One image with every Quarterdeck binary (docs/adr/0012-deployment.md):
#   /usr/local/bin/quarterdeck            the standalone platform (one process)
#   /usr/local/bin/quarterdeck-gateway    the gateway
#   /usr/local/bin/quarterdeck-<service>  each domain service (budget, vendors, risk, …)
# The Helm chart (deploy/helm/quarterdeck) picks the binary with the container's command.
#
#   docker build --build-arg VERSION=$(git describe --tags --always --dirty) -t quarterdeck:dev .
#
# The binaries are static (pure Go: no cgo, SQLite is modernc.org/sqlite), so the final stage is
# distroless/static: no shell, no package manager, CA certificates and time zone data only, run
# as the non-root user 65532. Nothing is written outside a mounted volume, so the container runs
# with a read-only root file system.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# The version every binary reports (--version, logs, telemetry), as `make build` stamps it.
ARG VERSION=dev
ARG TARGETOS
ARG TARGETARCH
# The module and build caches live in cache mounts, so that a rebuild after a change recompiles
# only what changed, without a dependency layer to keep in step with go.work. Both are named
# here rather than left to the image's defaults, so that the mounts are where Go looks.
ENV GOMODCACHE=/cache/go-mod GOCACHE=/cache/go-build
RUN --mount=type=bind,target=/src \
    --mount=type=cache,target=/cache/go-mod \
    --mount=type=cache,target=/cache/go-build \
    set -eu; \
    export CGO_ENABLED=0 GOOS="${TARGETOS:-linux}" GOARCH="${TARGETARCH:-amd64}" GOFLAGS=-buildvcs=false; \
    build() { go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o "/out/$1" "$2"; }; \
    build quarterdeck ./deploy/standalone; \
    build quarterdeck-gateway ./gateway/cmd/quarterdeck-gateway; \
    for cmd in services/*/cmd/quarterdeck-*; do build "$(basename "$cmd")" "./$cmd"; done

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="Quarterdeck" \
      org.opencontainers.image.description="Control plane of a CTO/CIO office: budget, vendors, risk and talent services and their gateway" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/ /usr/local/bin/
# 65532 is distroless's "nonroot"; numeric, so that Kubernetes' runAsNonRoot can check it.
USER 65532:65532
# The standalone platform by default, on every interface, its data under the /data volume.
ENV QUARTERDECK_HTTP_ADDR=:8080 \
    QUARTERDECK_DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/quarterdeck"]
