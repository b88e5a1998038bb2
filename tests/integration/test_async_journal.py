"""The durable async queue: a 202 means the event is in the journal on disk, so every accepted
event runs at least once whatever moment the daemon is killed (SIGKILL right after the 202s,
mid-run, while still accepting), and the records of finished events go to Lambda's
destinations: another function, or (on failure) an S3 bucket."""

import json
import os
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import (code_dir_with_cpp_bootstrap, cpp_function, default_config, wait_until)

# A bash+curl runtime that records each event it runs as an S3 object
# <RECORD_PREFIX>/<event's "n" or "x">/<request id> (body: the event), after sleeping the event's
# "ms". Counting objects counts runs, across daemon restarts (the S3 data is in the data dir).
RECORDER = """#!/bin/bash
set -u
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
headers="$(mktemp)"
while true; do
  event="$(curl -sS -D "$headers" "$api/next")"
  id="$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | tr -d '\\r' | awk '{print $2}')"
  n="$(sed -nE 's/^\\{"n": *([0-9]+),.*/\\1/p' <<<"$event")"
  ms="$(sed -nE 's/.*"ms": *([0-9]+).*/\\1/p' <<<"$event")"
  sleep "$(printf '0.%03d' "${ms:-0}")"
  n="${n:-x}"
  printf '%s' "$event" > /tmp/.event
  curl -sS -o /dev/null -X PUT --data-binary @/tmp/.event "$AWS_ENDPOINT_URL/$RECORD_BUCKET/$RECORD_PREFIX/$n/$id"
  curl -sS -o /dev/null --data-raw '{"recorded":true}' "$api/$id/response"
done
"""

BUCKET = "runs"


def recorder_dir(tmp_path):
    code = Path(tmp_path) / "recorder"
    code.mkdir(exist_ok=True)
    (code / "bootstrap").write_text(RECORDER)
    os.chmod(code / "bootstrap", 0o755)
    return code


def recorder_function(name, code, prefix, **overrides):
    # 1769 MB buys a whole vCPU: bash and curl start fast enough to keep the tests short.
    entry = {"name": name, "code_dir": str(code), "handler": "record", "timeout_s": 30,
             "memory_mb": 1769,
             "environment": {"RECORD_BUCKET": BUCKET, "RECORD_PREFIX": prefix}}
    entry.update(overrides)
    return entry


def recorded(emulator, prefix):
    """{n: number of runs} of the events recorded under prefix."""
    s3 = emulator.s3_client()
    counts = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix + "/"):
        for obj in page.get("Contents", []):
            n = obj["Key"].split("/")[1]
            counts[n] = counts.get(n, 0) + 1
    return counts


def send_events(emulator, function, numbers, ms, workers=10):
    def one(n):
        return n, emulator.invoke_raw(function, json.dumps({"n": n, "ms": ms}).encode(),
                                      headers={"X-Amz-Invocation-Type": "Event"}).status

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return dict(pool.map(one, numbers))


def journal_config(tmp_path, **async_overrides):
    code = recorder_dir(tmp_path)
    config = default_config(functions=[
        recorder_function("slow", code, "slow", reserved_concurrency=1)])
    config["async"].update(async_overrides)
    return config


def start_with_bucket(start_emulator, config, data_dir, name):
    emulator = start_emulator(config, data_dir=data_dir, name=name)
    s3 = emulator.s3_client()
    if BUCKET not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
        s3.create_bucket(Bucket=BUCKET)
    return emulator


@pytest.mark.parametrize("kill_after_runs", [0, 6])
def test_every_accepted_event_runs_after_sigkill(start_emulator, tmp_path, kill_after_runs):
    """The issue's reproduction: 30 events accepted for a function with reserved concurrency 1,
    the daemon SIGKILLed (at once, or after some ran), restarted on the same data dir."""
    config = journal_config(tmp_path)
    data_dir = tmp_path / "data"
    first = start_with_bucket(start_emulator, config, data_dir, "first")
    statuses = send_events(first, "slow", range(30), ms=150)
    assert set(statuses.values()) == {202}, statuses
    if kill_after_runs:
        wait_until(lambda: len(recorded(first, "slow")) >= kill_after_runs, timeout=30,
                   message=f"{kill_after_runs} events to run")
    first.kill_hard()
    second = start_with_bucket(start_emulator, config, data_dir, "second")
    counts = wait_until(lambda: (c := recorded(second, "slow")) and len(c) == 30 and c, timeout=60,
                        message="all 30 accepted events to have run")
    assert sorted(int(n) for n in counts) == list(range(30))
    assert "restored" in second.logs(), second.logs()


def test_events_accepted_while_the_daemon_is_killed_all_run(start_emulator, tmp_path):
    config = journal_config(tmp_path)
    data_dir = tmp_path / "data"
    first = start_with_bucket(start_emulator, config, data_dir, "first")
    statuses = {}
    lock = threading.Lock()

    def sender(numbers):
        for n in numbers:
            try:
                status = first.invoke_raw("slow", json.dumps({"n": n, "ms": 50}).encode(),
                                          headers={"X-Amz-Invocation-Type": "Event"}, timeout=10).status
            except (AssertionError, OSError):
                status = None  # the daemon died before answering: not accepted
            with lock:
                statuses[n] = status

    threads = [threading.Thread(target=sender, args=(range(i, 400, 4),)) for i in range(4)]
    for t in threads:
        t.start()
    wait_until(lambda: sum(s == 202 for s in list(statuses.values())) >= 40, timeout=30,
               message="some events accepted")
    first.kill_hard()
    for t in threads:
        t.join(timeout=60)
    accepted = {n for n, s in statuses.items() if s == 202}
    assert 40 <= len(accepted) < 400, len(accepted)
    second = start_with_bucket(start_emulator, config, data_dir, "second")
    wait_until(lambda: accepted <= {int(n) for n in recorded(second, "slow")}, timeout=120,
               message=f"all {len(accepted)} accepted events to have run")


def test_graceful_restart_keeps_queued_events_and_compacts_the_journal(start_emulator, tmp_path):
    config = journal_config(tmp_path)
    data_dir = tmp_path / "data"
    first = start_with_bucket(start_emulator, config, data_dir, "first")
    # Enough work queued (one at a time) to outlast the test's own steps until SIGTERM: with 10
    # events of 300 ms, a loaded machine had run all of them before the stop, and none was queued.
    events = 30
    assert set(send_events(first, "slow", range(events), ms=200).values()) == {202}
    wait_until(lambda: len(recorded(first, "slow")) >= 1, timeout=30, message="a first run")
    first.stop()  # SIGTERM: the running event finishes, the rest stay queued
    stayed = re.search(r"(\d+) queued events stay in the event journal", first.logs())
    assert stayed, first.logs()
    queued = int(stayed.group(1))
    assert 1 <= queued <= events - 1, first.logs()
    journal = data_dir / "async" / "events.journal"
    assert journal.stat().st_size > 0
    second = start_with_bucket(start_emulator, config, data_dir, "second")
    assert f"restored {queued} accepted events" in second.logs(), second.logs()
    # (The event running at SIGTERM finished, but its S3 write was refused: the daemon had
    # stopped accepting connections. The queued ones all run now.)
    wait_until(lambda: sum(e["invocations"] for e in second.environments("slow")) == queued,
               timeout=60, message=f"the {queued} queued events")
    wait_until(lambda: len(recorded(second, "slow")) >= events - 1, timeout=10, message="their records")
    second.stop()
    third = start_with_bucket(start_emulator, config, data_dir, "third")
    # Nothing pending: the replay rewrote the journal empty, and nothing runs again.
    assert journal.stat().st_size == 0
    assert "restored" not in third.logs()


def test_journal_can_be_switched_off(start_emulator, tmp_path):
    config = journal_config(tmp_path, journal=False)
    emulator = start_with_bucket(start_emulator, config, tmp_path / "data", "nojournal")
    assert set(send_events(emulator, "slow", range(3), ms=10).values()) == {202}
    wait_until(lambda: len(recorded(emulator, "slow")) == 3, timeout=30, message="three events")
    assert not (tmp_path / "data" / "async" / "events.journal").exists()


def read_object(emulator, bucket, key):
    return json.loads(emulator.s3_client().get_object(Bucket=bucket, Key=key)["Body"].read())


def test_destinations_function_on_success_and_s3_on_failure(start_emulator, tmp_path):
    cpp = code_dir_with_cpp_bootstrap(tmp_path)
    code = recorder_dir(tmp_path)
    emulator = start_with_bucket(start_emulator, default_config(functions=[
        cpp_function("fine", "echo", cpp),
        cpp_function("boom", "error", cpp),
        recorder_function("sink", code, "sink"),
    ]), tmp_path / "data", "dest")
    client = emulator.lambda_client()
    s3 = emulator.s3_client()
    s3.create_bucket(Bucket="failures")
    region_account = "us-east-1:000000000000"
    client.put_function_event_invoke_config(
        FunctionName="fine",
        DestinationConfig={"OnSuccess": {"Destination": f"arn:aws:lambda:{region_account}:function:sink"}})
    client.put_function_event_invoke_config(
        FunctionName="boom", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::failures"}})
    got = client.get_function_event_invoke_config(FunctionName="boom")
    assert got["DestinationConfig"] == {"OnFailure": {"Destination": "arn:aws:s3:::failures"}}

    client.invoke(FunctionName="fine", InvocationType="Event", Payload=b'{"hello":"world"}')
    client.invoke(FunctionName="boom", InvocationType="Event", Payload=b'{"k":1}')

    # On success the record is the sink function's event.
    wait_until(lambda: recorded(emulator, "sink"), timeout=30, message="the success record")
    key = s3.list_objects_v2(Bucket=BUCKET, Prefix="sink/")["Contents"][0]["Key"]
    record = read_object(emulator, BUCKET, key)
    assert record["version"] == "1.0" and record["timestamp"].endswith("Z"), record
    context = record["requestContext"]
    assert context["condition"] == "Success" and context["approximateInvokeCount"] == 1, record
    assert context["functionArn"] == f"arn:aws:lambda:{region_account}:function:fine:$LATEST"
    assert record["requestPayload"] == {"hello": "world"}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"hello": "world"}

    # On failure, one object in the bucket.
    listing = wait_until(lambda: s3.list_objects_v2(Bucket="failures").get("Contents"), timeout=30,
                         message="the failure record in S3")
    assert len(listing) == 1
    key = listing[0]["Key"]
    assert key.startswith("aws/lambda/async/boom/") and key.endswith(
        read_object(emulator, "failures", key)["requestContext"]["requestId"]), key
    record = read_object(emulator, "failures", key)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["requestPayload"] == {"k": 1}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "Custom.Failure"
    # Besides the destination, failures still go to the file.
    lines = (emulator.data_dir / "async" / "on-failure.jsonl").read_text().splitlines()
    assert [json.loads(line)["requestContext"]["requestId"] for line in lines] == \
        [record["requestContext"]["requestId"]]


@pytest.mark.parametrize("destination,which", [
    ("arn:aws:s3:::failures", "OnSuccess"),  # Lambda: S3 destinations are on-failure only
    ("arn:aws:sqs:us-east-1:000000000000:queue", "OnFailure"),
    ("arn:aws:lambda:us-east-1:000000000000:function:bad name", "OnFailure"),
    ("not-an-arn", "OnSuccess"),
])
def test_destinations_are_validated(start_emulator, tmp_path, destination, which):
    cpp = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(functions=[cpp_function("fn", "echo", cpp)]))
    client = emulator.lambda_client()
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.put_function_event_invoke_config(
            FunctionName="fn", DestinationConfig={which: {"Destination": destination}})
