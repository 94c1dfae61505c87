"""schemathesis against the real app on a real Redis: the OpenAPI document and the server agree.

Every operation in the document (frontdoor/api/openapi.py) gets a bounded number of generated
requests, valid and invalid, repeatable (derandomized), with all of schemathesis's checks on: no
5xx, every status, content type and header the server answers is documented, every response body
matches its schema, invalid input is refused and valid input accepted. The analyst routes are
called with a supervisor's token (its role may call every one of them); the checks that drop or
spoil the token see the 401s. Rate limits are set far above what the run sends, so they never
decide an answer here (tests/http/test_ratelimit.py tests them).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as syncredis
import schemathesis
from hypothesis import HealthCheck, settings

from frontdoor.api.appkeys import ACCOUNTS, INTAKE
from frontdoor.api.openapi import document
from frontdoor.app import create_app
from frontdoor.http import idempotency
from frontdoor.settings import Settings, WebSettings
from frontdoor.storage.server import RedisServer
from support.live import LiveApp, live_app

EXAMPLES_PER_OPERATION = 50
# Far above what one run sends from one client in a minute.
UNLIMITED = WebSettings(conversations_per_min=100_000, messages_per_min=100_000, reports_per_min=100_000,
                        receipts_per_min=100_000, receipts_per_s=100_000)

# Three rules between fields that OpenAPI cannot state, so schemathesis's valid data may break them and
# be refused with 400: the form's (a link or a platform; each line of `urls` an address; contact with
# consent), which it explains on the page beside each field, the statistics' period (until not
# before since, at most MAX_DAYS days), and the case listing's (url alone; until not before since; a
# cursor only as a page gave it), which the parameters' descriptions give. Everything else a
# valid request can be is in the document, and every check stays on for these two as well.
# schemathesis's own list for valid data (config/_checks.py), and 400.
WITH_400 = '["2xx", "3xx", "400", "401", "403", "404", "409", "429", "5xx"]'
CONFIG = schemathesis.Config.from_str(f"""
# The one check that is off unless given a limit: the request deadline (Settings.request_timeout_s).
checks.max_response_time = 10.0

[[operations]]
include-name = "POST /report"
checks.positive_data_acceptance.expected-statuses = {WITH_400}

[[operations]]
include-name = "GET /api/v1/analyst/stats"
checks.positive_data_acceptance.expected-statuses = {WITH_400}

[[operations]]
include-name = "GET /api/v1/analyst/cases"
checks.positive_data_acceptance.expected-statuses = {WITH_400}
""")
schema = schemathesis.openapi.from_dict(document(), config=CONFIG)


class Live:
    def __init__(self, app: LiveApp, headers: dict[str, str]) -> None:
        self.url = app.url
        self.headers = headers


@pytest.fixture(scope="module")
def live(redis_servers: dict[str, RedisServer], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    url = next(iter(redis_servers.values())).url
    with syncredis.Redis.from_url(url) as client:
        client.flushdb()
    settings_ = Settings(data_dir=Path(tmp_path_factory.mktemp("data")), secret_key=b"test-secret-" + b"s" * 32,
                         web=UNLIMITED, allow_volatile_redis=True)  # the test servers persist nothing
    try:
        with live_app(lambda: create_app(settings_, url, housekeeping=False)) as app:
            token = app.run(lambda a: a[ACCOUNTS].add("schemathesis", "supervisor"))
            # A case to claim: a report through the intake, as the e-mail channel makes one past its caps.
            app.run(lambda a: a[INTAKE].submit({"category": "csam", "urls": ["https://example.com/page"],
                                                "omitted": {"links": 3}}, "email"))
            yield Live(app, {"Authorization": f"Bearer {token}"})
    finally:
        with syncredis.Redis.from_url(url) as client:
            client.flushdb()


def test_every_check_schemathesis_has_is_on_for_every_operation() -> None:
    from schemathesis.checks import CHECKS, load_all_checks

    load_all_checks()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 23
    for operation in operations:
        config = schema.config.checks_config_for(operation=operation)
        off = [name for name in CHECKS.get_all_names() if not config.get_by_name(name=name).enabled]
        if not config.max_response_time.enabled:
            off.append("max_response_time")
        assert off == [], (operation.label, off)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_server_answers_as_its_openapi_document_says(case: Any, live: Live) -> None:
    key = (case.headers or {}).get(idempotency.HEADER)
    if isinstance(key, str) and re.fullmatch(idempotency.PATTERN, key):
        # A key names one request, and the generator repeats values across requests: a valid key
        # stays valid but becomes this request's own (the same key for another body is a 422,
        # tested in tests/http/, and no schema can say "unused").
        case.headers[idempotency.HEADER] = str(uuid.uuid4())
    case.call_and_validate(base_url=live.url, headers=live.headers)
