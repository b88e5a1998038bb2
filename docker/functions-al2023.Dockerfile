# functions.zip, the deployment package of the product functions for AWS Lambda's provided.al2023
# runtime, built and then checked on Amazon Linux 2023 itself.
#
#   docker build -f docker/functions-al2023.Dockerfile --output type=local,dest=dist .
#   # -> dist/functions.zip: aws lambda create-function --runtime provided.al2023 --zip-file fileb://dist/functions.zip ...
#
# The bootstrap is compiled from Debian 12's packages (the project's only dependency source, through
# scripts/setup.sh) and linked fully static, glibc included, precisely so that it does not depend on
# the target's libraries: Amazon Linux 2023's glibc (2.34) is older than Debian 12's (2.36). The
# second stage proves that on Amazon Linux 2023: the binary from the zip loads, lists its handlers
# and speaks to a Runtime API there; only a zip that passed is exported.

FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY . /src
RUN CI=true bash scripts/setup.sh release \
 && cmake --build build/release --target functions-zip \
 && ctest --test-dir build/release -R 'functions.bootstrap_is_self_contained' --output-on-failure \
 && install -D -m 0644 build/release/functions/functions.zip /out/functions.zip

FROM public.ecr.aws/amazonlinux/amazonlinux:2023 AS check
# unzip to open the package as Lambda does; nothing else is installed: the bootstrap needs nothing.
RUN dnf install -y unzip && dnf clean all
COPY --from=build /out/functions.zip /out/functions.zip
WORKDIR /var/task
RUN set -eu; \
    unzip -q /out/functions.zip -d /var/task; \
    test -x /var/task/bootstrap; \
    # A handler that does not exist: the bootstrap must start, name the handlers it has, and try
    # the Runtime API (refused here) - i.e. it runs on this glibc and kernel interface.
    out="$(_HANDLER=no-such-handler AWS_LAMBDA_RUNTIME_API=127.0.0.1:1 /var/task/bootstrap 2>&1 || true)"; \
    echo "$out"; \
    echo "$out" | grep -q "this bootstrap provides: .*echo"; \
    echo "$out" | grep -q "cannot connect to the Runtime API at 127.0.0.1:1"

FROM scratch AS export
COPY --from=check /out/functions.zip /functions.zip
