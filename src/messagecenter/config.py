"""Settings read from the environment (every variable is documented in the README)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from messagecenter.sms.content_rules import load_rules

DEFAULT_DATABASE_URL = "sqlite:///messagecenter.db"
TWILIO_API_URL = "https://api.twilio.com"
MIN_OPERATOR_TOKEN_LENGTH = 24


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="MESSAGECENTER_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    carrier: Literal["simulator", "twilio"] = "simulator"
    public_url: str = "http://127.0.0.1:8000"
    secret_key: str | None = None
    test_database_url: str | None = None
    # Outbox waits, in seconds: a claim left by a process that died goes back to the queue
    # after claim_timeout; a message handed to the carrier with no answer is looked up there
    # after settle_after, and failed as never confirmed after give_up_after.
    claim_timeout_seconds: float = Field(default=60.0, gt=0)
    settle_after_seconds: float = Field(default=120.0, gt=0)
    give_up_after_seconds: float = Field(default=600.0, gt=0)
    # Carrier calls one dispatching process keeps in flight at once (a Twilio call takes
    # 100-300 ms; the messages in flight are marked sending a group at a time, and each group
    # is a commit: 32 halves the commits a message of 16's, bench/dispatch.py).
    dispatch_concurrency: int = Field(default=32, ge=1, le=64)
    # Each SMS number sends at most its rate (sending/pacing.py). Off: as fast as the carrier
    # takes them, which a real carrier answers by queueing or refusing (tests, benchmarks).
    pace_numbers: bool = True
    twilio_api_url: str = TWILIO_API_URL
    simulator_failure_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # The simulated carrier's delays: from accepting a message to reporting it sent, and
    # delivered (or undelivered). 0 reports at the worker's next pass (benchmarks).
    simulator_sent_after_ms: int = Field(default=400, ge=0, le=3_600_000)
    simulator_delivered_after_ms: int = Field(default=1200, ge=0, le=3_600_000)
    # An operator's acceptable-use rules file (TOML): rules added, built-in ones switched off
    # by id (sms/content_rules.py). None: the built-in rules alone.
    content_rules_file: str | None = None
    # Lets anyone post to /simulator/messages (tests, benchmarks); else a key or staff sign-in.
    simulator_open: bool = False
    # Outgoing webhooks: targets on loopback, private, link-local or reserved addresses are
    # refused unless allowed (tests, an endpoint on the same private network); and how long
    # one delivery may take to connect, and then to answer (integrations/delivery.py).
    webhooks_allow_private: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # Proxies whose X-Forwarded-For is believed (sign-in throttling): "10.0.0.2, 10.1.0.0/16".
    trusted_proxies: Annotated[tuple[IPv4Network | IPv6Network, ...], NoDecode] = ()
    # Logs: `text` lines or `json` objects, one per request and per job step (logs.py).
    log_format: Literal["text", "json"] = "text"
    # Bearer token for /metrics; unset, /metrics answers only loopback clients (metrics.py).
    metrics_token: str | None = None
    # Bearer token of the operator API (/api/operator/v1: plans); unset or empty, that API is
    # switched off (operator_api/routes.py). At least 24 characters: it changes any plan.
    operator_token: str | None = None
    # Twilio's own variable names, kept as Twilio documents them (no prefix).
    twilio_account_sid: str | None = Field(default=None, validation_alias="TWILIO_ACCOUNT_SID")
    twilio_auth_token: str | None = Field(default=None, validation_alias="TWILIO_AUTH_TOKEN")
    twilio_webhook_secret: str | None = Field(
        default=None, validation_alias="TWILIO_WEBHOOK_SECRET"
    )

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        """Comma-separated addresses or networks (CIDR); a bare address is a network of one."""
        if not isinstance(value, str):
            return value
        networks = []
        for part in filter(None, (p.strip() for p in value.split(","))):
            try:
                networks.append(ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address or network (CIDR)") from None
        return tuple(networks)

    @field_validator("operator_token")
    @classmethod
    def _long_operator_token(cls, value: str | None) -> str | None:
        if value and len(value) < MIN_OPERATOR_TOKEN_LENGTH:
            raise ValueError(
                f"too short: give at least {MIN_OPERATOR_TOKEN_LENGTH} random characters, e.g. "
                "from `python3 -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return value or None

    @field_validator("content_rules_file")
    @classmethod
    def _rules_file_reads(cls, value: str | None) -> str | None:
        """A rules file that cannot be read or breaks the format stops the start here."""
        if value:
            load_rules(value)
        return value

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        """An http(s) address with a host; kept without a trailing slash (paths join it)."""
        value = value.strip()
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 (raises on a port out of range)
        except ValueError as exc:
            raise ValueError(f"not a web address ({exc})") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "not a web address: give the http(s) URL at which Twilio reaches the app, "
                "e.g. https://sms.example.com"
            )
        return value.rstrip("/")

    @model_validator(mode="after")
    def _give_up_after_settling(self) -> Settings:
        # Twilio is told to drop a message still queued after the difference (ValidityPeriod,
        # whole seconds, at least 1), so that nothing goes out after we have given up on it.
        if self.give_up_after_seconds - self.settle_after_seconds < 1:
            raise ValueError(
                "MESSAGECENTER_GIVE_UP_AFTER_SECONDS must be at least 1 second longer than "
                "MESSAGECENTER_SETTLE_AFTER_SECONDS: the carrier is asked before giving up, "
                "and Twilio drops a message it has not sent by the difference (ValidityPeriod)"
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def resolved_secret_key(self) -> str:
        """The configured key, or one generated once and kept beside the SQLite file."""
        if self.secret_key:
            return self.secret_key
        path = self._secret_key_path()
        if path.exists():
            return path.read_text().strip()
        key = secrets.token_urlsafe(48)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(key + "\n")
        path.chmod(0o600)
        return key

    def _secret_key_path(self) -> Path:
        if self.is_sqlite:
            db_path = self.database_url.split("///", 1)[-1]
            if db_path and db_path != ":memory:":
                return Path(db_path).resolve().parent / ".messagecenter-secret"
        return Path.cwd() / ".messagecenter-secret"


@lru_cache
def get_settings() -> Settings:
    return Settings()
