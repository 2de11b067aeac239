"""The hook's retry policy (batch/common.transient_retry) and the sentence a user sees when a service is unreachable."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from gemini_batch.batch.common import never_connected, transient_retry
from gemini_batch.friendly_errors import explain
from gemini_batch.local.stack import free_port


def refused() -> requests.exceptions.ConnectionError:
    """The error requests really raises for a port nobody listens on."""
    try:
        requests.get(f"http://127.0.0.1:{free_port()}/", timeout=5)
    except requests.exceptions.ConnectionError as exc:
        return exc
    raise AssertionError("something listens on a free port")


@pytest.fixture()
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(time, "sleep", lambda _seconds: None)  # google.api_core.retry sleeps through time.sleep


def test_a_refused_connection_is_never_connected_and_a_reset_is_not() -> None:
    assert never_connected(refused())
    reset = requests.exceptions.ConnectionError(ConnectionResetError("Connection reset by peer"))
    assert not never_connected(reset)
    assert not never_connected(requests.exceptions.ReadTimeout("read timed out"))


def test_a_connection_reset_is_retried_until_the_call_succeeds(no_sleep: None) -> None:
    errors = [requests.exceptions.ConnectionError(ConnectionResetError()), requests.exceptions.ReadTimeout()]

    def call() -> str:
        if errors:
            raise errors.pop(0)
        return "job"

    assert transient_retry(600)(call)() == "job"
    assert errors == []


def test_an_unreachable_service_is_given_up_after_its_own_bound(no_sleep: None) -> None:
    calls = 0

    def call() -> None:
        nonlocal calls
        calls += 1
        raise refused()

    with pytest.raises(requests.exceptions.ConnectionError):
        transient_retry(600, unreachable_seconds=0)(call)()
    assert calls == 1  # the 600 s budget of a reachable but failing service does not apply


def test_a_non_loopback_unreachable_service_is_one_sentence_naming_the_host() -> None:
    try:
        requests.get("http://unreachable.invalid/", timeout=5)
    except requests.exceptions.ConnectionError as exc:
        sentence = explain(exc)
    assert sentence is not None and sentence.startswith("cannot reach unreachable.invalid ")
    assert "dbt-gemini-batch collect" in sentence
    assert explain(RuntimeError("a bug of ours")) is None  # anything else keeps its traceback


def test_a_missing_relation_is_one_sentence_naming_it_and_the_build() -> None:
    from google.api_core import exceptions as gexc

    sentence = explain(gexc.NotFound("Not found: Table p:d.review_insights__requests"))
    assert sentence == (
        "p.d.review_insights__requests does not exist in BigQuery yet: build it with "
        "`dbt run --select review_insights__requests`, then run the command again."
    )
    dataset = explain(gexc.NotFound("Not found: Dataset p:d"))
    assert dataset is not None and dataset.startswith("p.d does not exist") and "`dbt run`" in dataset


def test_a_request_that_got_no_answer_is_one_sentence_naming_the_host() -> None:
    with socket.socket() as listener:  # accepts (into the backlog) and never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=(1, 0.2))
        except requests.exceptions.ReadTimeout as exc:
            sentence = explain(exc)
    assert sentence is not None and sentence.startswith(f"127.0.0.1:{port} did not answer in time")
