"""functions.zip, the product's deployment package, deployed the way it is deployed to AWS: created
with the AWS CLI from the zip (runtime provided.al2023), then the `gradient` and `gradient_z`
handlers invoked and checked against an independent pure-Python computation, including an
independent implementation of the stratus-tensor/1 wire format."""

import base64
import json
import random
import stat
import struct
import zipfile
import zlib

import pytest

from conftest import BUILD_DIR, PRODUCT_BOOTSTRAP, ROLE_ARN, default_config, require_file, \
    running_emulator

FUNCTIONS_ZIP = BUILD_DIR / "functions" / "functions.zip"
TENSOR_FORMAT = "stratus-tensor/1"
FLOAT32, FLOAT64 = 1, 2


# ---- stratus-tensor/1, written from the format description -------------------------------------

def encode_tensor(dtype, shape, values):
    code = {FLOAT32: "f", FLOAT64: "d"}[dtype]
    raw = (b"STRT" + bytes([1, dtype, len(shape), 0]) + struct.pack(f"<{len(shape)}Q", *shape) +
           struct.pack(f"<{len(values)}{code}", *values))
    return base64.b64encode(zlib.compress(raw, 6)).decode()


def decode_tensor(text):
    raw = zlib.decompress(base64.b64decode(text, validate=True))
    assert raw[:4] == b"STRT", raw[:8]
    version, dtype, rank, reserved = raw[4:8]
    assert (version, reserved) == (1, 0), raw[:8]
    shape = list(struct.unpack_from(f"<{rank}Q", raw, 8))
    count = 1
    for dim in shape:
        count *= dim
    code, size = {FLOAT32: ("f", 4), FLOAT64: ("d", 8)}[dtype]
    offset = 8 + 8 * rank
    assert len(raw) == offset + count * size, (len(raw), shape)
    return dtype, shape, list(struct.unpack_from(f"<{count}{code}", raw, offset))


# ---- the problem and its expected gradient ---------------------------------------------------

def float32(value):
    return struct.unpack("<f", struct.pack("<f", value))[0]


def make_problem(rows, features, seed, dyadic):
    """x, y float32-representable (as the trainer generates them). Dyadic values (k/16) keep every
    product and sum exact in double, so the expected result is exact whatever the summation order."""
    rng = random.Random(seed)
    if dyadic:
        draw = lambda: rng.randint(-64, 64) / 16  # noqa: E731
    else:
        draw = lambda: float32(rng.uniform(-2.0, 2.0))  # noqa: E731
    x = [[draw() for _ in range(features)] for _ in range(rows)]
    y = [draw() for _ in range(rows)]
    weights = [draw() for _ in range(features)]
    bias = draw()
    return x, y, weights, bias


def expected_gradient(x, y, weights, bias):
    """Gradient of 0.5 * sum of squared residuals: sums over the shard, not means."""
    gradient = [0.0] * len(weights)
    bias_gradient = sse = 0.0
    for row, target in zip(x, y):
        residual = sum(a * w for a, w in zip(row, weights)) + bias - target
        for j, value in enumerate(row):
            gradient[j] += residual * value
        bias_gradient += residual
        sse += residual * residual
    return gradient, bias_gradient, sse


def json_request(x, y, weights, bias, epoch=2, step=5, shard=3):
    return {"epoch": epoch, "step": step, "shard": shard, "weights": weights, "bias": bias,
            "x": x, "y": y}


def z_request(x, y, weights, bias, epoch=2, step=5, shard=3):
    rows, features = len(x), len(weights)
    return {"epoch": epoch, "step": step, "shard": shard, "format": TENSOR_FORMAT,
            "weights": encode_tensor(FLOAT64, [features], weights), "bias": bias,
            "x": encode_tensor(FLOAT32, [rows, features], [v for row in x for v in row]),
            "y": encode_tensor(FLOAT32, [rows], y)}


def close(a, b, scale):
    return abs(a - b) <= 1e-12 * max(1.0, abs(scale))


# ---- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    require_file(FUNCTIONS_ZIP, "functions.zip (target functions-zip)")
    with running_emulator(tmp_path_factory.mktemp("packaging"), default_config()) as emulator:
        for name, handler in (("gradient", "gradient"), ("gradient-z", "gradient_z")):
            created = emulator.aws("create-function", "--function-name", name,
                                   "--runtime", "provided.al2023", "--handler", handler,
                                   "--role", ROLE_ARN, "--timeout", "10",
                                   "--zip-file", f"fileb://{FUNCTIONS_ZIP}")
            assert created["Handler"] == handler, created
            assert created["Runtime"] == "provided.al2023", created
        yield emulator


def invoke(emulator, function, document, tmp_path):
    """aws lambda invoke; returns (metadata, decoded response document)."""
    request = tmp_path / f"{function}-request.json"
    response = tmp_path / f"{function}-response.json"
    request.write_text(json.dumps(document))
    metadata = emulator.aws("invoke", "--function-name", function,
                            "--payload", f"fileb://{request}", response)
    assert metadata["StatusCode"] == 200, metadata
    return metadata, json.loads(response.read_text())


# ---- tests -------------------------------------------------------------------------------------

def test_zip_holds_the_executable_bootstrap_at_its_root():
    bootstrap = require_file(PRODUCT_BOOTSTRAP, "product bootstrap")
    with zipfile.ZipFile(require_file(FUNCTIONS_ZIP, "functions.zip")) as archive:
        entries = archive.infolist()
        assert [entry.filename for entry in entries] == ["bootstrap"]
        entry = entries[0]
        assert entry.create_system == 3  # unix: extractors (and Lambda) honour the mode bits
        assert entry.external_attr >> 16 == stat.S_IFREG | 0o755
        assert entry.date_time == (2024, 1, 1, 0, 0, 0)
        assert archive.read(entry) == bootstrap.read_bytes()


def test_gradient_from_the_zip_matches_python_exactly(emulator, tmp_path):
    x, y, weights, bias = make_problem(rows=37, features=5, seed=1, dyadic=True)
    metadata, result = invoke(emulator, "gradient", json_request(x, y, weights, bias), tmp_path)
    assert "FunctionError" not in metadata, result
    gradient, bias_gradient, sse = expected_gradient(x, y, weights, bias)
    assert result == {"epoch": 2, "step": 5, "shard": 3, "gradient": gradient,
                      "bias_gradient": bias_gradient, "sse": sse, "rows": 37}


def test_gradient_z_from_the_zip_matches_python_exactly(emulator, tmp_path):
    x, y, weights, bias = make_problem(rows=37, features=5, seed=2, dyadic=True)
    metadata, result = invoke(emulator, "gradient-z", z_request(x, y, weights, bias), tmp_path)
    assert "FunctionError" not in metadata, result
    gradient, bias_gradient, sse = expected_gradient(x, y, weights, bias)
    dtype, shape, values = decode_tensor(result.pop("gradient"))
    assert (dtype, shape, values) == (FLOAT64, [5], gradient)
    assert result == {"epoch": 2, "step": 5, "shard": 3, "format": TENSOR_FORMAT,
                      "bias_gradient": bias_gradient, "sse": sse, "rows": 37}


def test_both_variants_agree_bit_for_bit_and_with_python(emulator, tmp_path):
    # Not dyadic: summation order matters, so Python is only close, but the two variants compute
    # on the same doubles in the same order and must agree exactly.
    x, y, weights, bias = make_problem(rows=300, features=12, seed=3, dyadic=False)
    _, plain = invoke(emulator, "gradient", json_request(x, y, weights, bias, shard=7), tmp_path)
    _, zipped = invoke(emulator, "gradient-z", z_request(x, y, weights, bias, shard=7), tmp_path)
    _, _, zipped_gradient = decode_tensor(zipped["gradient"])
    assert zipped_gradient == plain["gradient"]
    for key in ("bias_gradient", "sse", "rows", "epoch", "step", "shard"):
        assert zipped[key] == plain[key], key

    gradient, bias_gradient, sse = expected_gradient(x, y, weights, bias)
    for got, want in zip(plain["gradient"], gradient):
        assert close(got, want, sse), (got, want)
    assert close(plain["bias_gradient"], bias_gradient, sse)
    assert close(plain["sse"], sse, sse)


@pytest.mark.parametrize("function, document, message", [
    ("gradient", {"epoch": 1, "step": 0, "shard": 0}, 'missing field "weights"'),
    ("gradient", json_request([[1.0, 2.0]], [1.0, 2.0], [0.5, 0.5], 0.0),
     '"x" has 1 rows but "y" has 2 values'),
    ("gradient-z", dict(z_request([[1.0]], [1.0], [1.0], 0.0), format="stratus-tensor/9"),
     '"format" must be "stratus-tensor/1"'),
    ("gradient-z", dict(z_request([[1.0]], [1.0], [1.0], 0.0), x="bm90IHpsaWI="),
     '"x": stratus-tensor/1: corrupt compressed data'),
])
def test_bad_requests_fail_with_error_type_invalid_input(emulator, tmp_path, function, document,
                                                         message):
    metadata, error = invoke(emulator, function, document, tmp_path)
    assert metadata.get("FunctionError") in ("Unhandled", "Handled"), (metadata, error)
    assert error["errorType"] == "InvalidInput", error
    assert message in error["errorMessage"], error
    # A refused request leaves the environment warm and serving.
    x, y, weights, bias = make_problem(rows=3, features=2, seed=4, dyadic=True)
    request = (json_request if function == "gradient" else z_request)(x, y, weights, bias)
    metadata, result = invoke(emulator, function, request, tmp_path)
    assert "FunctionError" not in metadata and result["rows"] == 3, result
