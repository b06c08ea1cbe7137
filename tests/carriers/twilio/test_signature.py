"""Webhook signatures: every published Twilio vector, both algorithms, and the ways a request
can be forged or mis-proxied."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import FrameType
from typing import Any

import pytest
from twilio.request_validator import RequestValidator

from messagecenter.carriers.twilio.signature import FormParams, SignatureChecker

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "twilio_signature_vectors.json").read_text()
)["vectors"]

URL = "https://mc.example.test/webhooks/twilio/status?message=42"
FORM = FormParams({"MessageSid": ["SM1"], "MessageStatus": ["delivered"], "To": ["+12125550142"]})


def _as_sent(url: str) -> str:
    """What an HTTP request line carries: a quote in the query is percent-encoded."""
    return url.replace("'", "%27")


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_every_published_vector_passes(vector: dict[str, Any]) -> None:
    checker = SignatureChecker(vector["auth_token"], None)
    if vector["raw_body"] is not None:
        params: FormParams | str = vector["raw_body"]
    else:
        params = FormParams(
            {k: v if isinstance(v, list) else [v] for k, v in vector["params"].items()}
        )
    headers = {"x-twilio-signature": vector["expected_signature"]}
    assert checker.is_valid(_as_sent(vector["request_url"]), params, headers)


@pytest.mark.parametrize("vector", VECTORS[:3], ids=[v["id"] for v in VECTORS[:3]])
def test_a_published_vector_fails_with_another_token(vector: dict[str, Any]) -> None:
    checker = SignatureChecker("not-the-token", None)
    params = FormParams({k: v if isinstance(v, list) else [v] for k, v in vector["params"].items()})
    headers = {"x-twilio-signature": vector["expected_signature"]}
    assert not checker.is_valid(_as_sent(vector["request_url"]), params, headers)


def _signed(token: str, url: str, algorithm: str = "HMAC_SHA1") -> str:
    return str(RequestValidator(token).compute_signature(url, FORM, algorithm))


def test_sha1_signature_with_and_without_the_default_port() -> None:
    checker = SignatureChecker("token", None)
    with_port = URL.replace("mc.example.test", "mc.example.test:443")
    assert checker.is_valid(URL, FORM, {"x-twilio-signature": _signed("token", with_port)})
    assert checker.is_valid(with_port, FORM, {"x-twilio-signature": _signed("token", URL)})


def test_hmac_sha256_uses_the_shared_key_secret_when_the_header_says_so() -> None:
    checker = SignatureChecker("auth-token", "shared-secret")
    signature = _signed("shared-secret", URL, "HMAC_SHA256")
    settings = "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"
    good = {"x-twilio-signature": signature, "x-twilio-webhooks-signature-settings": settings}
    assert checker.is_valid(URL, FORM, good)
    # The same SHA-256 signature without the settings header is checked as SHA-1: refused.
    assert not checker.is_valid(URL, FORM, {"x-twilio-signature": signature})
    # SHA-256 signed with the auth token instead of the shared key: refused.
    wrong_key = {**good, "x-twilio-signature": _signed("auth-token", URL, "HMAC_SHA256")}
    assert not checker.is_valid(URL, FORM, wrong_key)


def test_sha256_is_refused_when_no_shared_key_is_configured() -> None:
    checker = SignatureChecker("auth-token", None)
    headers = {
        "x-twilio-signature": _signed("anything", URL, "HMAC_SHA256"),
        "x-twilio-webhooks-signature-settings": "algorithm=HMAC_SHA256",
    }
    assert not checker.is_valid(URL, FORM, headers)


def test_unknown_algorithm_is_refused() -> None:
    checker = SignatureChecker("token", "secret")
    headers = {
        "x-twilio-signature": _signed("token", URL),
        "x-twilio-webhooks-signature-settings": "algorithm=HMAC_MD5",
    }
    assert not checker.is_valid(URL, FORM, headers)


@pytest.mark.parametrize(
    "tamper",
    [
        "missing signature",
        "no auth token configured",
        "a form field changed",
        "a field added",
        "the query changed",
        "another host (wrongly proxied)",
        "http instead of https",
    ],
)
def test_forged_or_tampered_requests_are_refused(tamper: str) -> None:
    signature = _signed("token", URL)
    checker = SignatureChecker("token", None)
    url, form, headers = URL, FormParams(FORM), {"x-twilio-signature": signature}
    if tamper == "missing signature":
        headers = {}
    elif tamper == "no auth token configured":
        checker = SignatureChecker(None, None)
    elif tamper == "a form field changed":
        form["MessageStatus"] = ["failed"]
    elif tamper == "a field added":
        form["ErrorCode"] = ["30003"]
    elif tamper == "the query changed":
        url = URL.replace("message=42", "message=43")
    elif tamper == "another host (wrongly proxied)":
        url = URL.replace("mc.example.test", "internal-host:8000")
    elif tamper == "http instead of https":
        url = URL.replace("https://", "http://")
    assert not checker.is_valid(url, form, headers)


def test_the_validator_reads_every_field_without_raising_and_catching_an_error() -> None:
    """The validator tries a MultiDict's getall, then Django's getlist, then a dict's
    indexing, each miss an AttributeError raised and caught: for every field, twice a
    request, that was a quarter of a loaded webhook's CPU."""
    form = FormParams.from_pairs([("To", "+12125550142"), ("To", "+12125550143"), ("Body", "")])
    signature = RequestValidator("token").compute_signature(URL, form)
    caught: list[type[BaseException]] = []

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "exception":
            caught.append(arg[0])
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        return local if frame.f_code.co_name == "get_values" else None

    checker = SignatureChecker("token", None)
    before = sys.gettrace()  # a coverage tool's or a debugger's, put back after
    sys.settrace(tracer)
    try:
        valid = checker.is_valid(URL, form, {"x-twilio-signature": signature})
    finally:
        sys.settrace(before)
    assert valid
    assert caught == []
