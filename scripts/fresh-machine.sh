#!/usr/bin/env bash
# Checks that the README's two commands work on a machine that has nothing but Debian 12: builds a
# clean Debian 12 (bookworm) root with debootstrap, copies this repository into it (with ../shared
# beside it, as CI has), then runs `scripts/demo.sh` and `scripts/test.sh` inside it and reports
# each command's exit code, duration and the ctest summary. The commands enter the root like a
# container does (a private mount namespace, pivot_root, the old root detached); --chroot uses a
# plain chroot instead, where the kernel refuses user namespaces to the chrooted process
# (test_sandbox's non-root case fails there) and /proc shows host paths for /dev descriptors.
#
#   scripts/fresh-machine.sh [--dir DIR] [--keep] [--mirror URL] [--source head|worktree]
#                            [--only demo|test] [--reuse-source] [--chroot]
#
#   --dir DIR      where the root is built (default: a new directory under /var/tmp; use a real
#                  disk, not tmpfs: the build needs a few GB)
#   --keep         keep the root afterwards (it is removed by default; mounts are always undone)
#   --mirror URL   Debian mirror (default http://deb.debian.org/debian)
#   --source S     `head` (default): a clone of the committed HEAD, as a fresh clone sees it;
#                  `worktree`: the tracked files as they are in the working tree, uncommitted
#                  edits included
#   --only C       run only one of the two commands (default: demo, then test)
#   --reuse-source keep the copy (and its build) already in DIR from an earlier --keep run
#   --chroot       enter the root with chroot (see above) instead of pivot_root
#
# Needs root (debootstrap, mount, unshare/chroot) and network access to the Debian mirror. debootstrap is
# installed with apt-get when missing: it is a tool of this script, not a dependency of Stratus.
# Exit status: 0 when both commands succeeded, 1 when either failed, 2 on a setup error.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root_dir=""
keep=0
mirror="http://deb.debian.org/debian"
source_mode="head"
commands=(demo test)
reuse_source=0
pivot=1

while (($# > 0)); do
  case "$1" in
    --dir) root_dir="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    --mirror) mirror="$2"; shift 2 ;;
    --source) source_mode="$2"; shift 2 ;;
    --only) commands=("$2"); shift 2 ;;
    --reuse-source) reuse_source=1; shift ;;
    --chroot) pivot=0; shift ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "fresh-machine.sh: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
case "${source_mode}" in head|worktree) ;; *) echo "fresh-machine.sh: --source head|worktree" >&2; exit 2 ;; esac

if [[ "$(id -u)" -ne 0 ]]; then
  echo "fresh-machine.sh: must run as root (debootstrap, mount and chroot need it)" >&2
  exit 2
fi

log() { printf '[fresh-machine %s] %s\n' "$(date -u +%H:%M:%S)" "$*"; }

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap (a tool of this script only)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap ||
    { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap; }
fi

if [[ -z "${root_dir}" ]]; then
  root_dir="$(mktemp -d /var/tmp/stratus-fresh.XXXXXX)"
else
  mkdir -p "${root_dir}"
  root_dir="$(cd "${root_dir}" && pwd)"
fi
if [[ "$(stat -f -c %T "${root_dir}")" == "tmpfs" ]]; then
  echo "fresh-machine.sh: ${root_dir} is on tmpfs; pick a disk location with --dir" >&2
  exit 2
fi
report_file="${root_dir}.report.txt"
mounted=()  # mount points inside the root, in the order they were mounted

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # Undo the mounts last-first; a recursive, lazy unmount as the fallback so a busy /dev or /sys
  # never stays attached to the host.
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[i]}" 2>/dev/null || umount -R -l "${mounted[i]}" 2>/dev/null ||
      echo "fresh-machine.sh: could not unmount ${mounted[i]}" >&2
  done
  if grep -q " ${root_dir}/" /proc/mounts 2>/dev/null; then
    echo "fresh-machine.sh: mounts are still attached under ${root_dir}; the root is kept" >&2
    keep=1
  fi
  if ((keep == 0)); then
    rm -rf --one-file-system "${root_dir}"
  else
    log "root kept at ${root_dir}"
  fi
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started_all=$(date +%s)
if [[ ! -x "${root_dir}/bin/bash" ]]; then
  log "debootstrap bookworm (minbase) into ${root_dir} from ${mirror}"
  t0=$(date +%s)
  debootstrap --variant=minbase bookworm "${root_dir}" "${mirror}" >"${root_dir}.debootstrap.log" 2>&1 ||
    { tail -n 30 "${root_dir}.debootstrap.log" >&2; exit 2; }
  log "debootstrap took $(($(date +%s) - t0)) s"
fi

# What a real Debian 12 machine has and a bare debootstrap root lacks: the full apt sources, an
# /etc/hosts that resolves localhost (tests resolve it), a resolv.conf for apt, a hostname.
cat >"${root_dir}/etc/apt/sources.list" <<EOF
deb ${mirror} bookworm main
deb ${mirror} bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
echo "stratus-fresh" >"${root_dir}/etc/hostname"
cat >"${root_dir}/etc/hosts" <<'EOF'
127.0.0.1	localhost
127.0.1.1	stratus-fresh
::1	localhost ip6-localhost ip6-loopback
ff02::1	ip6-allnodes
ff02::2	ip6-allrouters
EOF
rm -f "${root_dir}/etc/resolv.conf"
cp -L /etc/resolv.conf "${root_dir}/etc/resolv.conf"

# The repository at /work/stratus with /work/shared beside it, as on CI.
mkdir -p "${root_dir}/work"
if ((reuse_source)) && [[ -d "${root_dir}/work/stratus" ]]; then
  log "reusing the copy already in ${root_dir}/work/stratus"
elif [[ "${source_mode}" == "head" ]]; then
  rm -rf "${root_dir}/work/stratus" "${root_dir}/work/shared"
  log "copying the committed HEAD of ${repo_root} ($(git -C "${repo_root}" rev-parse --short HEAD))"
  git -C "${repo_root}" archive --format=tar --prefix=stratus/ HEAD | tar -x -C "${root_dir}/work"
else
  rm -rf "${root_dir}/work/stratus" "${root_dir}/work/shared"
  log "copying the tracked files of ${repo_root}'s working tree"
  mkdir -p "${root_dir}/work/stratus"
  (cd "${repo_root}" && git ls-files -z --cached --others --exclude-standard |
    tar --null -T - --ignore-failed-read -c 2>/dev/null) | tar -x -C "${root_dir}/work/stratus"
fi
if [[ -d "${repo_root}/../shared" && ! -d "${root_dir}/work/shared" ]]; then
  cp -a "$(cd "${repo_root}/../shared" && pwd)" "${root_dir}/work/shared"
fi

# /proc for process inspection, /sys for the cgroup hierarchy the sandbox uses (the host's cgroups,
# bound recursively so every mounted controller is there), /dev for null/urandom/pts/shm.
mount_into() {  # mount_into <target inside root> <mount args...>
  local target="${root_dir}$1"
  shift
  mkdir -p "${target}"
  mount "$@" "${target}"
  mounted+=("${target}")
  mount --make-rslave "${target}" 2>/dev/null || true  # unmounting it must not reach the host
}
# The root itself is a mount point, as / is on a real machine: without that the sandbox's private
# mount namespace is refused inside the chroot, functions then run in place under their own uid,
# and every test whose code sits in pytest's 0700 temporary directories fails with EACCES.
mount --bind "${root_dir}" "${root_dir}"
mounted+=("${root_dir}")
mount --make-private "${root_dir}" 2>/dev/null || true
mount_into /proc -t proc proc
mount_into /sys --rbind /sys
mount_into /dev --rbind /dev
if [[ ! -d "${root_dir}/dev/shm" ]] || ! mountpoint -q "${root_dir}/dev/shm"; then
  mount_into /dev/shm -t tmpfs -o mode=1777 shm
fi

run_in_root() {  # run_in_root <name> <command...>: runs in the root with a login-like environment
  local name="$1"
  shift
  local t0 status=0
  t0=$(date +%s)
  log "running '$*' in the fresh root (output: ${root_dir}.${name}.log)"
  local enter=(chroot "${root_dir}")
  if ((pivot)); then
    # A mount namespace of its own whose root is the fresh root; the old root is detached.
    enter=(unshare --mount --propagation private -- /bin/sh -c \
      'cd "$0" && mkdir -p .old-root && pivot_root . .old-root && cd / && umount -l /.old-root &&
       rmdir /.old-root && exec "$@"' "${root_dir}")
  fi
  "${enter[@]}" /usr/bin/env -i HOME=/root USER=root LOGNAME=root TERM=dumb LANG=C.UTF-8 \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c 'cd /work/stratus && "$@"' bash "$@" >"${root_dir}.${name}.log" 2>&1 || status=$?
  local took=$(($(date +%s) - t0))
  log "'$*' exited with ${status} after ${took} s"
  printf '%s\t%s\t%s\n' "${name}" "${status}" "${took}" >>"${report_file}"
  return "${status}"
}

: >"${report_file}"
demo_status=0
test_status=0
for command in "${commands[@]}"; do
  case "${command}" in
    demo) run_in_root demo scripts/demo.sh || demo_status=$? ;;
    test) run_in_root test scripts/test.sh || test_status=$? ;;
    *) echo "fresh-machine.sh: --only demo or --only test" >&2; exit 2 ;;
  esac
done

{
  echo
  echo "=== fresh Debian 12 root: ${root_dir} (source: ${source_mode}) ==="
  printf '%-6s %-6s %s\n' command exit seconds
  while IFS=$'\t' read -r name status took; do printf '%-6s %-6s %s\n' "${name}" "${status}" "${took}"; done \
    <"${report_file}"
  echo "--- ctest summary ---"
  if [[ -f "${root_dir}.test.log" ]]; then
    grep -E 'tests passed|tests failed|Total Test time|\(Failed\)|\(Timeout\)|\*\*\*|Not Run' \
      "${root_dir}.test.log" | grep -v 'Passed' | tail -n 40 || true
  fi
  if ((demo_status != 0)) && [[ -f "${root_dir}.demo.log" ]]; then
    echo "--- last 30 lines of the demo log ---"
    tail -n 30 "${root_dir}.demo.log"
  fi
  echo "total: $(($(date +%s) - started_all)) s; logs: ${root_dir}.{debootstrap,demo,test}.log"
} | tee -a "${report_file}"

((demo_status == 0 && test_status == 0))
