# raypilot: one static binary (webhook, scaler, expand, plan) on a
# distroless, non-root base.
#
#   make image                       # docker build with VERSION from git
#   docker build --build-arg VERSION=v0.1.0 -t raypilot/raypilot:v0.1.0 .
#
# Image references are written without a registry host: the engine's default
# registry (or your mirror) resolves them. BASE_IMAGE must be a distroless
# "static" image that runs as a non-root user; the default is Chainguard's
# static image as published on the engine's default registry. With a mirror
# of Google's distroless images, pass e.g.
#   --build-arg BASE_IMAGE=<mirror>/distroless/static-debian12:nonroot
ARG GO_IMAGE=golang:1.26
ARG BASE_IMAGE=chainguard/static:latest

FROM ${GO_IMAGE} AS build
WORKDIR /src
# Modules first, so source edits reuse the download layer.
COPY go.mod go.sum ./
RUN go mod download
# Everything .dockerignore lets through (sources, no tests, no charts).
COPY . .
ARG VERSION=dev
# Static (no cgo), reproducible paths, the version `raypilot version` prints
# (the same ldflag as `make build`).
RUN CGO_ENABLED=0 GOOS=linux go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/raypilot ./cmd/raypilot \
 && /out/raypilot version

FROM ${BASE_IMAGE}
COPY --from=build /out/raypilot /usr/local/bin/raypilot
# Numeric, so runAsNonRoot can verify it without /etc/passwd.
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/raypilot"]
