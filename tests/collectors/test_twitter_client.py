"""The X API client against a loopback server: rate limits, retries, errors, and the token kept secret."""

from __future__ import annotations

import httpx
import pytest
from support.x_api import NOW, SEARCH, FakeClock, FakeXApi, fixture

from timgen_data.collectors.twitter import XClient
from timgen_data.errors import ConfigError, DownloadError, RateLimitError, UsageError

TOKEN = "tok-CLIENT-7f3a9c"
PARAMS = {"query": "#movie has:media", "max_results": "10"}


def _client(api, clock, recorded=None, **kwargs):
    def record(response):
        recorded.append(response)
        return response

    http = httpx.Client()
    client = XClient(TOKEN, http=http, base_url=api.url, sleep=clock.sleep, clock=clock,
                     on_response=record if recorded is not None else None, **kwargs)
    return client, http


def _limits(remaining, reset):
    return {"x-rate-limit-limit": "450", "x-rate-limit-remaining": str(remaining), "x-rate-limit-reset": str(reset)}


def test_sends_the_bearer_token_and_records_responses_without_it():
    clock, recorded = FakeClock(), []
    with FakeXApi() as api:
        api.reply(SEARCH, fixture("search_page3"), headers=_limits(449, NOW + 900))
        client, http = _client(api, clock, recorded=recorded)
        with http:
            response = client.get("search", SEARCH, PARAMS)
        assert api.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert response.status == 200 and response.rate == {"limit": 450, "remaining": 449, "reset": NOW + 900}
    assert response.fetched_at == NOW and response.params == PARAMS
    assert TOKEN not in repr(recorded) and TOKEN not in repr(client)


def test_a_429_within_max_wait_is_waited_out_then_the_request_repeated():
    clock, recorded = FakeClock(), []
    with FakeXApi() as api:
        api.reply(SEARCH, fixture("search_page3"))
        api.reply(SEARCH, {"title": "Too Many Requests"}, status=429, headers=_limits(0, NOW + 30), before=True)
        client, http = _client(api, clock, recorded=recorded, max_wait=60)
        with http:
            response = client.get("search", SEARCH, PARAMS)
    assert response.status == 200
    assert clock.sleeps == [31]  # until the reset, plus a second of slack
    assert [r.status for r in recorded] == [429, 200]  # the 429 is recorded too


def test_a_429_beyond_max_wait_stops_with_the_reset_time():
    clock = FakeClock()
    with FakeXApi() as api:
        api.reply(SEARCH, {"title": "Too Many Requests"}, status=429, headers=_limits(0, NOW + 5000))
        client, http = _client(api, clock, max_wait=900)
        with http, pytest.raises(RateLimitError) as caught:
            client.get("search", SEARCH, PARAMS)
        assert len(api.requests) == 1
    assert caught.value.resume_at == NOW + 5000
    assert "2026-11-20T20:03:20Z" in str(caught.value) and "--max-wait" in str(caught.value)
    assert clock.sleeps == []


def test_waits_before_asking_when_the_endpoint_is_used_up():
    clock = FakeClock()
    with FakeXApi() as api:
        api.reply(SEARCH, fixture("search_page1"), headers=_limits(0, NOW + 20))
        api.reply(SEARCH, fixture("search_page2"), headers=_limits(449, NOW + 900))
        client, http = _client(api, clock)
        with http:
            client.get("search", SEARCH, PARAMS)
            assert clock.sleeps == []
            client.get("search", SEARCH, PARAMS)
            # Another endpoint has its own budget: no wait for it.
            api.reply("/2/users/by", fixture("users_by"))
            client.get("users/by", "/2/users/by", {"usernames": "alice"})
        assert [r.path for r in api.requests] == [SEARCH, SEARCH, "/2/users/by"]
    assert clock.sleeps == [21]


def test_server_errors_are_retried_a_bounded_number_of_times():
    clock = FakeClock()
    with FakeXApi() as api:
        api.reply(SEARCH, fixture("search_page3"))
        api.reply(SEARCH, {"title": "Service Unavailable"}, status=503, before=True)
        client, http = _client(api, clock)
        with http:
            assert client.get("search", SEARCH, PARAMS).status == 200
        assert len(api.requests) == 2 and len(clock.sleeps) == 1
        api.reply(SEARCH, {"title": "Internal Error"}, status=500, times=None, before=True)
        client, http = _client(api, clock, max_attempts=3)
        with http, pytest.raises(DownloadError, match="failed 3 times"):
            client.get("search", SEARCH, PARAMS)
        assert len(api.requests) == 5


@pytest.mark.parametrize(("status", "error", "hint"), [
    (401, ConfigError, "X_BEARER_TOKEN"), (403, ConfigError, "access level"), (400, UsageError, "--query"),
    (404, DownloadError, "HTTP 404"),
])
def test_client_errors_say_how_to_fix_and_never_show_the_token(status, error, hint):
    with FakeXApi() as api:
        api.reply(SEARCH, {"title": "Problem", "detail": "the API's own words", "type": "about:blank"}, status=status)
        client, http = _client(api, FakeClock())
        with http, pytest.raises(error) as caught:
            client.get("search", SEARCH, PARAMS)
    message = str(caught.value)
    assert hint in message and "the API's own words" in message and TOKEN not in message
