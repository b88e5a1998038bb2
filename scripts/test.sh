#!/usr/bin/env bash
# Builds the release preset (installing missing packages first) and runs every test through ctest:
# unit tests and the integration tests that drive a real stratus-emulator with the AWS CLI and
# boto3. Extra arguments go to ctest, e.g. `scripts/test.sh -L integration` or `-R invoke`.
# The integration tests use separate free ports and data directories, so two run in parallel.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

bash scripts/setup.sh release

status=0
ctest --preset release -j2 "$@" || status=$?
exit "${status}"
