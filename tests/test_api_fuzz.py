"""Property-based fuzzing of the real server from its own OpenAPI document (schemathesis, bounded).

Each operation gets a few dozen generated requests, valid (positive) and invalid (negative), all
sent to the uvicorn process on 127.0.0.1; schemathesis' default checks apply: no 5xx, responses
and status codes as documented, invalid data rejected with 4xx. One check is left out:
"schema-valid data is accepted" cannot hold for an OCR API, since a schema-valid request still
carries random bytes where the image goes, which the server rightly refuses with 400.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from ocr.engines.registry import available
from tests.test_api_helpers import run_server

KEY = "fuzz-test-key-0123456789"
EXAMPLES = 30  # per operation and mode: 7 x 30 = ~200 requests
OPERATIONS = ["GET /healthz", "GET /api/v1/engines", "POST /api/v1/ocr", "POST /api/v1/ocr/batch"]
pytestmark = pytest.mark.skipif(not available("ppocr-v4")[0], reason="ppocr-v4 is not installed")


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    env = {"OCR_API_KEYS": KEY, "OCR_API_RATE_LIMIT": "100000", "OCR_API_AUTH_FAIL_LIMIT": "100000",
           "OCR_API_PRELOAD": "ppocr-v4",
           "OCR_API_MAX_BATCH": "4", "OCR_API_TIMEOUT_S": "20", "OCR_API_THREADS": "1"}
    with run_server(tmp_path_factory.mktemp("fuzz"), env) as srv:
        yield schemathesis.openapi.from_url(srv.url + "/openapi.json")


POSITIVE, NEGATIVE = schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE
CASES = [(op, mode) for op in OPERATIONS for mode in (POSITIVE, NEGATIVE)
         if (op, mode) != ("GET /healthz", NEGATIVE)]  # no parameters: nothing to make invalid


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{op}-{m.value}" for op, m in CASES])
def test_fuzz_operation(
    api_schema: schemathesis.BaseSchema, label: str, mode: schemathesis.GenerationMode
) -> None:
    operation = api_schema.find_operation_by_label(label)
    assert operation is not None, label

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers={"X-API-Key": KEY}, timeout=30,
                               excluded_checks=[schemathesis.checks.positive_data_acceptance])

    check()
