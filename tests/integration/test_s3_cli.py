"""The emulator's S3 endpoint with Debian's AWS CLI (`aws s3` and `aws s3api`, including a 200 MB
multipart upload and download), crash safety under kill -9, and SigV4 verification for S3."""

import hashlib
import json
import os
import signal
import socket
import time

import pytest
from botocore.exceptions import ClientError

from conftest import default_config

MiB = 1024 * 1024


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MiB), b""):
            digest.update(block)
    return digest.hexdigest()


def write_random(path, size, seed):
    # Cheap, reproducible, incompressible-enough content for big files.
    block = hashlib.sha256(str(seed).encode()).digest() * (MiB // 32)
    with open(path, "wb") as f:
        written = 0
        counter = 0
        while written < size:
            chunk = bytes([counter & 0xFF]) + block[1:]
            chunk = chunk[:size - written]
            f.write(chunk)
            written += len(chunk)
            counter += 1


def test_aws_cli_s3_commands(emulator, tmp_path):
    emulator.aws_s3("s3", "mb", "s3://cli-bucket")
    assert "cli-bucket" in emulator.aws_s3("s3", "ls").stdout
    small = tmp_path / "small.txt"
    small.write_text("hello from the aws cli\n")
    emulator.aws_s3("s3", "cp", small, "s3://cli-bucket/docs/small.txt")
    listing = emulator.aws_s3("s3", "ls", "s3://cli-bucket/docs/").stdout
    assert "small.txt" in listing and str(small.stat().st_size) in listing
    back = tmp_path / "back.txt"
    emulator.aws_s3("s3", "cp", "s3://cli-bucket/docs/small.txt", back)
    assert back.read_text() == small.read_text()

    tree = tmp_path / "tree"
    for rel in ["a.txt", "sub/b.txt", "sub/deeper/c.bin", "with space/d e.txt"]:
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(hashlib.sha256(rel.encode()).digest() * 1000)
    emulator.aws_s3("s3", "sync", tree, "s3://cli-bucket/tree")
    # A second sync has nothing to do: sizes and times match.
    again = emulator.aws_s3("s3", "sync", tree, "s3://cli-bucket/tree").stdout
    assert "upload:" not in again
    mirror = tmp_path / "mirror"
    emulator.aws_s3("s3", "sync", "s3://cli-bucket/tree", mirror)
    for rel in ["a.txt", "sub/b.txt", "sub/deeper/c.bin", "with space/d e.txt"]:
        assert (mirror / rel).read_bytes() == (tree / rel).read_bytes()

    head = json.loads(emulator.aws_s3("s3api", "head-object", "--bucket", "cli-bucket",
                                      "--key", "sub/../tree/a.txt", check=False).stdout or "{}")
    assert head == {}  # no such key: the CLI failed and printed nothing on stdout
    head = json.loads(emulator.aws_s3("--output", "json", "s3api", "head-object", "--bucket", "cli-bucket",
                                      "--key", "tree/a.txt").stdout)
    assert head["ContentLength"] == 32000
    listed = json.loads(emulator.aws_s3("--output", "json", "s3api", "list-objects-v2", "--bucket",
                                        "cli-bucket", "--prefix", "tree/").stdout)
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(
        "tree/" + rel for rel in ["a.txt", "sub/b.txt", "sub/deeper/c.bin", "with space/d e.txt"])

    emulator.aws_s3("s3", "rm", "--recursive", "s3://cli-bucket/")
    assert emulator.aws_s3("s3", "ls", "s3://cli-bucket/", check=False).stdout.strip() == ""
    emulator.aws_s3("s3", "rb", "s3://cli-bucket")
    failed = emulator.aws_s3("s3", "ls", "s3://cli-bucket/", check=False)
    assert failed.returncode != 0 and "NoSuchBucket" in failed.stderr


def test_aws_cli_200_mb_multipart_round_trip(emulator, tmp_path):
    big = tmp_path / "big.bin"
    write_random(big, 200 * MiB + 12345, seed=7)
    emulator.aws_s3("s3", "mb", "s3://big-bucket")
    emulator.aws_s3("s3", "cp", big, "s3://big-bucket/big.bin")
    head = json.loads(emulator.aws_s3("--output", "json", "s3api", "head-object", "--bucket", "big-bucket",
                                      "--key", "big.bin").stdout)
    assert head["ContentLength"] == big.stat().st_size
    assert head["ETag"].strip('"').endswith("-26")  # the CLI's default 8 MiB parts: 25 full ones + the rest
    back = tmp_path / "back.bin"
    emulator.aws_s3("s3", "cp", "s3://big-bucket/big.bin", back)
    assert sha256_of(back) == sha256_of(big)
    usage = emulator.usage()["s3"]["buckets"]["big-bucket"]
    # Request bodies are counted whole: the object plus CompleteMultipartUpload's XML.
    assert big.stat().st_size <= usage["bytes_in"] < big.stat().st_size + 64 * 1024
    assert usage["bytes_out"] >= big.stat().st_size
    emulator.aws_s3("s3", "rm", "s3://big-bucket/big.bin")
    emulator.aws_s3("s3", "rb", "s3://big-bucket")


# ---- crash safety ---------------------------------------------------------------------------

def start_partial_put(emulator, path, total, send):
    """Sends the head and the first `send` bytes of a `total`-byte PUT, then stops sending."""
    sock = socket.create_connection((emulator.host, emulator.port), timeout=30)
    head = (f"PUT {path} HTTP/1.1\r\nHost: {emulator.host}:{emulator.port}\r\n"
            f"Content-Length: {total}\r\n\r\n").encode()
    sock.sendall(head)
    block = b"n" * MiB
    sent = 0
    while sent < send:
        chunk = block[:min(len(block), send - sent)]
        sock.sendall(chunk)
        sent += len(chunk)
    return sock


def test_kill_9_during_uploads_leaves_old_or_nothing(start_emulator, tmp_path):
    emulator = start_emulator()
    s3 = emulator.s3_client()
    s3.create_bucket(Bucket="crash")
    old = b"old version " * 1000
    s3.put_object(Bucket="crash", Key="replaced", Body=old)
    s3.put_object(Bucket="crash", Key="committed", Body=b"c" * (3 * MiB))
    sockets = [start_partial_put(emulator, "/crash/replaced", 64 * MiB, 40 * MiB),
               start_partial_put(emulator, "/crash/new-object", 64 * MiB, 20 * MiB)]
    upload = s3.create_multipart_upload(Bucket="crash", Key="multi")["UploadId"]
    part = s3.upload_part(Bucket="crash", Key="multi", UploadId=upload, PartNumber=1, Body=b"p" * (5 * MiB))
    # Let the daemon write what it received to its temporary files.
    time.sleep(0.5)
    emulator.signal(signal.SIGKILL)
    emulator.wait_exit()
    for sock in sockets:
        sock.close()

    emulator.start()
    s3 = emulator.s3_client()
    assert s3.get_object(Bucket="crash", Key="replaced")["Body"].read() == old
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket="crash", Key="new-object")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    committed = s3.get_object(Bucket="crash", Key="committed")
    assert committed["Body"].read() == b"c" * (3 * MiB)
    # The multipart upload survives the restart and can still be completed.
    done = s3.complete_multipart_upload(Bucket="crash", Key="multi", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert done["ETag"].endswith('-1"')
    assert s3.get_object(Bucket="crash", Key="multi")["Body"].read() == b"p" * (5 * MiB)
    # Nothing of the interrupted uploads is left on disk.
    leftovers = [p for p in (emulator.data_dir / "s3" / "crash" / "tmp").iterdir()]
    assert leftovers == []
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="crash")["Contents"])
    assert keys == ["committed", "multi", "replaced"]


def test_objects_survive_a_graceful_restart(start_emulator):
    emulator = start_emulator()
    s3 = emulator.s3_client()
    s3.create_bucket(Bucket="durable")
    s3.put_object(Bucket="durable", Key="k", Body=b"kept", Metadata={"m": "v"}, ContentType="text/x-kept")
    emulator.stop()
    emulator.start()
    s3 = emulator.s3_client()
    got = s3.get_object(Bucket="durable", Key="k")
    assert got["Body"].read() == b"kept" and got["Metadata"] == {"m": "v"}
    assert got["ContentType"] == "text/x-kept"


# ---- SigV4 ----------------------------------------------------------------------------------

def test_sigv4_verification_for_s3(start_emulator, tmp_path):
    config = default_config(sigv4={"enabled": True, "credentials": [
        {"access_key_id": "AKIDSTRATUS", "secret_access_key": "right-secret"}]})
    emulator = start_emulator(config)
    good = emulator.s3_client(access_key="AKIDSTRATUS", secret_key="right-secret")
    good.create_bucket(Bucket="signed")
    good.put_object(Bucket="signed", Key="k", Body=b"signed body")
    assert good.get_object(Bucket="signed", Key="k")["Body"].read() == b"signed body"

    wrong = emulator.s3_client(access_key="AKIDSTRATUS", secret_key="wrong-secret")
    with pytest.raises(ClientError) as error:
        wrong.get_object(Bucket="signed", Key="k")
    assert error.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as error:
        wrong.put_object(Bucket="signed", Key="k2", Body=b"x" * 100000)
    assert error.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    unknown = emulator.s3_client(access_key="AKIDUNKNOWN", secret_key="whatever")
    with pytest.raises(ClientError) as error:
        unknown.list_buckets()
    assert error.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    unsigned = emulator.request("GET", "/signed/k")
    assert unsigned.status == 403 and b"<Code>AccessDenied</Code>" in unsigned.body
    # A signed header that promises a different body than the one sent.
    tampered = emulator.request("PUT", "/signed/k3", body=b"abc", headers={
        "x-amz-content-sha256": hashlib.sha256(b"xyz").hexdigest(),
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDSTRATUS/20260101/us-east-1/s3/aws4_request, "
                         "SignedHeaders=host, Signature=" + "0" * 64})
    assert tampered.status in (400, 403)
    with pytest.raises(ClientError):
        good.head_object(Bucket="signed", Key="k2")
    # The CLI signs too.
    env_keys = {"AWS_ACCESS_KEY_ID": "AKIDSTRATUS", "AWS_SECRET_ACCESS_KEY": "right-secret"}
    original = emulator.aws_env
    emulator.aws_env = lambda: {**original(), **env_keys}
    listed = emulator.aws_s3("s3", "ls", "s3://signed/").stdout
    assert " k" in listed
    emulator.aws_env = original
    assert emulator.aws_s3("s3", "ls", "s3://signed/", check=False).returncode != 0
    good.delete_object(Bucket="signed", Key="k")
    good.delete_bucket(Bucket="signed")
