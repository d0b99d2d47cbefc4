# councild's container image: a static build on the Go image, copied onto
# distroless/static (no shell, no libc), running as the non-root user 65532.
#
#   docker build --build-arg REVISION=$(git rev-parse HEAD) -t councild .
#   docker run -p 50051:50051 -e OPENROUTER_API_KEY councild
#
# The build stage runs scripts/build-static.sh, the same script that
# `make image-scratch` and the test in deploy/ run.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG REVISION=
ARG BUILD_TIME=
RUN REVISION="${REVISION}" BUILD_TIME="${BUILD_TIME}" scripts/build-static.sh /out

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/councild /out/councilctl /usr/local/bin/
USER 65532:65532
# gRPC, and the admin server with /metrics.
EXPOSE 50051 9464
ENV COUNCIL_ADDR=0.0.0.0:50051 \
    COUNCIL_ADMIN_ADDR=0.0.0.0:9464
ENTRYPOINT ["/usr/local/bin/councild"]
