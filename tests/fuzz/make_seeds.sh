#!/usr/bin/env bash
# Writes the seed corpora for the fuzzers into OUT_DIR (default build/fuzz/fuzz/seeds):
#   OUT_DIR/router  request lines, one per file
#   OUT_DIR/config  JSON config documents
#   OUT_DIR/zip     small zips made with python3's zipfile (symlinks, executables, directories,
#                   Windows-made entries, zip64, a duplicate entry, setuid bits, an empty archive),
#                   and entry lists in fuzz_zip's structured format (see build_zip there)
#   OUT_DIR/s3_wire aws-chunked bodies as real clients send them, S3 XML request bodies, Range
#                   headers
# Seeds are generated, never committed; the script is idempotent (OUT_DIR is rewritten).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${1:-$root/build/fuzz/fuzz/seeds}
rm -rf "$out"
mkdir -p "$out/router" "$out/config" "$out/zip" "$out/s3_wire"

python3 - "$out" "$root" <<'PY'
import json, os, stat, sys, warnings, zipfile

warnings.simplefilter("ignore")  # the duplicate-entry seed is deliberate

out, root = sys.argv[1], sys.argv[2]

def write(kind, name, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(out, kind, name), mode) as f:
        f.write(data)

# --- router: "METHOD TARGET HTTP/1.1" ------------------------------------------------------
lines = [
    "GET /healthz HTTP/1.1",
    "GET /metrics HTTP/1.1",
    "GET /stratus/v1/usage HTTP/1.1",
    "GET /stratus/v1/environments HTTP/1.1",
    "GET /2016-08-19/account-settings HTTP/1.1",
    "POST /2015-03-31/functions HTTP/1.1",
    "GET /2015-03-31/functions?MaxItems=10&Marker=abc HTTP/1.1",
    "POST /2015-03-31/functions/echo/invocations HTTP/1.1",
    "POST /2015-03-31/functions/echo/invocations?Qualifier=%24LATEST HTTP/1.1",
    "POST /2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Aecho%3Aprod/invocations HTTP/1.1",
    "POST /2015-03-31/functions/000000000000%3Afunction%3Aecho/invocations HTTP/1.1",
    "POST /2014-11-13/functions/echo/invoke-async HTTP/1.1",
    "GET /2015-03-31/functions/my-func_1 HTTP/1.1",
    "DELETE /2015-03-31/functions/echo?Qualifier=1 HTTP/1.1",
    "GET /2015-03-31/functions/echo/configuration HTTP/1.1",
    "PUT /2015-03-31/functions/echo/configuration HTTP/1.1",
    "PUT /2015-03-31/functions/echo/code HTTP/1.1",
    "PUT /2017-10-31/functions/echo/concurrency HTTP/1.1",
    "DELETE /2017-10-31/functions/echo/concurrency HTTP/1.1",
    "GET /2019-09-30/functions/echo/concurrency HTTP/1.1",
    "PUT /2019-09-25/functions/echo/event-invoke-config HTTP/1.1",
    "POST /2019-09-25/functions/echo/event-invoke-config HTTP/1.1",
    "GET /2019-09-25/functions/echo/event-invoke-config HTTP/1.1",
    "DELETE /2019-09-25/functions/echo/event-invoke-config HTTP/1.1",
    "GET /2015-03-31/functions/bad%zz HTTP/1.1",
    "GET /2015-03-31/functions?a=%4 HTTP/1.1",
    "GET /nowhere/at/all?x=1+2&&y=%20 HTTP/1.1",
    "POST //2015-03-31//functions//echo//invocations HTTP/1.1",
    "eyJrZXkiOiAidmFsdWUifQ==",
    "aGVsbG8gd29ybGQ=",
    "echo:prod",
]
for i, line in enumerate(lines):
    write("router", f"line{i:02d}", line)

# --- config -----------------------------------------------------------------------------------
configs = {
    "empty": {},
    "listen": {"listen": {"address": "0.0.0.0", "port": 0}},
    "full": {
        "listen": {"address": "127.0.0.1", "port": 9001},
        "data_dir": "data",
        "region": "eu-west-1",
        "account_id": "123456789012",
        "account_concurrency": 500,
        "idle_keepalive_s": 1.5,
        "housekeeping_interval_ms": 100,
        "scale_up": {"environments": 10, "window_s": 0.5},
        "async": {"retry_delay_scale": 0.01},
        "shutdown_grace_s": 2,
        "init_timeout_s": 5,
        "prices": {"request_per_million": 0.2, "gb_second_x86_64": 1.66667e-05,
                   "gb_second_arm64": 1.33334e-05, "s3_put_per_1000": 0.005,
                   "s3_get_per_1000": 0.0004},
        "functions": [
            {"name": "echo", "code_dir": "fn/echo", "handler": "echo", "memory_mb": 256,
             "timeout_s": 30, "reserved_concurrency": 5, "provisioned": 1,
             "environment": {"A": "1", "B": ""}, "runtime": "provided.al2023",
             "architecture": "arm64", "description": "echoes"},
            {"name": "sleep", "code_dir": "/abs/sleep", "handler": "sleep",
             "reserved_concurrency": None},
        ],
    },
    "bad_type": {"listen": {"port": "9001"}},
    "bad_range": {"functions": [{"name": "x", "code_dir": "d", "handler": "h", "memory_mb": 64}]},
    "duplicate": {"functions": [{"name": "x", "code_dir": "d", "handler": "h"},
                                {"name": "x", "code_dir": "e", "handler": "h"}]},
    "unknown": {"listen": {"adress": "127.0.0.1"}},
    "function_only": {"name": "f", "code_dir": "../code", "handler": "main"},
}
for name, doc in configs.items():
    write("config", name + ".json", json.dumps(doc, indent=1))
write("config", "big_numbers.json", '{"listen": {"port": 18446744073709551615}, "idle_keepalive_s": 1e308}')
shipped = os.path.join(root, "config", "emulator.json")
if os.path.exists(shipped):
    with open(shipped) as f:
        write("config", "shipped_emulator.json", f.read())

# --- zip --------------------------------------------------------------------------------------
def info(name, mode, system=3, compress=zipfile.ZIP_DEFLATED):
    zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    zi.create_system = system
    zi.external_attr = (mode << 16) if system == 3 else 0x20  # MS-DOS archive flag
    if stat.S_ISDIR(mode):
        zi.external_attr |= 0x10  # MS-DOS directory flag
    zi.compress_type = compress
    return zi

def make_zip(name, entries, comment=b""):
    path = os.path.join(out, "zip", name + ".zip")
    with zipfile.ZipFile(path, "w") as zf:
        zf.comment = comment
        for zi, data in entries:
            zf.writestr(zi, data)

bootstrap = b"#!/bin/sh\nexec ./handler \"$@\"\n"
make_zip("function", [
    (info("bootstrap", stat.S_IFREG | 0o755), bootstrap),
    (info("lib/", stat.S_IFDIR | 0o755, compress=zipfile.ZIP_STORED), b""),
    (info("lib/helper.txt", stat.S_IFREG | 0o644, compress=zipfile.ZIP_STORED), b"helper\n"),
    (info("current", stat.S_IFLNK | 0o777, compress=zipfile.ZIP_STORED), b"lib"),
    (info("lib/run", stat.S_IFLNK | 0o777, compress=zipfile.ZIP_STORED), b"../bootstrap"),
])
make_zip("symlink_chain", [
    (info("bin/", stat.S_IFDIR | 0o755, compress=zipfile.ZIP_STORED), b""),
    (info("bin/tool", stat.S_IFREG | 0o700), b"\x7fELF" + b"\0" * 60),
    (info("latest", stat.S_IFLNK | 0o777, compress=zipfile.ZIP_STORED), b"bin"),
    (info("run", stat.S_IFLNK | 0o777, compress=zipfile.ZIP_STORED), b"latest/tool"),
    (info("bin/self", stat.S_IFLNK | 0o777, compress=zipfile.ZIP_STORED), b"."),
])
make_zip("windows", [
    (info("bootstrap", 0, system=0), bootstrap),
    (info("data/file.txt", 0, system=0, compress=zipfile.ZIP_STORED), b"x"),
])
make_zip("backslash", [
    (info("data\\file.txt", 0, system=0, compress=zipfile.ZIP_STORED), b"x"),
])
make_zip("setuid_and_dirs", [
    (info("a/b/c/", stat.S_IFDIR | 0o755), b""),
    (info("a/b/c/suid", stat.S_IFREG | 0o4755), b"suid"),
    (info("a/sgid", stat.S_IFREG | 0o2711), b"sgid"),
    (info("fifo", stat.S_IFIFO | 0o644, compress=zipfile.ZIP_STORED), b""),
], comment=b"made for fuzzing")
make_zip("duplicate", [
    (info("bootstrap", stat.S_IFREG | 0o755), b"one"),
    (info("bootstrap", stat.S_IFREG | 0o755), b"two"),
])
make_zip("compressible", [
    (info("zeros", stat.S_IFREG | 0o644), b"\0" * 65536),
    (info("./dot", stat.S_IFREG | 0o644, compress=zipfile.ZIP_STORED), b"dot"),
])
make_zip("empty", [])
# zip64 extra fields on a tiny entry.
path = os.path.join(out, "zip", "zip64.zip")
with zipfile.ZipFile(path, "w") as zf:
    zi = info("bootstrap", stat.S_IFREG | 0o755)
    with zf.open(zi, "w", force_zip64=True) as f:
        f.write(bootstrap)

# Entry lists for fuzz_zip's structured mode: "KIND NAME<TAB>CONTENT" per line.
def entries(name, lines):
    write("zip", name + ".entries", "".join(line + "\n" for line in lines))

entries("function", [
    "x bootstrap\t#!/bin/sh",
    "d lib/",
    "f lib/helper.txt\thelper",
    "l current\tlib",
    "l lib/run\t../bootstrap",
])
entries("nested", [
    "d a/",
    "d a/b/",
    "f a/b/c\tc",
    "l a/link\tb/c",
    "l a/b/here\t.",
])
entries("windows", [
    "X bootstrap\t#!/bin/sh",
    "D data/",
    "F data/x\tx",
])
entries("modes", [
    "xs bin/tool\ttool",
    "p pipe",
    "fc corrupt\tdata",
    "f plain\tplain",
])

# --- s3_wire: aws-chunked bodies, XML bodies, Range headers --------------------------------------
sig = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
def signed(data):
    return b"%x;chunk-signature=%s\r\n%s\r\n" % (len(data), sig.encode(), data)
wire = {
    "botocore_trailer": b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:NhCmhg==\r\n\r\n",
    "botocore_empty": b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
    "no_trailer": b"1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
    "js_no_checksum": b"5\r\nhello\r\n0\r\n",
    "signed": signed(b"hello") + signed(b" world") + b"0;chunk-signature=" + sig.encode() + b"\r\n\r\n",
    "signed_trailer": signed(b"hello") + b"0;chunk-signature=" + sig.encode() +
        b"\r\nx-amz-checksum-crc32c:mnG7TA==\r\nx-amz-trailer-signature:" + sig.encode() + b"\r\n\r\n",
    "minio_trailer": b"5\r\nhello\r\n0\r\nx-amz-checksum-crc64nvme:M3eFcAZSQlc=\n\r\n\r\n",
    "extensions": b"A;\r\n0123456789\r\n1 ; x=y\r\n!\r\n0\r\nA : b \r\n\r\n",
    "delete": b'<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
              b"<Quiet>true</Quiet><Object><Key>a&amp;b&#x0D;&#13;&#x1F600;</Key><VersionId>v1</VersionId>"
              b"</Object><Object><Key> </Key></Object><Object><Key><![CDATA[x<y]]></Key></Object></Delete>",
    "complete": b'<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Part>'
                b'<PartNumber>1</PartNumber><ETag>"0cc175b9c0f1b6a831c399e269772661"</ETag>'
                b"<ChecksumCRC32>6Le+Qw==</ChecksumCRC32><ChecksumCRC64NVME>rosUhgp5mIg=</ChecksumCRC64NVME>"
                b"</Part><Part><PartNumber>2</PartNumber><ETag>&quot;b&quot;</ETag></Part></CompleteMultipartUpload>",
    "create_bucket": b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                     b"<LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>",
    "xml_hostile": b'<?xml version="1.0"?>\r\n<!-- c --><Delete><Object><Key a="&lt;">k</Key></Object></Delete>',
    "range_first_last": b"bytes=0-9",
    "range_open": b"bytes=100-",
    "range_suffix": b"bytes=-500",
    "range_multi": b"bytes=0-1,5-6",
    "bucket": b"my-bucket.example",
    "key": "dir/caf\u00e9 \U0001F600.txt".encode(),
}
for name, data in wire.items():
    write("s3_wire", name, data)

PY

echo "seeds: $(find "$out" -type f | wc -l) files in $out"
