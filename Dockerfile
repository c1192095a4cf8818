# The manager's image, for those who build with Docker (docker build . or
# make docker-build). `make image` builds the same image without Docker: same
# static binary and build flags, same user, entrypoint and labels.
ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY api/ api/
COPY cmd/ cmd/
COPY controllers/ controllers/
COPY internal/ internal/
RUN CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} go build -trimpath \
    -ldflags "-s -w \
      -X github.com/mqttoperator/mqtt-operator/internal/version.Version=${VERSION} \
      -X github.com/mqttoperator/mqtt-operator/internal/version.Commit=${COMMIT} \
      -X github.com/mqttoperator/mqtt-operator/internal/version.Date=${DATE}" \
    -o /out/manager ./cmd

FROM gcr.io/distroless/static:nonroot
ARG VERSION=dev
ARG COMMIT=unknown
ARG DATE=unknown
LABEL org.opencontainers.image.title="mqtt-operator" \
      org.opencontainers.image.description="Kubernetes operator that manages EMQX users, authorization rules and bans declaratively" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${COMMIT}" \
      org.opencontainers.image.created="${DATE}" \
      org.opencontainers.image.source="https://github.com/mqttoperator/mqtt-operator" \
      org.opencontainers.image.url="https://github.com/mqttoperator/mqtt-operator" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /out/manager /manager
USER 65532:65532
ENTRYPOINT ["/manager"]
