"""The management API against its own OpenAPI document, fuzzed with schemathesis on a real server (``python
main.py`` on a fresh SQLite folder) with an ADMIN key: for generated inputs, valid and invalid, no answer is a 5xx
and every answer matches the schema (status code documented, body shaped as documented)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from tests.browser.conftest import REPO_ROOT, _free_port, _healthy, _server_environment, _stop

EMAIL, PASSWORD = "owner@example.com", "correct horse battery"
EXAMPLES = 12  # per operation; derandomized, so each run sends the same requests
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A running server and an ADMIN key of its owner."""
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    port = _free_port()
    env = _server_environment(data_dir, port, EMAIL, PASSWORD)
    log = (data_dir.parent / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, "main.py"], cwd=REPO_ROOT, env=env, stdout=log,
                               stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while not _healthy(f"{base}/healthz"):
            assert process.poll() is None and time.monotonic() < deadline, Path(log.name).read_text()
            time.sleep(0.1)
        made = subprocess.run([sys.executable, "main.py", "apikey", "create", "--email", EMAIL, "--role", "ADMIN",
                               "--name", "fuzz"], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                              timeout=60)
        assert made.returncode == 0, made.stderr
        key = made.stdout.strip().split()[-1]
        yield base, key
    finally:
        _stop(process)
        log.close()


def test_no_5xx_and_every_answer_matches_the_schema(served):
    base, key = served
    auth = {"Authorization": f"Bearer {key}"}
    schema = schemathesis.openapi.from_url(f"{base}/api/v1/openapi.json", headers=auth)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case) -> None:
            case.call_and_validate(headers=auth, checks=CHECKS)

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # every operation's first failure, reported together
            failures.append(f"{operation.label}: {type(exc).__name__}: {str(exc)[:600]}")
    assert operations >= 50  # every router is in the document
    assert not failures, "\n\n".join(failures)
