"""The emulator's S3 endpoint driven by Debian's boto3 and plain HTTP: buckets, objects, ranges,
listings, copies, batch deletes, multipart uploads, aws-chunked bodies with checksum trailers,
hostile keys, conditional requests, concurrent writers and metering."""

import base64
import binascii
import hashlib
import os
import threading
import urllib.parse

import pytest
from botocore.exceptions import ClientError

MiB = 1024 * 1024


# The fixtures emu (one daemon for the module), s3 (its boto3 client) and bucket (one per test)
# are conftest.py's.


def error_of(call, *args, **kwargs):
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    return info.value.response


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


# ---- checksums as S3 defines them (reference implementations for the tests) -----------------

def crc32_b64(data):
    return base64.b64encode(binascii.crc32(data).to_bytes(4, "big")).decode()


def _reflected_crc(data, poly, width):
    mask = (1 << width) - 1
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    crc = mask
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ mask


def crc32c_b64(data):
    return base64.b64encode(_reflected_crc(data, 0x82F63B78, 32).to_bytes(4, "big")).decode()


def crc64nvme_b64(data):
    return base64.b64encode(_reflected_crc(data, 0x9A6C9329AC4BC9B5, 64).to_bytes(8, "big")).decode()


def test_reference_checksums_match_published_check_values():
    assert _reflected_crc(b"123456789", 0x82F63B78, 32) == 0xE3069283
    assert _reflected_crc(b"123456789", 0x9A6C9329AC4BC9B5, 64) == 0xAE8B14860A799888


# ---- buckets --------------------------------------------------------------------------------

def test_bucket_lifecycle(s3, emu):
    s3.create_bucket(Bucket="lifecycle-bucket")
    assert "lifecycle-bucket" in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    head = s3.head_bucket(Bucket="lifecycle-bucket")
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200
    again = error_of(s3.create_bucket, Bucket="lifecycle-bucket")
    assert again["Error"]["Code"] == "BucketAlreadyOwnedByYou"
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 409
    s3.put_object(Bucket="lifecycle-bucket", Key="k", Body=b"x")
    full = error_of(s3.delete_bucket, Bucket="lifecycle-bucket")
    assert full["Error"]["Code"] == "BucketNotEmpty"
    assert full["ResponseMetadata"]["HTTPStatusCode"] == 409
    s3.delete_object(Bucket="lifecycle-bucket", Key="k")
    s3.delete_bucket(Bucket="lifecycle-bucket")
    missing = error_of(s3.head_bucket, Bucket="lifecycle-bucket")
    assert missing["ResponseMetadata"]["HTTPStatusCode"] == 404
    gone = error_of(s3.list_objects_v2, Bucket="lifecycle-bucket")
    assert gone["Error"]["Code"] == "NoSuchBucket"


@pytest.mark.parametrize("name", ["ab", "UPPER", "a..b", "-dash", "192.168.1.1", "x" * 64, "under_score"])
def test_invalid_bucket_names_are_refused(emu, name):
    result = emu.request("PUT", "/" + urllib.parse.quote(name))
    assert result.status == 400, result
    assert b"<Code>InvalidBucketName</Code>" in result.body


def test_bucket_location_and_region(s3):
    s3.create_bucket(Bucket="eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert s3.get_bucket_location(Bucket="eu-bucket")["LocationConstraint"] == "eu-west-1"
    head = s3.head_bucket(Bucket="eu-bucket")
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == "eu-west-1"
    s3.delete_bucket(Bucket="eu-bucket")


# ---- objects --------------------------------------------------------------------------------

def test_put_get_head_delete(s3, bucket):
    body = os.urandom(100_000)
    put = s3.put_object(Bucket=bucket, Key="dir/obj.bin", Body=body, ContentType="application/x-test",
                        Metadata={"owner": "stratus", "Mixed-Case": "v"})
    assert put["ETag"] == f'"{md5_hex(body)}"'
    got = s3.get_object(Bucket=bucket, Key="dir/obj.bin")
    assert got["Body"].read() == body
    assert got["ContentType"] == "application/x-test"
    assert got["ContentLength"] == len(body)
    assert got["Metadata"] == {"owner": "stratus", "mixed-case": "v"}
    assert got["ETag"] == put["ETag"]
    head = s3.head_object(Bucket=bucket, Key="dir/obj.bin")
    assert head["ContentLength"] == len(body)
    assert head["LastModified"] == got["LastModified"]
    s3.delete_object(Bucket=bucket, Key="dir/obj.bin")
    missing = error_of(s3.get_object, Bucket=bucket, Key="dir/obj.bin")
    assert missing["Error"]["Code"] == "NoSuchKey"
    assert missing["ResponseMetadata"]["HTTPStatusCode"] == 404
    head_missing = error_of(s3.head_object, Bucket=bucket, Key="dir/obj.bin")
    assert head_missing["ResponseMetadata"]["HTTPStatusCode"] == 404
    # Deleting what is not there is not an error in S3.
    s3.delete_object(Bucket=bucket, Key="dir/obj.bin")


def test_empty_object_and_overwrite(s3, bucket):
    s3.put_object(Bucket=bucket, Key="e", Body=b"")
    got = s3.get_object(Bucket=bucket, Key="e")
    assert got["Body"].read() == b"" and got["ETag"] == f'"{md5_hex(b"")}"'
    s3.put_object(Bucket=bucket, Key="e", Body=b"second")
    assert s3.get_object(Bucket=bucket, Key="e")["Body"].read() == b"second"


def test_range_reads(s3, bucket):
    body = bytes(range(256)) * 40  # 10240 bytes
    s3.put_object(Bucket=bucket, Key="r", Body=body)
    cases = {"bytes=0-9": (0, 10), "bytes=10-": (10, len(body) - 10), "bytes=-5": (len(body) - 5, 5),
             "bytes=100-999999": (100, len(body) - 100)}
    for header, (start, length) in cases.items():
        got = s3.get_object(Bucket=bucket, Key="r", Range=header)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 206, header
        assert got["Body"].read() == body[start:start + length], header
        assert got["ContentRange"] == f"bytes {start}-{start + length - 1}/{len(body)}", header
    bad = error_of(s3.get_object, Bucket=bucket, Key="r", Range=f"bytes={len(body)}-")
    assert bad["Error"]["Code"] == "InvalidRange"
    assert bad["ResponseMetadata"]["HTTPStatusCode"] == 416
    assert bad["ResponseMetadata"]["HTTPHeaders"]["content-range"] == f"bytes */{len(body)}"


def test_conditional_get(s3, bucket):
    put = s3.put_object(Bucket=bucket, Key="c", Body=b"conditional")
    same = error_of(s3.get_object, Bucket=bucket, Key="c", IfNoneMatch=put["ETag"])
    assert same["ResponseMetadata"]["HTTPStatusCode"] == 304
    other = error_of(s3.get_object, Bucket=bucket, Key="c", IfMatch='"0000"')
    assert other["ResponseMetadata"]["HTTPStatusCode"] == 412
    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=put["ETag"])["Body"].read() == b"conditional"


def test_content_md5_is_checked(emu, s3, bucket):
    good = base64.b64encode(hashlib.md5(b"payload").digest()).decode()
    s3.put_object(Bucket=bucket, Key="m", Body=b"payload", ContentMD5=good)
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    bad = emu.request("PUT", f"/{bucket}/m2", body=b"payload", headers={"Content-MD5": wrong})
    assert bad.status == 400 and b"<Code>BadDigest</Code>" in bad.body
    malformed = emu.request("PUT", f"/{bucket}/m2", body=b"payload", headers={"Content-MD5": "nope"})
    assert malformed.status == 400 and b"<Code>InvalidDigest</Code>" in malformed.body
    assert error_of(s3.head_object, Bucket=bucket, Key="m2")["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_boto3_flexible_checksum(s3, bucket):
    body = os.urandom(70_000)
    for algorithm, reference in (("CRC32", crc32_b64), ("CRC32C", crc32c_b64), ("SHA256", None)):
        put = s3.put_object(Bucket=bucket, Key=f"ck-{algorithm}", Body=body, ChecksumAlgorithm=algorithm)
        if reference:
            assert put[f"Checksum{algorithm}"] == reference(body)
        got = s3.get_object(Bucket=bucket, Key=f"ck-{algorithm}", ChecksumMode="ENABLED")
        assert got["Body"].read() == body


# ---- listings -------------------------------------------------------------------------------

def test_list_v2_pages_prefixes_and_delimiters(s3, bucket):
    keys = [f"data/{i // 100:02d}/item-{i:04d}" for i in range(1200)] + ["top-a", "top-b"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    listed = []
    pages = 0
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 500}):
        pages += 1
        listed += [o["Key"] for o in page.get("Contents", [])]
    assert listed == sorted(keys) and pages == 3
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["data/"]
    assert [o["Key"] for o in top["Contents"]] == ["top-a", "top-b"]
    sub = s3.list_objects_v2(Bucket=bucket, Prefix="data/", Delimiter="/", MaxKeys=5)
    assert [p["Prefix"] for p in sub["CommonPrefixes"]] == [f"data/{i:02d}/" for i in range(5)]
    assert sub["IsTruncated"] is True
    rest = s3.list_objects_v2(Bucket=bucket, Prefix="data/", Delimiter="/",
                              ContinuationToken=sub["NextContinuationToken"])
    assert [p["Prefix"] for p in rest["CommonPrefixes"]] == [f"data/{i:02d}/" for i in range(5, 12)]
    assert rest["IsTruncated"] is False
    after = s3.list_objects_v2(Bucket=bucket, StartAfter="data/11/item-1198")
    assert [o["Key"] for o in after["Contents"]] == ["data/11/item-1199", "top-a", "top-b"]
    v1 = s3.list_objects(Bucket=bucket, Prefix="data/05/", MaxKeys=10)
    assert len(v1["Contents"]) == 10 and v1["IsTruncated"] is True
    bad = error_of(s3.list_objects_v2, Bucket=bucket, ContinuationToken="garbage!")
    assert bad["Error"]["Code"] == "InvalidArgument"


def test_list_with_url_encoding_round_trips_awkward_keys(s3, bucket):
    keys = ["a b+c", "ünïcödé/ключ", "x%41y", "tab\there", "amp&lt;<>\"'"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]  # boto3 asks for url
    assert sorted(listed) == sorted(keys)
    for key in keys:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()


# ---- copy and batch delete ------------------------------------------------------------------

def test_copy_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"copy me", ContentType="text/plain", Metadata={"a": "1"})
    copied = s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src"})
    assert copied["CopyObjectResult"]["ETag"] == f'"{md5_hex(b"copy me")}"'
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["Body"].read() == b"copy me" and got["Metadata"] == {"a": "1"}
    assert got["ContentType"] == "text/plain"
    s3.copy_object(Bucket=bucket, Key="dst", CopySource=f"{bucket}/src", MetadataDirective="REPLACE",
                   Metadata={"b": "2"}, ContentType="application/json")
    replaced = s3.head_object(Bucket=bucket, Key="dst")
    assert replaced["Metadata"] == {"b": "2"} and replaced["ContentType"] == "application/json"
    itself = error_of(s3.copy_object, Bucket=bucket, Key="src", CopySource=f"{bucket}/src")
    assert itself["Error"]["Code"] == "InvalidRequest"
    missing = error_of(s3.copy_object, Bucket=bucket, Key="x", CopySource=f"{bucket}/nope")
    assert missing["Error"]["Code"] == "NoSuchKey"


def test_delete_objects(s3, bucket):
    for i in range(10):
        s3.put_object(Bucket=bucket, Key=f"d/{i}", Body=b"x")
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": f"d/{i}"} for i in range(6)]})
    assert sorted(d["Key"] for d in result["Deleted"]) == [f"d/{i}" for i in range(6)]
    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "d/6"}, {"Key": "absent"}], "Quiet": True})
    assert "Deleted" not in quiet and "Errors" not in quiet
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["d/7", "d/8", "d/9"]


def test_malformed_xml_bodies(emu, bucket):
    result = emu.request("POST", f"/{bucket}?delete", body=b"<Delete><Object><Key>unclosed")
    assert result.status == 400 and b"<Code>MalformedXML</Code>" in result.body


# ---- multipart ------------------------------------------------------------------------------

def test_multipart_upload(s3, bucket):
    parts_data = [os.urandom(5 * MiB), os.urandom(5 * MiB), os.urandom(1234)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="mp", ContentType="application/x-mp",
                                        Metadata={"kind": "multipart"})
    upload_id = upload["UploadId"]
    etags = []
    for number, data in enumerate(parts_data, start=1):
        etags.append(s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=number,
                                    Body=data)["ETag"])
    assert etags == [f'"{md5_hex(d)}"' for d in parts_data]
    listed = s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2, 3]
    assert [p["Size"] for p in listed["Parts"]] == [len(d) for d in parts_data]
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [upload_id]
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
    expected = hashlib.md5(b"".join(hashlib.md5(d).digest() for d in parts_data)).hexdigest() + "-3"
    assert done["ETag"] == f'"{expected}"'
    got = s3.get_object(Bucket=bucket, Key="mp")
    assert got["Body"].read() == b"".join(parts_data)
    assert got["ETag"] == done["ETag"] and got["Metadata"] == {"kind": "multipart"}
    assert got["ContentType"] == "application/x-mp"
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    gone = error_of(s3.upload_part, Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=4, Body=b"x")
    assert gone["Error"]["Code"] == "NoSuchUpload"


def test_multipart_errors(s3, bucket):
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="bad")["UploadId"]
    small = s3.upload_part(Bucket=bucket, Key="bad", UploadId=upload_id, PartNumber=1, Body=b"tiny")["ETag"]
    last = s3.upload_part(Bucket=bucket, Key="bad", UploadId=upload_id, PartNumber=2, Body=b"end")["ETag"]

    def complete(parts):
        return error_of(s3.complete_multipart_upload, Bucket=bucket, Key="bad", UploadId=upload_id,
                        MultipartUpload={"Parts": parts})

    assert complete([{"PartNumber": 2, "ETag": last}, {"PartNumber": 1, "ETag": small}])["Error"]["Code"] == \
        "InvalidPartOrder"
    assert complete([{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}])["Error"]["Code"] == \
        "InvalidPart"
    assert complete([{"PartNumber": 1, "ETag": small}, {"PartNumber": 2, "ETag": last}])["Error"]["Code"] == \
        "EntityTooSmall"
    bad_number = error_of(s3.upload_part, Bucket=bucket, Key="bad", UploadId=upload_id, PartNumber=10001,
                          Body=b"x")
    assert bad_number["Error"]["Code"] == "InvalidArgument"
    s3.abort_multipart_upload(Bucket=bucket, Key="bad", UploadId=upload_id)
    assert error_of(s3.list_parts, Bucket=bucket, Key="bad", UploadId=upload_id)["Error"]["Code"] == "NoSuchUpload"
    assert error_of(s3.abort_multipart_upload, Bucket=bucket, Key="bad",
                    UploadId="not-an-upload")["Error"]["Code"] == "NoSuchUpload"


def test_boto3_upload_file_and_download_file(s3, bucket, tmp_path):
    from boto3.s3.transfer import TransferConfig
    source = tmp_path / "source.bin"
    source.write_bytes(os.urandom(23 * MiB + 17))
    config = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)
    s3.upload_file(str(source), bucket, "transfer/source.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="transfer/source.bin")
    assert head["ContentLength"] == source.stat().st_size and head["ETag"].endswith('-3"')
    target = tmp_path / "target.bin"
    s3.download_file(bucket, "transfer/source.bin", str(target), Config=config)
    assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(source.read_bytes()).digest()


# ---- aws-chunked bodies with trailing checksums (what current AWS CLIs and SDKs send) ---------

def aws_chunked(payload, chunk_size, trailer_name=None, trailer_value=None, signed=False):
    out = b""
    for start in range(0, len(payload), chunk_size):
        chunk = payload[start:start + chunk_size]
        extension = (";chunk-signature=" + "a" * 64).encode() if signed else b""
        out += f"{len(chunk):x}".encode() + extension + b"\r\n" + chunk + b"\r\n"
    out += b"0" + ((";chunk-signature=" + "b" * 64).encode() if signed else b"") + b"\r\n"
    if trailer_name:
        out += f"{trailer_name}:{trailer_value}\r\n".encode()
        if signed:
            out += b"x-amz-trailer-signature:" + b"c" * 64 + b"\r\n"
    out += b"\r\n"
    return out


def put_chunked(emu, path, payload, chunk_size=65536, algorithm="crc32", value=None, signed=False,
                encoded=None, extra_headers=None):
    trailer = f"x-amz-checksum-{algorithm}" if algorithm else None
    if algorithm and value is None:
        value = {"crc32": crc32_b64, "crc32c": crc32c_b64, "crc64nvme": crc64nvme_b64}[algorithm](payload)
    body = encoded if encoded is not None else aws_chunked(payload, chunk_size, trailer, value, signed)
    headers = {"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(payload)),
               "x-amz-content-sha256": ("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" if signed and trailer else
                                        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" if signed else
                                        "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
               "Content-Length": str(len(body))}
    if trailer:
        headers["x-amz-trailer"] = trailer
    headers.update(extra_headers or {})
    return emu.request("PUT", path, body=body, headers=headers)


@pytest.mark.parametrize("algorithm", ["crc32", "crc32c", "crc64nvme"])
def test_aws_chunked_with_checksum_trailer(emu, s3, bucket, algorithm):
    payload = os.urandom(300_000)
    result = put_chunked(emu, f"/{bucket}/chunked-{algorithm}", payload, algorithm=algorithm)
    assert result.status == 200, result
    assert result.headers["etag"] == f'"{md5_hex(payload)}"'
    expected = {"crc32": crc32_b64, "crc32c": crc32c_b64, "crc64nvme": crc64nvme_b64}[algorithm](payload)
    assert result.headers[f"x-amz-checksum-{algorithm}"] == expected
    got = s3.get_object(Bucket=bucket, Key=f"chunked-{algorithm}")
    assert got["Body"].read() == payload
    assert "ContentEncoding" not in got  # aws-chunked is transport framing, not stored


def test_aws_chunked_checksum_mismatch_is_refused_and_nothing_stored(emu, s3, bucket):
    payload = os.urandom(100_000)
    result = put_chunked(emu, f"/{bucket}/bad-crc", payload, value=crc32_b64(b"something else"))
    assert result.status == 400 and b"<Code>BadDigest</Code>" in result.body, result
    assert error_of(s3.head_object, Bucket=bucket, Key="bad-crc")["ResponseMetadata"]["HTTPStatusCode"] == 404
    # The connection-level damage is contained: the daemon still serves.
    assert emu.request("GET", "/healthz").status == 200


def test_aws_chunked_signed_chunks_and_tiny_chunks(emu, s3, bucket):
    payload = os.urandom(20_000)
    result = put_chunked(emu, f"/{bucket}/signed", payload, chunk_size=8192, signed=True)
    assert result.status == 200, result
    result = put_chunked(emu, f"/{bucket}/tiny", payload[:100], chunk_size=1, algorithm=None)
    assert result.status == 200, result
    assert s3.get_object(Bucket=bucket, Key="tiny")["Body"].read() == payload[:100]


@pytest.mark.parametrize("encoded,why", [
    (b"zz\r\nabc\r\n0\r\n\r\n", "bad hex"),
    (b"5\r\nabc\r\n0\r\n\r\n", "short chunk"),
    (b"3\r\nabcXY0\r\n\r\n", "missing CRLF"),
    (b"ffffffffffffffffff\r\nabc\r\n", "size overflow"),
    (b"3\r\nabc\r\n", "truncated before final chunk"),
])
def test_malformed_aws_chunked_bodies_are_refused(emu, s3, bucket, encoded, why):
    result = put_chunked(emu, f"/{bucket}/malformed", b"abc", algorithm=None, encoded=encoded)
    assert result.status == 400, (why, result)
    assert error_of(s3.head_object, Bucket=bucket, Key="malformed")["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_decoded_length_mismatch(emu, s3, bucket):
    encoded = aws_chunked(b"abcdef", 3)
    result = put_chunked(emu, f"/{bucket}/len", b"abcdef", algorithm=None, encoded=encoded,
                         extra_headers={"x-amz-decoded-content-length": "7"})
    assert result.status == 400, result


# ---- hostile keys ---------------------------------------------------------------------------

def test_hostile_keys_stay_inside_the_bucket(emu, s3, bucket):
    keys = ["../../../../etc/passwd", "/absolute/path", "a/../../b", "..", ".", "a//b//", "\\windows\\path",
            "k" * 1024, "ключ/../" * 10, "trailing/"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert listed == sorted(keys)
    # Every file the store wrote is inside the bucket's own directory.
    bucket_dir = (emu.data_dir / "s3" / bucket).resolve()
    for path in (emu.data_dir / "s3").rglob("*"):
        assert path.resolve().is_relative_to((emu.data_dir / "s3").resolve())
    assert not (emu.data_dir / "etc").exists() and not (emu.data_dir.parent / "etc").exists()
    assert bucket_dir.is_dir()
    too_long = emu.request("PUT", f"/{bucket}/" + "k" * 1025, body=b"x")
    assert too_long.status == 400 and b"<Code>KeyTooLongError</Code>" in too_long.body


def test_invalid_utf8_key_is_refused(emu, bucket):
    result = emu.request("PUT", f"/{bucket}/bad%FF%FEkey", body=b"x")
    assert result.status == 400, result


# ---- concurrency ----------------------------------------------------------------------------

def test_concurrent_writers_of_one_key_leave_one_complete_version(emu, bucket):
    bodies = [bytes([i]) * (3 * MiB + i) for i in range(8)]
    statuses = []

    def writer(body):
        statuses.append(emu.request("PUT", f"/{bucket}/contended", body=body).status)

    threads = [threading.Thread(target=writer, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 8
    final = emu.request("GET", f"/{bucket}/contended")
    assert final.body in bodies
    assert final.headers["etag"] == f'"{md5_hex(final.body)}"'


# ---- metering -------------------------------------------------------------------------------

def test_requests_and_bytes_are_metered(emu, s3):
    s3.create_bucket(Bucket="metered")
    s3.put_object(Bucket="metered", Key="a", Body=b"x" * 1000)
    s3.get_object(Bucket="metered", Key="a")["Body"].read()
    s3.get_object(Bucket="metered", Key="a", Range="bytes=0-99")["Body"].read()
    s3.list_objects_v2(Bucket="metered")
    usage = emu.usage()["s3"]["buckets"]["metered"]
    assert usage["write_requests"] == 3  # CreateBucket, PutObject, ListObjectsV2
    assert usage["read_requests"] == 2
    assert usage["bytes_in"] == 1000 and usage["bytes_out"] == 1100
    assert usage["cost_usd"] == pytest.approx(3 * 0.005 / 1000 + 2 * 0.0004 / 1000)
    metrics = emu.request("GET", "/metrics").body.decode()
    assert 'stratus_s3_write_requests_total{bucket="metered"} 3' in metrics
    assert 'stratus_s3_bytes_out_total{bucket="metered"} 1100' in metrics
    s3.delete_object(Bucket="metered", Key="a")
    s3.delete_bucket(Bucket="metered")


def test_unsupported_subresource_is_not_implemented(emu, bucket):
    result = emu.request("GET", f"/{bucket}?acl")
    assert result.status == 501 and b"<Code>NotImplemented</Code>" in result.body


def test_bucket_named_like_a_lambda_api_version_is_routed_by_signature(s3):
    # Unsigned, "/2015-03-31/..." is Lambda's; signed for s3, it is a bucket.
    s3.create_bucket(Bucket="2015-03-31")
    s3.put_object(Bucket="2015-03-31", Key="functions/x", Body=b"not lambda")
    assert s3.get_object(Bucket="2015-03-31", Key="functions/x")["Body"].read() == b"not lambda"
    s3.delete_object(Bucket="2015-03-31", Key="functions/x")
    s3.delete_bucket(Bucket="2015-03-31")
