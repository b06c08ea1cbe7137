"""The owner's page of texts to an old number: counted, the client named, and "text back
from the current number" opening that client's conversation (web/unrouted.py)."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy.orm import Session

from messagecenter.businesses.queries import active_number
from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.http.readable import phone_text
from messagecenter.numbers.service import change_number, suggest_numbers
from tests.factories import PUBLIC_URL, make_client, text_from
from tests.web.conftest import Shop, csrf_of
from tests.web.flash_text import flashes_of

MARIA, STRANGER = "+12125550142", "+12125550188"


def national(e164: str) -> str:
    return phone_text(e164, "US")


def _old_number_texts(session: Session, shop: Shop, context: AppContext, clock: FrozenClock) -> str:
    """The business moves to another number; Maria (a client) and a stranger text the old
    one. The new number."""
    business = shop.business
    old = active_number(session, business.id)
    assert old is not None
    chosen = suggest_numbers(session, business, context.carrier)[0]
    change_number(session, business, context.carrier, chosen, PUBLIC_URL, clock.now(),
                  confirmed=True)  # fmt: skip
    make_client(session, business, clock.now())  # Maria Lopez, +12125550142
    text_from(session, old, MARIA, "Still open Saturday?", clock.now())
    text_from(session, old, STRANGER, "Who is this?", clock.now())
    session.commit()
    return chosen


def test_the_page_counts_names_the_client_and_texts_back_from_the_current_number(
    session: Session, shop: Shop, context: AppContext, clock: FrozenClock
) -> None:
    current = _old_number_texts(session, shop, context, clock)
    settings = unescape(shop.owner.get("/settings").text)
    assert "2 texts</strong> reached an old number" in settings

    page = shop.owner.get("/settings/unrouted-texts")
    assert page.status_code == 200
    text = unescape(page.text)
    assert '<span class="badge" id="unrouted-count">2</span>' in text
    assert re.search(r'<a href="/clients/\d+">Maria Lopez</a>', text)
    # Numbers in the US way, E.164 in their tooltips.
    assert '<span class="phone" title="+12125550188">(212) 555-0188</span>' in text
    shown = f'<span class="phone" title="{current}">{national(current)}</span>'
    assert f"<strong>{shown}</strong>" in text
    answer_path = re.findall(r'action="(/settings/unrouted-texts/\d+/answer)"', text)
    assert len(answer_path) == 2

    maria_row = re.search(r'<tr data-unrouted-id="(\d+)">(?:(?!</tr>).)*Maria Lopez', text, re.S)
    assert maria_row is not None
    opened = shop.owner.post(
        f"/settings/unrouted-texts/{maria_row[1]}/answer",
        data={"csrf": csrf_of(page.text)}, follow_redirects=False,
    )  # fmt: skip
    assert opened.status_code == 303
    assert re.fullmatch(r"/conversations/\d+", opened.headers["location"])
    conversation = shop.owner.get(opened.headers["location"])
    said = flashes_of(conversation.text)
    assert "(212) 555-0142 wrote “Still open Saturday?” to your old number" in said
    assert f"goes from your current number, {national(current)}" in said


def test_only_owners_see_it_and_another_business_text_is_not_found(
    session: Session, shop: Shop, context: AppContext, clock: FrozenClock
) -> None:
    _old_number_texts(session, shop, context, clock)
    assert shop.clerk.get("/settings/unrouted-texts").status_code == 403
    token = csrf_of(shop.owner.get("/settings/unrouted-texts").text)
    missing = shop.owner.post("/settings/unrouted-texts/999999/answer", data={"csrf": token})
    assert missing.status_code == 404


def test_with_none_the_page_says_so(shop: Shop) -> None:
    page = shop.owner.get("/settings/unrouted-texts")
    assert page.status_code == 200 and "No texts have reached an old number." in page.text
    assert "reached an old number</a>" not in shop.owner.get("/settings").text
