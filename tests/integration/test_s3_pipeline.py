"""S3 PUT bodies of several pieces, which the emulator hashes and writes on a worker while it
receives the next pieces: the ETag and the stored bytes, Content-MD5 and checksum refusals, a client
that goes away mid-body, and concurrent writers of one key. Real daemon, raw HTTP and boto3."""

import base64
import hashlib
import os
import socket
import threading
import time

MiB = 1024 * 1024
AUTH = ("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, "
        "Signature=" + "0" * 64)


# The fixtures emu (one daemon for the module), s3 (its boto3 client) and bucket (one per test)
# are conftest.py's.


def temp_files(emu, bucket):
    tmp = emu.data_dir / "s3" / bucket / "tmp"
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


def wait_for_no_temp_files(emu, bucket, seconds=10):
    deadline = time.monotonic() + seconds
    while temp_files(emu, bucket) and time.monotonic() < deadline:
        time.sleep(0.05)
    return temp_files(emu, bucket)


def test_multi_piece_put_has_the_md5_etag_and_every_byte(emu, s3, bucket):
    for size in (5 * MiB + 12345, 2 * MiB, 64 * 1024 + 1):
        body = os.urandom(size)
        result = emu.request("PUT", f"/{bucket}/big-{size}", body=body, headers={"Authorization": AUTH})
        assert result.status == 200, result
        assert result.headers["etag"] == f'"{hashlib.md5(body).hexdigest()}"'
        got = s3.get_object(Bucket=bucket, Key=f"big-{size}")
        assert got["ContentLength"] == size
        assert got["Body"].read() == body
    assert temp_files(emu, bucket) == []


def test_multi_piece_put_with_boto3_checksum_and_content_md5(s3, bucket):
    body = os.urandom(3 * MiB + 1)
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    put = s3.put_object(Bucket=bucket, Key="sha", Body=body, ContentMD5=md5, ChecksumAlgorithm="SHA256")
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'
    assert put["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(body).digest()).decode()
    assert s3.get_object(Bucket=bucket, Key="sha")["Body"].read() == body


def test_wrong_content_md5_on_a_multi_piece_body_is_bad_digest_and_stores_nothing(emu, s3, bucket):
    body = os.urandom(4 * MiB + 3)
    wrong = base64.b64encode(hashlib.md5(body[:-1]).digest()).decode()
    result = emu.request("PUT", f"/{bucket}/bad", body=body,
                         headers={"Authorization": AUTH, "Content-MD5": wrong})
    assert result.status == 400 and b"<Code>BadDigest</Code>" in result.body, result
    assert emu.request("HEAD", f"/{bucket}/bad", headers={"Authorization": AUTH}).status == 404
    assert wait_for_no_temp_files(emu, bucket) == []
    # An older version of the key survives a refused replacement whole.
    s3.put_object(Bucket=bucket, Key="kept", Body=b"old")
    result = emu.request("PUT", f"/{bucket}/kept", body=body, headers={"Authorization": AUTH, "Content-MD5": wrong})
    assert result.status == 400
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"old"


def test_wrong_sha256_on_a_multi_piece_body_is_refused(emu, bucket):
    body = os.urandom(3 * MiB)
    result = emu.request("PUT", f"/{bucket}/sha-bad", body=body,
                         headers={"Authorization": AUTH, "x-amz-content-sha256": hashlib.sha256(b"x").hexdigest()})
    assert result.status == 400 and b"<Code>XAmzContentSHA256Mismatch</Code>" in result.body, result
    assert emu.request("HEAD", f"/{bucket}/sha-bad", headers={"Authorization": AUTH}).status == 404


def test_client_disconnect_mid_body_leaves_no_object_and_no_temp_file(emu, s3, bucket):
    total = 16 * MiB
    sent = 6 * MiB
    with socket.create_connection((emu.host, emu.port), timeout=30) as conn:
        head = (f"PUT /{bucket}/cut HTTP/1.1\r\nHost: {emu.host}\r\nAuthorization: {AUTH}\r\n"
                f"Content-Length: {total}\r\n\r\n").encode()
        conn.sendall(head)
        chunk = os.urandom(MiB)
        for _ in range(sent // MiB):
            conn.sendall(chunk)
        # Let the daemon take in what was sent (pieces on the workers) before going away.
        time.sleep(0.5)
    assert wait_for_no_temp_files(emu, bucket) == []
    assert emu.request("HEAD", f"/{bucket}/cut", headers={"Authorization": AUTH}).status == 404
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket)
    assert emu.request("GET", "/healthz").status == 200


def test_concurrent_multi_piece_puts_of_one_key_leave_one_whole_winner(emu, bucket):
    bodies = [os.urandom(2 * MiB + 1000 * i) for i in range(6)]
    statuses = []

    def writer(body):
        statuses.append(emu.request("PUT", f"/{bucket}/contended", body=body,
                                    headers={"Authorization": AUTH}).status)

    threads = [threading.Thread(target=writer, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * len(bodies)
    final = emu.request("GET", f"/{bucket}/contended", headers={"Authorization": AUTH})
    assert final.body in bodies
    assert final.headers["etag"] == f'"{hashlib.md5(final.body).hexdigest()}"'
    assert wait_for_no_temp_files(emu, bucket) == []
