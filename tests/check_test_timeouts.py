"""Fails when a registered ctest has no TIMEOUT property.

A test without one waits for CI's own limit when it hangs (e.g. resolving a host a minimal machine
does not know); with one it fails in seconds or minutes, with its name. Reads the suite as ctest
sees it: `ctest --show-only=json-v1` in the build directory.
"""
import json
import subprocess
import sys


def main() -> int:
    ctest, build_dir = sys.argv[1], sys.argv[2]
    listing = subprocess.run([ctest, "--show-only=json-v1"], cwd=build_dir, check=True,
                             capture_output=True, text=True, timeout=120)
    tests = json.loads(listing.stdout)["tests"]
    missing = []
    for test in tests:
        props = {p["name"]: p["value"] for p in test.get("properties", [])}
        if not float(props.get("TIMEOUT", 0)) > 0:
            missing.append(test["name"])
    print(f"{len(tests)} tests registered, {len(tests) - len(missing)} with a TIMEOUT")
    for name in missing:
        print(f"no TIMEOUT: {name}")
    return 1 if missing or not tests else 0


if __name__ == "__main__":
    sys.exit(main())
