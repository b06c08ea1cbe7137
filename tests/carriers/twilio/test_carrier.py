"""The Twilio adapter against the fake Twilio, through the real `twilio` package.

Every failure family is checked for what it means to the dispatcher (DESIGN.md §2 "Never sent
twice"): refused (never sent), retry later (certainly not taken), ambiguous (maybe taken:
settled by our id). Every request the adapter makes must satisfy Twilio's OpenAPI description.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from openapi_core.testing import MockRequest, MockResponse
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from twilio.rest import Client

from messagecenter.carriers.base import (
    CarrierAccepted,
    CarrierAmbiguous,
    CarrierError,
    CarrierRejected,
    CarrierRetryLater,
    OutboundSms,
)
from messagecenter.carriers.twilio import carrier as twilio_carrier
from messagecenter.carriers.twilio.carrier import FIND_CLOCK_SKEW, FIND_PAGE_SIZE, TwilioCarrier
from messagecenter.carriers.twilio.http import ConfiguredHttpClient
from messagecenter.cli import main
from messagecenter.clock import FrozenClock
from messagecenter.config import Settings
from messagecenter.context import AppContext, build_context
from messagecenter.db import session_scope
from messagecenter.models import Message
from messagecenter.numbers.service import suggest_numbers
from messagecenter.sending.compose import Sender, send_message
from tests.factories import make_business, make_client
from tests.fakes.twilio_contract import load_spec
from tests.fakes.twilio_server import FakeTwilio, RecordedRequest
from tests.live_server import free_port

ACCOUNT_SID = "AC" + "0" * 32  # as the `settings` fixture has it
AUTH_TOKEN = "twilio-test-auth-token"
PUBLIC_URL = "https://mc.example.test"
BUSINESS_NUMBER = "+12125550150"  # our sender (the fake does not require it to be bought)
CLIENT = "+12125550142"
CALLBACK = f"{PUBLIC_URL}/webhooks/twilio/status?message=41"
MESSAGES_PATH = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"


@pytest.fixture(scope="module")
def fake_server() -> Iterator[FakeTwilio]:
    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as server:
        yield server


@pytest.fixture
def fake(fake_server: FakeTwilio) -> Iterator[FakeTwilio]:
    """The module's fake, emptied; every request the test made must have met the contract."""
    fake_server.reset()
    yield fake_server
    violations = fake_server.contract_violations
    fake_server.reset()
    assert violations == [], violations


@pytest.fixture
def twilio_settings(settings: Settings, fake: FakeTwilio) -> Settings:
    return settings.model_copy(update={"twilio_api_url": fake.base_url, "carrier": "twilio"})


@pytest.fixture
def carrier(twilio_settings: Settings) -> TwilioCarrier:
    return TwilioCarrier(twilio_settings, connect_timeout=2.0, read_timeout=3.0)


@pytest.fixture
def twilio_context(
    twilio_settings: Settings,
    carrier: TwilioCarrier,
    engine: Engine,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
) -> AppContext:
    return build_context(
        twilio_settings,
        clock=clock,
        carrier=carrier,
        engine=engine,
        sessions=sessions,
        rng=random.Random(7),
    )


def sms(
    body: str = "Your class starts at 6pm",
    *,
    to: str = CLIENT,
    from_: str = BUSINESS_NUMBER,
    media: list[str] | None = None,
    callback: str | None = CALLBACK,
) -> OutboundSms:
    return OutboundSms(41, from_, to, body, media or [], callback)


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    """Poll: the fake may still be handling a request the client gave up on."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def creates(fake: FakeTwilio) -> list[RecordedRequest]:
    return [r for r in fake.requests if r.method == "POST" and r.path == MESSAGES_PATH]


# ---------------------------------------------------------------- sending


@pytest.mark.parametrize("public_url", ["https://mc.example.test", "https://mc.example.test/"])
def test_callback_url_carries_our_id_and_ignores_a_trailing_slash(
    carrier: TwilioCarrier, public_url: str
) -> None:
    """Moved from the dispatcher's tests: the path is Twilio's route, so the adapter owns it."""
    assert carrier.status_callback_url(public_url, 7) == (
        "https://mc.example.test/webhooks/twilio/status?message=7"
    )


@pytest.mark.parametrize("public_url", ["https://mc.example.test", "https://mc.example.test/"])
def test_sms_webhook_url_is_the_inbound_route_and_ignores_a_trailing_slash(
    carrier: TwilioCarrier, public_url: str
) -> None:
    """Moved from numbers/: the path is Twilio's route, so the adapter owns it."""
    assert carrier.sms_webhook_url(public_url) == "https://mc.example.test/webhooks/twilio/sms"


def test_send_gives_the_sid_and_carries_to_from_body_and_our_callback(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    accepted = carrier.send(sms())

    assert accepted.status == "queued"
    assert accepted.carrier_sid.startswith("SM") and len(accepted.carrier_sid) == 34
    (request,) = creates(fake)
    assert request.form == {
        "To": [CLIENT],
        "From": [BUSINESS_NUMBER],
        "Body": ["Your class starts at 6pm"],
        "StatusCallback": [CALLBACK],
        "ValidityPeriod": ["480"],  # the default give-up (600 s) less the settle wait (120 s)
    }
    stored = fake.messages[accepted.carrier_sid]
    assert (stored["to"], stored["from"], stored["status_callback"]) == (
        CLIENT,
        BUSINESS_NUMBER,
        CALLBACK,
    )
    assert fake.created_count() == 1


@pytest.mark.parametrize(
    ("settle_after", "give_up_after", "validity"),
    [
        (20.0, 90.0, "70"),  # Twilio drops it a settle wait before we give up
        (120.0, 121.9, "1"),  # whole seconds, never less than Twilio's minimum
        (120.0, 86400.0, "36000"),  # never more than Twilio's maximum
    ],
)
def test_twilio_drops_a_message_still_queued_before_we_give_up_on_it(
    fake: FakeTwilio,
    twilio_settings: Settings,
    settle_after: float,
    give_up_after: float,
    validity: str,
) -> None:
    """Left to Twilio's default (36000 s), a message given up as never confirmed (units
    back) could still be sent hours later."""
    configured = twilio_settings.model_copy(
        update={"settle_after_seconds": settle_after, "give_up_after_seconds": give_up_after}
    )
    TwilioCarrier(configured, connect_timeout=2.0, read_timeout=3.0).send(sms())

    (request,) = creates(fake)
    assert request.form["ValidityPeriod"] == [validity]
    assert request.violation is None


def test_media_goes_as_repeated_media_url(fake: FakeTwilio, carrier: TwilioCarrier) -> None:
    pictures = ["https://media.example.test/a.jpg", "https://media.example.test/b.png"]
    accepted = carrier.send(sms("", media=pictures))

    (request,) = creates(fake)
    assert request.form["MediaUrl"] == pictures
    assert "Body" not in request.form  # a picture alone is a valid MMS
    assert accepted.carrier_sid.startswith("MM")
    assert fake.messages[accepted.carrier_sid]["media_urls"] == pictures


def test_the_dispatcher_gives_twilio_the_status_callback_with_our_message_id(
    fake: FakeTwilio, twilio_context: AppContext, session: Session, clock: FrozenClock
) -> None:
    setup = make_business(session, twilio_context.carrier, clock.now())
    client = make_client(session, setup.business, clock.now())
    message = send_message(
        session,
        setup.business,
        body="See you at 6",
        sender=Sender.automated(),
        client=client,
        at=clock.now(),
    )
    session.commit()

    assert twilio_context.dispatcher.run_once() == 1

    (stored,) = fake.messages.values()
    assert stored["status_callback"] == (
        f"{PUBLIC_URL}/webhooks/twilio/status?message={message.id}"
    )
    assert (stored["to"], stored["from"], stored["body"]) == (
        CLIENT,
        setup.number.phone_number,
        "See you at 6",
    )
    with session_scope(twilio_context.sessions) as check:
        row = check.get(Message, message.id)
        assert row is not None and row.carrier_sid == stored["sid"]


# ---------------------------------------------------------------- failures, by family


@pytest.mark.parametrize("code", [21610, 21211, 21614, 21612])
def test_twilio_refusals_are_rejected_with_their_code(
    fake: FakeTwilio, carrier: TwilioCarrier, code: int
) -> None:
    fake.fail_next(code)
    with pytest.raises(CarrierRejected) as caught:
        carrier.send(sms())
    assert caught.value.code == code
    assert caught.value.message  # Twilio's words are kept
    assert fake.created_count() == 0


def test_a_real_opt_out_at_twilio_is_rejected_21610(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    fake.opt_out(CLIENT, BUSINESS_NUMBER)
    with pytest.raises(CarrierRejected) as caught:
        carrier.send(sms())
    assert caught.value.code == 21610
    assert fake.created_count() == 0


def test_too_many_requests_is_retry_later_after_retry_after(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    fake.rate_limit_next(retry_after=7)
    with pytest.raises(CarrierRetryLater) as caught:
        carrier.send(sms())
    assert caught.value.code == 20429
    assert caught.value.retry_after == 7.0
    assert fake.created_count() == 0

    carrier.send(sms())  # the next try goes through, and forgets the old Retry-After
    fake.fail_next(21611)
    with pytest.raises(CarrierRetryLater) as again:
        carrier.send(sms())
    assert again.value.retry_after is None


def test_a_full_queue_21611_is_retry_later(fake: FakeTwilio, carrier: TwilioCarrier) -> None:
    fake.fail_next(21611)
    with pytest.raises(CarrierRetryLater) as caught:
        carrier.send(sms())
    assert caught.value.code == 21611
    assert fake.created_count() == 0


@pytest.mark.parametrize(("status", "accept"), [(500, False), (503, True)])
def test_a_server_error_is_ambiguous(
    fake: FakeTwilio, carrier: TwilioCarrier, status: int, accept: bool
) -> None:
    fake.server_error_next(accept=accept, status=status)
    with pytest.raises(CarrierAmbiguous):
        carrier.send(sms())
    assert fake.created_count() == int(accept)


def test_a_read_timeout_after_twilio_took_it_is_ambiguous(
    fake: FakeTwilio, twilio_settings: Settings
) -> None:
    impatient = TwilioCarrier(twilio_settings, read_timeout=0.3)
    fake.timeout_next(seconds=30, accept=True)
    with pytest.raises(CarrierAmbiguous):
        impatient.send(sms())
    assert wait_for(lambda: fake.created_count() == 1)  # Twilio has it; we never heard back
    fake.release_held()


def test_a_connection_refused_is_retry_later(settings: Settings) -> None:
    nowhere = settings.model_copy(
        update={"twilio_api_url": f"http://127.0.0.1:{free_port()}", "carrier": "twilio"}
    )
    with pytest.raises(CarrierRetryLater):
        TwilioCarrier(nowhere, connect_timeout=1.0, read_timeout=1.0).send(sms())


def test_credentials_are_required(settings: Settings) -> None:
    with pytest.raises(CarrierError, match="TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"):
        TwilioCarrier(settings.model_copy(update={"twilio_auth_token": None}))


# ---------------------------------------------------------------- finding a sent message


def test_find_sent_finds_every_match_by_to_from_and_body(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    attempted_at = datetime.now(UTC)
    older = carrier.send(sms("Reminder"))
    carrier.send(sms("Something else"))
    carrier.send(sms("Reminder", to="+12125550143"))  # another client
    carrier.send(sms("Reminder", from_="+12125550151"))  # another business number
    newest = carrier.send(sms("Reminder"))
    assert older.carrier_sid != newest.carrier_sid

    found = carrier.find_sent(sms("Reminder"), attempted_at)

    # Twins (same text, same pair of numbers, same minute) are both candidates: the
    # dispatcher takes the first one no other message of ours holds.
    assert {f.carrier_sid for f in found} == {older.carrier_sid, newest.carrier_sid}
    assert all(f.status == "queued" for f in found)
    listed = [r for r in fake.requests if r.method == "GET" and r.path == MESSAGES_PATH]
    assert listed and listed[-1].query["To"] == [CLIENT]
    assert listed[-1].query["From"] == [BUSINESS_NUMBER]
    assert not any(key.startswith("DateSent") for key in listed[-1].query)


def test_find_sent_is_empty_when_twilio_has_no_such_message(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    attempted_at = datetime.now(UTC)
    assert carrier.find_sent(sms(), attempted_at) == []
    carrier.send(sms("Another text"))
    assert carrier.find_sent(sms(), attempted_at) == []


def test_find_sent_finds_a_message_twilio_has_not_sent_yet(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    """Twilio has it queued, with no date_sent: a DateSent filter would have hidden it and
    the message would have been failed as never confirmed while Twilio still sends it."""
    attempted_at = datetime.now(UTC)
    accepted = carrier.send(sms())
    (held,) = fake.messages.values()
    assert held["date_sent"] is None
    assert carrier.find_sent(sms(), attempted_at) == [
        CarrierAccepted(accepted.carrier_sid, "queued")
    ]


def test_find_sent_ignores_messages_from_before_the_call(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    """A twin sent before we handed ours over (beyond Twilio's clock skew) is not ours."""
    sent = carrier.send(sms(callback=None))
    carrier.send(sms())  # queued still: no date_sent
    with pytest.raises(LookupError):  # no callback URL: Twilio posts nothing
        fake.send_status(sent.carrier_sid, "sent")
    much_later = datetime.now(UTC) + FIND_CLOCK_SKEW + timedelta(minutes=1)
    assert carrier.find_sent(sms(), much_later) == []


def test_find_sent_finds_an_unsent_message_listed_behind_older_sent_ones(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    """Twilio sorts the list by DateSent; where unsent messages go is undocumented. A sent
    message older than our call says nothing about the ones listed after it."""
    fake.unsent_listed = "last"
    earlier = carrier.send(sms(callback=None))
    with pytest.raises(LookupError):  # no callback URL: Twilio posts nothing
        fake.send_status(earlier.carrier_sid, "delivered")
    fake.backdate(earlier.carrier_sid, timedelta(hours=1))
    attempted_at = datetime.now(UTC)
    ours = carrier.send(sms())
    twilio = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=ConfiguredHttpClient(fake.base_url))
    listed = [m.sid for m in twilio.messages.list(to=CLIENT, from_=BUSINESS_NUMBER)]
    assert listed == [earlier.carrier_sid, ours.carrier_sid]

    assert carrier.find_sent(sms(), attempted_at) == [CarrierAccepted(ours.carrier_sid, "queued")]


def test_find_sent_cannot_tell_beyond_its_scan_limit(
    fake: FakeTwilio, carrier: TwilioCarrier, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even when every message is older than the call: unsent ones may be listed anywhere."""
    monkeypatch.setattr(twilio_carrier, "FIND_MAX_SCAN", 3)
    for n in range(4):
        sent = carrier.send(sms(f"Earlier text {n}", callback=None))
        with pytest.raises(LookupError):
            fake.send_status(sent.carrier_sid, "delivered")
        fake.backdate(sent.carrier_sid, timedelta(hours=1))
    with pytest.raises(CarrierError, match="More than 3 messages"):
        carrier.find_sent(sms(), datetime.now(UTC))
    other = "+12125550143"  # three between this pair: all read, none is ours
    for n in range(3):
        carrier.send(sms(f"Earlier text {n}", to=other, callback=None))
    assert carrier.find_sent(sms(to=other), datetime.now(UTC)) == []


def test_find_sent_reads_every_page_since_the_call(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    attempted_at = datetime.now(UTC)
    ours = carrier.send(sms())
    for n in range(FIND_PAGE_SIZE + 5):  # newer texts to the same client push ours to page 2
        carrier.send(sms(f"Later text {n}"))
    assert carrier.find_sent(sms(), attempted_at) == [CarrierAccepted(ours.carrier_sid, "queued")]
    listed = [r for r in fake.requests if r.method == "GET" and "Messages" in r.path]
    assert len(listed) == 2


def test_find_sent_reports_the_status_twilio_has_now(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    attempted_at = datetime.now(UTC)
    accepted = carrier.send(sms(callback=None))
    with pytest.raises(LookupError):  # no callback URL: Twilio posts nothing
        fake.send_status(accepted.carrier_sid, "delivered")
    assert carrier.find_sent(sms(callback=None), attempted_at) == [
        CarrierAccepted(accepted.carrier_sid, "delivered")
    ]


def test_find_sent_says_when_twilio_cannot_be_asked(
    fake: FakeTwilio, twilio_settings: Settings
) -> None:
    nowhere = twilio_settings.model_copy(
        update={"twilio_api_url": f"http://127.0.0.1:{free_port()}"}
    )
    with pytest.raises(CarrierError):  # not "none there": the dispatcher must not give up
        TwilioCarrier(nowhere, connect_timeout=1.0, read_timeout=1.0).find_sent(
            sms(), datetime.now(UTC)
        )


# ---------------------------------------------------------------- numbers


def test_us_suggestions_are_local_numbers_in_the_business_phones_area_code(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    found = carrier.suggest_numbers("US", "+14155550100", 5)

    assert len(found) == 5
    assert all(n.phone_number.startswith("+1415") for n in found)
    assert {(n.country, n.locality) for n in found} == {("US", "San Francisco")}
    (request,) = fake.requests
    assert request.path.endswith("/AvailablePhoneNumbers/US/Local.json")
    assert request.query["AreaCode"] == ["415"]
    assert request.query["SmsEnabled"] == ["true"]


def test_suggestions_fall_back_to_any_local_number_when_the_area_code_has_none(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    found = carrier.suggest_numbers("US", "+16045550100", 3)  # a Canadian area code
    assert len(found) == 3
    assert all(n.country == "US" and n.phone_number.startswith("+1") for n in found)
    assert [r.query.get("AreaCode") for r in fake.requests] == [["604"], None]


def test_canadian_suggestions_are_local_too(fake: FakeTwilio, carrier: TwilioCarrier) -> None:
    found = carrier.suggest_numbers("CA", "+16045550100", 2)
    assert [n.phone_number[:5] for n in found] == ["+1604", "+1604"]


@pytest.mark.parametrize(("country", "prefix"), [("GB", "+447"), ("AU", "+614")])
def test_uk_and_australian_suggestions_are_mobiles(
    fake: FakeTwilio, carrier: TwilioCarrier, country: str, prefix: str
) -> None:
    found = carrier.suggest_numbers(country, None, 4)

    assert len(found) == 4
    assert all(n.phone_number.startswith(prefix) and n.country == country for n in found)
    (request,) = fake.requests
    assert request.path.endswith(f"/AvailablePhoneNumbers/{country}/Mobile.json")


def test_the_app_suggests_numbers_near_the_business_phone(
    fake: FakeTwilio, twilio_context: AppContext, session: Session, clock: FrozenClock
) -> None:
    setup = make_business(
        session, twilio_context.carrier, clock.now(), business_phone="+14155550100"
    )
    assert setup.number.phone_number.startswith("+1415")
    suggested = suggest_numbers(session, setup.business, twilio_context.carrier)
    assert suggested and all(n.startswith("+1415") for n in suggested)
    assert setup.number.phone_number not in suggested  # bought: Twilio no longer offers it


def test_acquire_sets_the_sms_webhook_and_release_deletes(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    (offer,) = carrier.suggest_numbers("US", "+12125550100", 1)
    webhook = f"{PUBLIC_URL}/webhooks/twilio/sms"

    sid = carrier.acquire_number(offer.phone_number, webhook)

    bought = fake.numbers()[sid]
    assert bought["phone_number"] == offer.phone_number
    assert (bought["sms_url"], bought["sms_method"]) == (webhook, "POST")

    carrier.release_number(sid)
    assert sid not in fake.numbers()
    carrier.release_number(sid)  # already released: not an error
    carrier.release_number("PN" + "f" * 32)  # never ours: not an error either
    deletes = [r for r in fake.requests if r.method == "DELETE"]
    assert [r.status for r in deletes] == [204, 404, 404]


def test_acquiring_a_number_twilio_does_not_offer_is_refused(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    with pytest.raises(CarrierRejected) as caught:
        carrier.acquire_number("+12125559999", f"{PUBLIC_URL}/webhooks/twilio/sms")
    assert caught.value.code == 21452
    assert fake.numbers() == {}


def test_numbers_calls_that_never_reach_twilio_are_carrier_errors(settings: Settings) -> None:
    """Callers (enabling, changing the number) handle CarrierError, not `requests`' errors."""
    nowhere = settings.model_copy(update={"twilio_api_url": f"http://127.0.0.1:{free_port()}"})
    unreachable = TwilioCarrier(nowhere, connect_timeout=1.0, read_timeout=1.0)
    with pytest.raises(CarrierRetryLater):
        unreachable.suggest_numbers("US", "+12125550100", 5)
    with pytest.raises(CarrierRetryLater):
        unreachable.acquire_number("+12125550150", f"{PUBLIC_URL}/webhooks/twilio/sms")
    with pytest.raises(CarrierRetryLater):
        unreachable.release_number("PN" + "f" * 32)


# ---------------------------------------------------------------- credentials


def test_check_credentials_gives_the_account_name(fake: FakeTwilio, carrier: TwilioCarrier) -> None:
    assert carrier.check_credentials() == fake.account_name
    (request,) = fake.requests
    assert (request.method, request.path) == ("GET", f"/2010-04-01/Accounts/{ACCOUNT_SID}.json")


def test_check_credentials_fails_with_a_wrong_token(
    fake: FakeTwilio, twilio_settings: Settings
) -> None:
    wrong = TwilioCarrier(twilio_settings.model_copy(update={"twilio_auth_token": "wrong"}))
    with pytest.raises(CarrierError, match="refused the credentials") as caught:
        wrong.check_credentials()
    assert caught.value.code == 20003


def test_check_credentials_fails_for_a_suspended_account(
    fake: FakeTwilio, carrier: TwilioCarrier
) -> None:
    fake.account_status = "suspended"
    with pytest.raises(CarrierError, match="is suspended: it cannot send messages"):
        carrier.check_credentials()


def test_check_credentials_says_when_twilio_cannot_be_reached(settings: Settings) -> None:
    nowhere = settings.model_copy(update={"twilio_api_url": f"http://127.0.0.1:{free_port()}"})
    with pytest.raises(CarrierError, match="could not be reached"):
        TwilioCarrier(nowhere, connect_timeout=1.0).check_credentials()


def test_the_fakes_account_answer_matches_twilios_schema(fake: FakeTwilio) -> None:
    path = f"/2010-04-01/Accounts/{ACCOUNT_SID}.json"
    response = httpx.get(fake.base_url + path, auth=(ACCOUNT_SID, AUTH_TOKEN))
    assert response.status_code == 200
    openapi, _ = load_spec()
    openapi.validate_response(
        MockRequest("https://api.twilio.com", "get", path),
        MockResponse(response.content, status_code=200),
    )


@pytest.fixture
def twilio_env(fake: FakeTwilio, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("MESSAGECENTER_CARRIER", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    monkeypatch.setenv("MESSAGECENTER_TWILIO_API_URL", fake.base_url)
    return monkeypatch


def test_cli_twilio_check_says_the_credentials_work(
    twilio_env: pytest.MonkeyPatch, fake: FakeTwilio, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["twilio", "check"]) == 0
    out = capsys.readouterr().out
    assert "Twilio credentials work" in out
    assert fake.account_name in out and fake.base_url in out


def test_cli_twilio_check_fails_clearly_with_a_wrong_token(
    twilio_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    twilio_env.setenv("TWILIO_AUTH_TOKEN", "not-the-token")
    assert main(["twilio", "check"]) == 1
    captured = capsys.readouterr()
    assert "Twilio check failed: Twilio refused the credentials" in captured.err
    assert "Twilio credentials work" not in captured.out


def test_cli_twilio_check_fails_for_a_closed_account(
    twilio_env: pytest.MonkeyPatch, fake: FakeTwilio, capsys: pytest.CaptureFixture[str]
) -> None:
    fake.account_status = "closed"
    assert main(["twilio", "check"]) == 1
    assert "is closed: it cannot send messages" in capsys.readouterr().err


def test_cli_twilio_check_fails_clearly_without_credentials(
    twilio_env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    twilio_env.delenv("TWILIO_AUTH_TOKEN")
    assert main(["twilio", "check"]) == 1
    assert "needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN" in capsys.readouterr().err
