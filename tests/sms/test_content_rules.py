"""Acceptable use: content refused before a message is queued, with the reason and the policy;
the rules are data (the built-in file and an operator's file); refusals write nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.app import create_app
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.errors import InvalidInput
from messagecenter.models import Message
from messagecenter.notifications.service import save_template
from messagecenter.sending.compose import Outgoing, Sender, send_message, send_messages
from messagecenter.sms.content_rules import (
    ContentRefused,
    active_rules,
    load_rules,
    use_rules,
)
from tests.factories import MARIA, SetUp, count, make_business, make_client, text_from, used

JOHN = "+12125550143"


@pytest.fixture
def shop(session: Session, context: AppContext, clock: FrozenClock) -> SetUp:
    return make_business(session, context.carrier, clock.now())


@pytest.fixture
def rules_file(tmp_path: Path) -> Iterator[Path]:
    """An operator's rules file; the built-in rules are back in force after the test."""
    yield tmp_path / "rules.toml"
    use_rules(load_rules(None))


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ("20% off CBD gummies this week!", "cannabis"),
        ("Our cannabis-infused massage oil is back", "cannabis"),
        ("Need cash? Payday   loans approved today", "high_risk_lending"),
        ("New vape flavours in store", "tobacco_vaping"),
        ("Book here: bit.ly/3xYz", "link_shortener"),
        ("Book here: https://tinyurl.com/abc?x=1", "link_shortener"),
        ("Book: HTTPS://WWW.BIT.LY/abc", "link_shortener"),
    ],
)
def test_content_carriers_refuse_is_refused_with_the_rule_reason_and_policy(
    body: str, rule: str
) -> None:
    broken = active_rules().refusal(body, "US")
    assert broken is not None and broken.id == rule
    with pytest.raises(ContentRefused) as refused:
        active_rules().check(body, "US")
    assert refused.value.rule == rule
    assert refused.value.code == "content_refused" and refused.value.field == "body"
    assert broken.reason in refused.value.message and broken.policy in refused.value.message


@pytest.mark.parametrize(
    "body",
    [
        "See you at 3 for your massage!",
        "Stop by tomorrow for a free class",
        "Our orbit.ly-style studio map: https://studio.example/map",  # not a shortener
        "abcbd and thcx are not words",
        "https://example.com/bit.ly",  # the shortener's name in a path, not the host
        "Email us at bookings@bit.ly.example.com",
    ],
)
def test_ordinary_texts_pass(body: str) -> None:
    assert active_rules().refusal(body, "US") is None


def test_a_rule_for_some_countries_leaves_the_others_alone() -> None:
    assert active_rules().refusal("CBD facials", "GB") is None
    assert active_rules().refusal("CBD facials", "CA") is not None
    assert active_rules().refusal("bit.ly/x", "GB") is not None  # shorteners everywhere


def test_a_refused_send_writes_nothing_and_a_batch_refuses_only_that_item(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    maria = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    john = make_client(session, shop.business, clock.now(), cell_phone=JOHN)
    with pytest.raises(ContentRefused):
        send_message(
            session, shop.business, body="Try our CBD oil", sender=Sender.automated(),
            client=maria, at=clock.now(),
        )  # fmt: skip
    assert count(session, Message) == 0 and used(session, shop.business, clock.now()) == 0

    results = send_messages(
        session,
        shop.business,
        [Outgoing("bit.ly/offer", client=maria), Outgoing("See you Friday!", client=john)],
        sender=Sender.automated(),
        at=clock.now(),
    )
    assert isinstance(results[0], ContentRefused) and results[0].rule == "link_shortener"
    assert isinstance(results[1], Message)
    assert count(session, Message) == 1 and used(session, shop.business, clock.now()) == 1


def test_the_api_answers_400_content_refused_with_the_rule_id(
    session: Session, context: AppContext, clock: FrozenClock, shop: SetUp
) -> None:
    client = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    session.commit()
    with TestClient(create_app(context=context, run_dispatcher=False)) as api:
        answer = api.post(
            "/api/v1/messages",
            json={"client_id": client.id, "body": "Payday loans, fast"},
            headers=shop.auth,
        )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["rule"], error["field"]) == (
        "content_refused",
        "high_risk_lending",
        "body",
    )
    assert "payday loans" in error["message"]


def test_a_template_is_checked_when_it_is_saved(
    session: Session, clock: FrozenClock, shop: SetUp
) -> None:
    with pytest.raises(ContentRefused):
        save_template(
            session, shop.business, "birthday", enabled=None,
            body="[BusinessName]: a birthday gift at bit.ly/gift", reset_body=False,
            at=clock.now(),
        )  # fmt: skip


def test_an_operator_adds_a_rule_and_switches_one_off_without_code(rules_file: Path) -> None:
    rules_file.write_text(
        'off = ["tobacco_vaping"]\n'
        "[[rule]]\n"
        'id = "crypto"\n'
        'kind = "words"\n'
        'words = ["bitcoin", "crypto giveaway"]\n'
        'reason = "No crypto offers."\n'
        'policy = "https://operator.example/policy"\n'
    )
    rules = load_rules(str(rules_file))
    assert rules.refusal("Free crypto  giveaway!", "GB") is not None
    assert rules.refusal("New vape flavours", "US") is None
    assert rules.refusal("CBD", "US") is not None  # the other built-in ones stay


@pytest.mark.parametrize(
    ("word", "body"),
    [
        ("cbd's", "Try CBD's calm today"),  # the word test passes "cbd", then the pattern
        ("$$ fast cash", "Get $$ fast cash now"),  # starts with no word: always tried
        ("glow-stick", "Glow stick party"),  # a dash may be a space
        ("\uff23\uff22\uff24", "cbd oil"),  # fullwidth in the file, plain in the text
    ],
)
def test_a_rule_matches_whatever_its_words_start_with(
    rules_file: Path, word: str, body: str
) -> None:
    """The quick word test that lets most texts through never lets a breaking one by."""
    rules_file.write_text(
        'off = ["cannabis"]\n[[rule]]\nid = "custom"\nkind = "words"\n'
        f"words = [{word!r}]\n"
        'reason = "No."\npolicy = "https://operator.example/policy"\n'
    )
    broken = load_rules(str(rules_file)).refusal(body, "US")
    assert broken is not None and broken.id == "custom"


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ('off = ["no_such_rule"]\n', "no rule called no_such_rule"),
        ("[[rule]]\nid = 'x'\nkind = 'words'\n", "reason"),
        ("this is not toml", "content rules file"),
        (
            "[[rule]]\nid = 'cannabis'\nkind = 'words'\nwords = ['a']\nreason = 'r'\n"
            "policy = 'https://p.example'\n",
            "used twice",
        ),
    ],
)
def test_a_bad_rules_file_is_refused_naming_what_is_wrong(
    rules_file: Path, text: str, complaint: str
) -> None:
    rules_file.write_text(text)
    with pytest.raises(ValueError, match=complaint):
        load_rules(str(rules_file))


def test_the_first_message_rule_switched_on_refuses_an_opener_that_does_not_name_the_business(
    session: Session, clock: FrozenClock, shop: SetUp, rules_file: Path
) -> None:
    assert not active_rules().checks_first_messages  # off unless an operator switches it on
    rules_file.write_text('on = ["first_message_names_business"]\n')
    use_rules(load_rules(str(rules_file)))
    maria = make_client(session, shop.business, clock.now(), cell_phone=MARIA)
    john = make_client(session, shop.business, clock.now(), cell_phone=JOHN)

    results = send_messages(
        session,
        shop.business,
        [
            Outgoing("Hi Maria, see you Friday", client=maria),  # opens a conversation
            Outgoing(f"{shop.business.name.upper()}: hi John", client=john),  # names it
            Outgoing("and bring a towel", client=john),  # no longer the first
        ],
        sender=Sender.automated(),
        at=clock.now(),
    )
    assert isinstance(results[0], ContentRefused)
    assert results[0].rule == "first_message_names_business"
    assert all(isinstance(r, Message) for r in results[1:])

    text_from(session, shop.number, MARIA, "Hello?", clock.now())  # Maria writes first
    reply = send_message(
        session, shop.business, body="Hi Maria!", sender=Sender.automated(), client=maria,
        at=clock.now(),
    )  # fmt: skip
    assert reply.id is not None  # a reply to a client who wrote is no first message


def test_a_content_refusal_is_an_invalid_input() -> None:
    # Everything that handles a 400 handles it (the web pages show it beside the form).
    assert issubclass(ContentRefused, InvalidInput)


def test_other_businesses_elsewhere_get_the_same_rules(
    session: Session, context: AppContext, clock: FrozenClock
) -> None:
    london = make_business(session, context.carrier, clock.now(), country="GB",
                           timezone="Europe/London", business_phone="+442079460000")  # fmt: skip
    client = make_client(session, london.business, clock.now(), cell_phone="+447911123456")
    sent = send_message(
        session, london.business, body="CBD facials are back", sender=Sender.automated(),
        client=client, at=clock.now(),
    )  # fmt: skip
    assert sent.id is not None  # the cannabis rule is for US and Canadian numbers
