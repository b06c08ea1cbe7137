"""What a page says after a form travels in the session, never in the URL: a link anyone
could write must not make the app appear to say something (http/flash.py)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from tests.factories import make_client
from tests.web.conftest import Shop, csrf_of
from tests.web.flash_text import flashes_of

PLANTED = "Your account is suspended, call 555-0199"


@pytest.mark.parametrize(
    "path",
    ["/settings", "/staff", "/settings/automated-messages", "/inbox", "/history", "/clients"],
)
@pytest.mark.parametrize("name", ["error", "saved", "notice", "message", "confirm", "sent"])
def test_text_in_the_query_string_is_never_shown(shop: Shop, path: str, name: str) -> None:
    page = shop.owner.get(path, params={name: PLANTED})
    assert page.status_code == 200, page.text
    assert "suspended" not in page.text
    assert flashes_of(page.text) == ""


def test_a_client_page_does_not_say_saved_because_the_url_says_so(
    session: Session, shop: Shop, clock: FrozenClock
) -> None:
    client = make_client(session, shop.business, clock.now())
    session.commit()
    page = shop.owner.get(f"/clients/{client.id}", params={"saved": "1"})
    assert page.status_code == 200 and flashes_of(page.text) == ""


def test_a_refusal_is_shown_once_on_the_page_after_the_redirect(shop: Shop) -> None:
    token = csrf_of(shop.owner.get("/settings").text)
    answer = shop.owner.post(
        "/settings/send-rate", data={"send_rate": "fast", "csrf": token}, follow_redirects=False
    )
    assert (answer.status_code, answer.headers["location"]) == (303, "/settings")
    shown = shop.owner.get("/settings").text
    assert flashes_of(shown, "error") == "Give the texts a second as a whole number."
    assert flashes_of(shop.owner.get("/settings").text) == ""  # once only


def test_a_message_is_for_the_browser_that_posted_the_form(shop: Shop) -> None:
    token = csrf_of(shop.owner.get("/settings").text)
    shop.owner.post(
        "/settings/send-rate", data={"send_rate": "fast", "csrf": token}, follow_redirects=False
    )
    assert flashes_of(shop.clerk.get("/inbox").text) == ""  # another person's session
    assert "whole number" in flashes_of(shop.owner.get("/inbox").text)  # the next page it sees
