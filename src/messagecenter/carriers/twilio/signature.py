"""Twilio webhook signatures, checked with the `twilio` package's own RequestValidator.

The URL is MESSAGECENTER_PUBLIC_URL + path + query exactly as sent — never rebuilt from request
headers, which a proxy (or an attacker) controls. The validator itself also tries the URL with
and without the scheme's default port, as Twilio's libraries do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from twilio.request_validator import (
    HMAC_SHA1,
    HMAC_SHA256,
    SIGNATURE_SETTINGS_HEADER,
    RequestValidator,
    get_signature_algorithm,
)

SIGNATURE_HEADER = "X-Twilio-Signature"


class FormParams(dict[str, list[str]]):
    """Form fields with repeated keys kept, read by the validator as a MultiDict's."""

    def getall(self, key: str) -> list[str]:
        # The validator asks for getall first, for each field and twice a request (the URL
        # with and without its port): missing, it raised and caught an AttributeError each
        # time, a quarter of a loaded webhook process's CPU.
        return self.get(key, [])

    def first(self, key: str) -> str | None:
        values = self.get(key)
        return values[0] if values else None

    @classmethod
    def from_pairs(cls, pairs: Sequence[tuple[str, str]]) -> FormParams:
        params = cls()
        for key, value in pairs:
            params.setdefault(key, []).append(value)
        return params


class SignatureChecker:
    """Holds one validator per secret, built once (the hot path only hashes)."""

    def __init__(self, auth_token: str | None, webhook_secret: str | None) -> None:
        self._validators = {
            HMAC_SHA1: RequestValidator(auth_token) if auth_token else None,
            HMAC_SHA256: RequestValidator(webhook_secret) if webhook_secret else None,
        }

    def is_valid(self, url: str, params: FormParams, headers: Mapping[str, str]) -> bool:
        signature = headers.get(SIGNATURE_HEADER.lower()) or headers.get(SIGNATURE_HEADER)
        if not signature:
            return False
        settings = headers.get(SIGNATURE_SETTINGS_HEADER.lower()) or headers.get(
            SIGNATURE_SETTINGS_HEADER
        )
        algorithm = get_signature_algorithm(settings).upper()
        validator = self._validators.get(algorithm)
        if validator is None:  # no secret configured for that algorithm, or an unknown one
            return False
        return bool(validator.validate(url, params, signature, algorithm=algorithm))


@lru_cache(maxsize=8)
def checker_for(auth_token: str | None, webhook_secret: str | None) -> SignatureChecker:
    """The checker for these secrets, built once per process (an app's settings are fixed)."""
    return SignatureChecker(auth_token, webhook_secret)
