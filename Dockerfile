# syntax=docker/dockerfile:1
# The auth-service image: the release binary alone, on a distroless base that
# brings glibc and CA certificates, running as a non-root user.
#   docker build -t auth-service .
#   docker run -p 3001:3001 -e AUTH_STORE=redis://redis:6379/0 -e AUTH_MASTER_KEY=… auth-service
# CI checks what this image relies on: the binary serves from an empty
# directory as a non-root user with only its environment
# (crates/server/tests/it/ops_kit.rs).

# Base images are pinned by digest, so a rebuild uses the bytes that were
# reviewed; update a pin deliberately (docker buildx imagetools inspect IMAGE).
FROM rust:1-bookworm@sha256:93ce27a88655056a51dbdd8f5f2d7ddc071c7b0070fb288a37b5a285fc83971e AS build
WORKDIR /src
# aws-lc-sys (the crypto behind rustls and the JWT signatures) builds with cmake.
RUN apt-get update && apt-get install -y --no-install-recommends cmake clang && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cargo build --release --locked -p auth-service \
 && install -m 0755 target/release/auth-service /auth-service

FROM gcr.io/distroless/cc-debian12:nonroot@sha256:9dac0a79194e45a7da0158a9c6da57b217585af0786db3845d1f0ec1a0dd182f
COPY --from=build /auth-service /usr/local/bin/auth-service
USER 65532:65532
WORKDIR /home/nonroot
EXPOSE 3001
ENTRYPOINT ["/usr/local/bin/auth-service"]
CMD ["serve"]
