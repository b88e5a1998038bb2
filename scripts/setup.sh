#!/usr/bin/env bash
# Installs the Debian packages Stratus needs (only the missing ones) and builds one CMake preset.
#
#   scripts/setup.sh [preset]        preset: release (default), debug, asan, fuzz
#
# STRATUS_PRESET=<preset> works too. With CI=true the build treats warnings as errors.
# Idempotent: a second run with everything installed and built only checks and returns quickly.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
preset="${1:-${STRATUS_PRESET:-release}}"

case "${preset}" in
  release|debug|asan|fuzz) ;;
  *) echo "setup.sh: unknown preset '${preset}' (expected release, debug, asan or fuzz)" >&2; exit 2 ;;
esac

packages=(
  build-essential cmake ninja-build ccache pkg-config
  libboost-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libssl-dev zlib1g-dev libzip-dev
  libcli11-dev libsimdjson-dev libeigen3-dev libgtest-dev libgmock-dev libbenchmark-dev
  awscli python3-boto3 python3-pytest python3-numpy curl zip unzip clang libclang-rt-14-dev
  # Debian 12's libzip-dev CMake config fails unless the libzip tools it lists are installed.
  zipcmp zipmerge ziptool
  # Images for the augment / predict functions (their static archives go into the bootstrap).
  libpng-dev libjpeg62-turbo-dev
  # SAM templates for the emulator (--template template.yaml).
  libyaml-cpp-dev
)

missing=()
for pkg in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null || true)"
  if [[ "${status}" != "install ok installed" ]]; then
    missing+=("${pkg}")
  fi
done

if ((${#missing[@]} > 0)); then
  echo "setup.sh: installing missing packages: ${missing[*]}"
  as_root=()
  if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
      as_root=(sudo)
    else
      echo "setup.sh: not root and sudo is unavailable; install as root: apt-get install ${missing[*]}" >&2
      exit 1
    fi
  fi
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

cd "${repo_root}"
build_dir="build/${preset}"
configure_args=()
if [[ "${CI:-}" == "true" ]]; then
  configure_args+=(-DSTRATUS_WERROR=ON)
fi

need_configure=0
if [[ ! -f "${build_dir}/CMakeCache.txt" || ! -f "${build_dir}/build.ninja" ]]; then
  need_configure=1
elif [[ "${CI:-}" == "true" ]] && ! grep -q '^STRATUS_WERROR:BOOL=ON$' "${build_dir}/CMakeCache.txt"; then
  # A tree configured outside CI must pick up -Werror before a CI build.
  need_configure=1
fi

if ((need_configure)); then
  cmake --preset "${preset}" "${configure_args[@]}"
fi
cmake --build --preset "${preset}" -j"$(nproc)"
