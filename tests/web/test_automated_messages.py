"""Settings → Automated messages over HTTP in-process (TestClient on the rolled-back database):
every type with its switch, template, variables, sample preview and counter; saving, a refused
variable shown beside its template with nothing saved, reset to the default; owner-only and
CSRF-checked like the other settings pages."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from messagecenter.context import AppContext
from messagecenter.models import Business, Message
from messagecenter.notifications import service
from messagecenter.notifications.catalogue import TYPES
from messagecenter.notifications.service import TemplateView
from tests.web.conftest import Shop, csrf_of
from tests.web.flash_text import flashes_of

PATH = "/settings/automated-messages"
HTML = {"Accept": "text/html"}
REMINDER = "booking_reminder"


def template(session: Session, business: Business, name: str) -> TemplateView:
    session.expire_all()  # what the database holds, not what this session remembers
    return next(v for v in service.templates(session, business) if v.kind.name == name)


def card_of(html: str, name: str) -> str:
    """One template's section of the page."""
    found = re.search(rf'<section [^>]*id="template-{name}".*?</section>', html, re.S)
    assert found, f"no card for {name}"
    return found.group(0)


def post(client: TestClient, name: str, **form: str) -> Any:
    token = csrf_of(client.get(PATH).text)
    return client.post(f"{PATH}/{name}", data={"csrf": token, **form}, follow_redirects=False)


# ---------------------------------------------------------------------------- the page


def test_the_page_lists_every_type_with_its_variables_preview_and_counter(shop: Shop) -> None:
    page = shop.owner.get(PATH)
    assert page.status_code == 200
    for kind in TYPES.values():
        card = card_of(page.text, kind.name)
        assert kind.label in card
        if not kind.answers_keyword:
            assert 'name="enabled" value="on"' in card and " checked" in card  # on by default
        else:  # a keyword must be answered where the app answers them: no switch
            assert 'name="enabled"' not in card
            assert "Always sent where the app answers keywords." in card
        assert unescape(kind.default_body) in unescape(card)
        # The picker offers exactly this type's variables.
        assert re.findall(r'data-insert-variable="(\w+)"', card) == list(kind.variables)
        assert "(default wording)" in card and "Reset to default" not in card
    reminder = unescape(card_of(page.text, REMINDER))
    # The preview is rendered on the server with the sample client and the business's name.
    preview = re.search(r'id="preview-booking_reminder"[^>]*>([^<]*)<', reminder)
    assert preview and preview.group(1).startswith(f"{shop.business.name}: Hi Maria, a reminder")
    assert "[" not in preview.group(1)  # every variable filled in
    assert re.search(r"\d+ characters · 1 segment · GSM-7 · 1 unit", reminder)
    # Grouped by category, the keyword answers apart with what they are.
    groups = re.findall(r'<section class="template-group" id="group-(\w+)"', page.text)
    assert groups == ["reminders", "account", "marketing", "answers", "keywords"]
    assert "Where the carrier answers them (Twilio's default)" in unescape(page.text)
    # The settings page links here.
    assert f'href="{PATH}"' in shop.owner.get("/settings").text


def test_a_variable_value_that_forces_ucs2_is_warned_about(session: Session, shop: Shop) -> None:
    shop.business.name = "Zoë's Studio"  # ë is not GSM-7; the default templates are
    session.commit()
    card = unescape(card_of(shop.owner.get(PATH).text, REMINDER))
    warning = re.search(r"<p class=\"note\" data-ucs2-warning([^>]*)>([^<]*)<", card)
    assert warning and "hidden" not in warning.group(1)
    assert "(ë) switches this text to UCS-2" in warning.group(2)
    assert "UCS-2 · " in card and "(because of ë)" in card
    # A keyword answer that never names the business stays GSM-7, its warning hidden.
    shop_plain = shop.owner.post(
        "/app/automated-messages/help/preview", json={"body": "Call us. Reply STOP."}
    )
    assert shop_plain.json()["ucs2_from_values"] == []
    assert shop_plain.json()["count"]["encoding"] == "GSM-7"


def test_the_live_preview_renders_and_counts_what_is_typed(shop: Shop) -> None:
    answer = shop.owner.post(
        f"/app/automated-messages/{REMINDER}/preview",
        json={"body": "Hi [Firstname], see you at [BookingTime] 🙂"},
    )
    assert answer.status_code == 200
    found = answer.json()
    assert found["preview"].startswith("Hi Maria, see you at ") and "[" not in found["preview"]
    assert found["error"] == ""
    # The emoji is the template's own, not a value's: UCS-2 without the values' warning.
    assert found["count"]["encoding"] == "UCS-2" and found["ucs2_from_values"] == []
    refused = shop.owner.post(
        "/app/automated-messages/welcome/preview", json={"body": "At [BookingTime]"}
    )
    assert "[BookingTime] is not available in a welcome" in refused.json()["error"]
    assert refused.json()["preview"] == ""


# ---------------------------------------------------------------------------- saving


def test_saving_keeps_the_wording_and_the_switch(session: Session, shop: Shop) -> None:
    wording = "[BusinessName]: Hi [Firstname],\r\nsee you [BookingDate]."
    answer = post(shop.owner, REMINDER, body=wording, action="save")  # no "enabled": off
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{PATH}#template-{REMINDER}"
    saved = template(session, shop.business, REMINDER)
    assert (saved.body, saved.enabled, saved.customised) == (
        "[BusinessName]: Hi [Firstname],\nsee you [BookingDate].",  # stored with LF
        False,
        True,
    )
    page = shop.owner.get(PATH).text
    assert flashes_of(page) == "Booking reminder saved."  # once, from the session
    assert flashes_of(shop.owner.get(f"{PATH}?saved={REMINDER}").text) == ""  # not from a URL
    card = card_of(page, REMINDER)
    assert "see you [BookingDate].</textarea>" in unescape(card)
    assert " checked" not in card and "(your wording)" in card and "Reset to default" in card
    # Switched back on, the wording kept.
    post(shop.owner, REMINDER, body=saved.body, enabled="on")
    assert template(session, shop.business, REMINDER).enabled


def test_an_unknown_variable_is_refused_beside_its_template_and_nothing_saved(
    session: Session, shop: Shop
) -> None:
    answer = post(shop.owner, REMINDER, body="Hi [Nickname] at [BookingTime]", enabled="")
    assert answer.status_code == 400
    card = unescape(card_of(answer.text, REMINDER))
    error = re.search(r'id="error-booking_reminder">([^<]*)<', card)
    allowed = ", ".join(f"[{v}]" for v in TYPES[REMINDER].variables)
    assert error and error.group(1) == f"[Nickname] is not a variable. Use only: {allowed}."
    assert "Hi [Nickname] at [BookingTime]</textarea>" in card  # what was typed, kept
    # No other template carries the message, and nothing changed.
    assert answer.text.count('role="alert"') == 1
    kept = template(session, shop.business, REMINDER)
    assert (kept.body, kept.enabled, kept.customised) == (
        TYPES[REMINDER].default_body,
        True,
        False,
    )


def test_reset_restores_the_default_wording(session: Session, shop: Shop) -> None:
    post(shop.owner, "birthday", body="[BusinessName]: Happy birthday!", enabled="on")
    assert template(session, shop.business, "birthday").customised
    answer = post(shop.owner, "birthday", body="ignored [Nickname]", enabled="on", action="reset")
    assert answer.status_code == 303
    reset = template(session, shop.business, "birthday")
    assert (reset.body, reset.customised, reset.enabled) == (
        TYPES["birthday"].default_body,
        False,
        True,
    )


def test_an_unknown_type_is_404(shop: Shop) -> None:
    assert post(shop.owner, "no_such_type", body="Hi").status_code == 404


# ---------------------------------------------------------------------------- who may


def test_only_the_owner_may_open_or_save(session: Session, shop: Shop) -> None:
    page = shop.clerk.get(PATH)
    assert page.status_code == 403 and "Only the business owner" in page.text
    token = csrf_of(shop.clerk.get("/clients").text)
    refused = shop.clerk.post(
        f"{PATH}/{REMINDER}", data={"csrf": token, "body": "Hi [Firstname]"}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert (
        shop.clerk.post(
            f"/app/automated-messages/{REMINDER}/preview", json={"body": "x"}
        ).status_code
        == 403
    )
    assert not template(session, shop.business, REMINDER).customised
    assert 'href="/settings/automated-messages"' not in shop.clerk.get("/clients").text


def test_a_save_needs_the_forms_csrf_token(session: Session, shop: Shop) -> None:
    for token in ("", "not-the-token"):
        refused = shop.owner.post(
            f"{PATH}/{REMINDER}",
            data={"csrf": token, "body": "Hi [Firstname]", "enabled": "on"},
            follow_redirects=False,
        )
        assert refused.status_code == 403, token
    assert not template(session, shop.business, REMINDER).customised


# ---------------------------------------------------------------------------- send a test


def test_send_a_test_goes_to_the_owner_s_own_cell_phone_as_typed_with_sample_data(
    session: Session, context: AppContext, shop: Shop
) -> None:
    token = csrf_of(shop.owner.get(PATH).text)
    refused = shop.owner.post(
        f"{PATH}/{REMINDER}",
        data={"csrf": token, "body": "Hi [Firstname]!", "action": "test"},
        follow_redirects=False,
    )
    assert refused.status_code == 400  # no cell phone yet: said beside the template
    assert "Add your cell phone first" in unescape(card_of(refused.text, REMINDER))

    bad = shop.owner.post(
        f"{PATH}-test-phone", data={"csrf": token, "cell_phone": "12"}, follow_redirects=False
    )
    assert bad.status_code == 400  # said beside the field, the number as typed kept
    assert 'id="phone-error"' in bad.text
    saved = shop.owner.post(
        f"{PATH}-test-phone",
        data={"csrf": token, "cell_phone": "(212) 555-0177"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    assert 'value="+12125550177"' in shop.owner.get(PATH).text

    sent = shop.owner.post(
        f"{PATH}/{REMINDER}",
        data={
            "csrf": token,
            "body": "[BusinessName]: hi [Firstname], [Service]!",
            "action": "test",
        },
        follow_redirects=False,
    )
    assert (sent.status_code, sent.headers["location"]) == (303, f"{PATH}#template-{REMINDER}")
    assert "A test of Booking reminder is on its way to (212) 555-0177" in flashes_of(
        shop.owner.get(PATH).text
    )
    session.expire_all()
    (message,) = session.scalars(select(Message).where(Message.to_phone == "+12125550177"))
    assert message.body == f"{shop.business.name}: hi Maria, Massage (60 min)!"  # sample data
    assert (message.sender_type, message.dispatch_state, message.units) == ("staff", "pending", 1)
    # A test saves nothing: the template keeps its default wording.
    assert not template(session, shop.business, REMINDER).customised
