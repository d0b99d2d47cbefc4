# A FROM scratch image of binaries already built by scripts/build-static.sh
# (see `make image-scratch`, which stages them with deploy/passwd as the
# build context): it needs no registry, so it can be built where the Go and
# distroless images cannot be pulled. The binaries are static, so scratch
# is enough; /etc/passwd names the non-root user.
FROM scratch
COPY passwd /etc/passwd
COPY councild councilctl /usr/local/bin/
USER 65532:65532
EXPOSE 50051 9464
ENV COUNCIL_ADDR=0.0.0.0:50051 \
    COUNCIL_ADMIN_ADDR=0.0.0.0:9464
ENTRYPOINT ["/usr/local/bin/councild"]
