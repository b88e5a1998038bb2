"""`stratus-trainer stop` on a run whose functions ignore its stop flag (issue 11, section 3): the
trainer sets the flag, sets the function's reserved concurrency to 0 (AWS's kill switch), waits
through the run's alive markers until none runs, then puts the previous reservation back."""

import json
import threading
import time

from conftest import SOURCE_DIR, default_config, wait_until
from test_cases import run_trainer

FUNCTION = "rogue_worker"
BUCKET = "runs-rogue"
RUN = "rogue-run"


def rogue_function(reserved):
    return {"name": FUNCTION, "handler": "ignored", "code_dir": str(SOURCE_DIR / "tests" / "functions" / "ignores_stop"),
            "memory_mb": 128, "timeout_s": 30, "reserved_concurrency": reserved}


def run_config():
    return {"protocol": "stratus-model-averaging/1", "run_id": RUN, "bucket": BUCKET,
            "architecture": "cloud2018-casea/1", "dataset_bucket": BUCKET, "manifest_key": "datasets/none/manifest.json",
            "tree": [1, 4], "rounds": 3, "batches": 1, "batch_size": 1, "learning_rate": 0.1,
            "orchestration": "functions", "function": FUNCTION, "poll_ms": 50, "reserve_ms": 0,
            "rounds_per_invocation": 0, "shuffle": False, "shuffle_seed": 0}


def test_stop_on_a_run_that_ignores_its_flag(start_emulator):
    emulator = start_emulator(default_config(functions=[rogue_function(reserved=7)]))
    s3 = emulator.s3_client()
    lam = emulator.lambda_client()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=f"runs/{RUN}/config.json", Body=json.dumps(run_config()).encode())

    # The "run": chains that keep starting workers and never read the flag; like a worker's
    # re-invocation, a chain ends only when Lambda refuses its next invoke.
    keep_going = threading.Event()
    keep_going.set()
    accepted, throttled = [], []

    def driver():
        worker = 0
        while keep_going.is_set():
            try:
                lam.invoke(FunctionName=FUNCTION, InvocationType="RequestResponse",
                           Payload=json.dumps(f"{BUCKET} {RUN} {worker % 4}").encode())
                accepted.append(time.monotonic())
            except lam.exceptions.TooManyRequestsException:
                throttled.append(time.monotonic())
                return
            worker += 1

    drivers = [threading.Thread(target=driver) for _ in range(3)]
    for d in drivers:
        d.start()
    try:
        wait_until(lambda: len(emulator.environments(FUNCTION)) >= 2 and
                   any(e.get("state") == "busy" for e in emulator.environments(FUNCTION)), 20,
                   message="rogue workers running")
        wait_until(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix=f"runs/{RUN}/alive/").get("KeyCount", 0) >= 2,
                   20, message="alive markers")
        stopped = run_trainer("stop", RUN, "--bucket", BUCKET, "--target", emulator.url, "--timeout", 30,
                              "--json", timeout=60)
        returned = time.monotonic()
        summary = json.loads(stopped.stdout)
        # Everything it did, in order, and the wait ended with none running.
        assert summary["function"] == FUNCTION
        assert summary["previous_reserved_concurrency"] == 7
        assert summary["concurrency_set_to_zero"] and summary["concurrency_restored"]
        assert summary["running_at_stop"] >= 1 and summary["still_running"] == 0, summary
        assert not summary["timed_out"] and not summary["interrupted"]
        # None of the function's environments is busy once stop returns...
        assert not [e for e in emulator.environments(FUNCTION) if e.get("state") == "busy"], \
            emulator.environments(FUNCTION)
        # ...the kill switch throttled the driver while it was on...
        assert throttled
        # ...and the previous reservation is back.
        assert lam.get_function_concurrency(FunctionName=FUNCTION)["ReservedConcurrentExecutions"] == 7
    finally:
        keep_going.clear()
        for d in drivers:
            d.join(timeout=30)
    assert s3.get_object(Bucket=BUCKET, Key=f"runs/{RUN}/stop")["Body"].read()
    # Every chain ended at the kill switch, and no invocation started after stop returned.
    assert len(throttled) == len(drivers)
    invoked = emulator.usage()["functions"][FUNCTION]["invocations"]
    time.sleep(3)
    assert emulator.usage()["functions"][FUNCTION]["invocations"] == invoked
    assert not [e for e in emulator.environments(FUNCTION) if e.get("state") == "busy"]
    assert max(accepted) < returned


def test_stop_restores_no_reservation_as_none(start_emulator):
    emulator = start_emulator(default_config(functions=[rogue_function(reserved=None)]))
    s3 = emulator.s3_client()
    lam = emulator.lambda_client()
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=f"runs/{RUN}/config.json", Body=json.dumps(run_config()).encode())
    lam.invoke(FunctionName=FUNCTION, InvocationType="Event", Payload=json.dumps(f"{BUCKET} {RUN} 0").encode())
    wait_until(lambda: s3.list_objects_v2(Bucket=BUCKET, Prefix=f"runs/{RUN}/alive/").get("KeyCount", 0) > 0, 20,
               message="alive marker")
    stopped = run_trainer("stop", RUN, "--bucket", BUCKET, "--target", emulator.url, "--timeout", 30)
    out = stopped.stdout
    assert "reserved concurrency was unreserved" in out and "set to 0" in out and "removed again" in out, out
    assert "0 still are" in out, out
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=FUNCTION)
