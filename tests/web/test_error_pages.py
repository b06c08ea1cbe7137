"""Bad addresses on the staff pages get the app's own error page in plain words: what to
change, never the value typed in the URL; a reversed date range says so; a page past the end
of a list goes to its last page (http/errors.py, http/pages.py)."""

from __future__ import annotations

import re
from html import unescape

import pytest
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from tests.factories import make_client
from tests.web.conftest import Shop

PLANTED = "CallUs5550199"


def _message(html: str) -> str:
    found = re.search(r'<p role="alert">(.*?)</p>', html, re.S)
    assert found, "not the app's error page"
    return " ".join(unescape(found.group(1)).split())


@pytest.mark.parametrize(
    "path",
    [f"/conversations/{PLANTED}", "/conversations/99999999999", "/clients/0",
     f"/bulk-sends/{PLANTED}", f"/settings/webhooks/{PLANTED}"],
)  # fmt: skip
def test_a_bad_id_is_a_404_page_in_plain_words(shop: Shop, path: str) -> None:
    page = shop.owner.get(path)
    assert page.status_code == 404
    message = _message(page.text)
    assert message.startswith("There is no such ") and "the address does not name one" in message
    assert PLANTED not in page.text


def test_an_address_with_no_page_is_a_404_in_plain_words(shop: Shop) -> None:
    page = shop.owner.get(f"/{PLANTED}")
    assert page.status_code == 404
    assert _message(page.text).startswith("There is no page at this address.")
    assert PLANTED not in page.text


@pytest.mark.parametrize(
    ("path", "params", "said"),
    [
        ("/inbox", {"folder": PLANTED},
         "The folder must be one of: unread, read, replied, archived, blocked, all, mine, "
         "unassigned."),
        ("/inbox", {"page": PLANTED}, "The page must be a whole number."),
        ("/inbox", {"page": "0"}, "The page must be 1 or more."),
        ("/clients", {"show": PLANTED},
         "The show must be one of: all, no_valid_cell_phone, unsubscribed."),
        ("/history", {"direction": PLANTED},
         "The direction must be one of: (none), inbound, outbound."),
        ("/inbox", {"q": PLANTED * 20}, "The q is too long: at most 100 characters."),
    ],
)  # fmt: skip
def test_a_bad_filter_is_a_400_page_saying_what_is_allowed(
    shop: Shop, path: str, params: dict[str, str], said: str
) -> None:
    page = shop.owner.get(path, params=params)
    assert page.status_code == 400
    assert _message(page.text) == f"{said} Change it and try again."
    assert PLANTED not in page.text.replace(f'value="{PLANTED * 20}"', "")


@pytest.mark.parametrize("path", ["/inbox", "/history"])
def test_a_bad_or_reversed_date_range_says_so_on_the_page(shop: Shop, path: str) -> None:
    reversed_range = shop.owner.get(path, params={"since": "2026-11-20", "until": "2026-11-01"})
    assert reversed_range.status_code == 400
    assert "The first day comes after the last day: swap them." in reversed_range.text
    one_day = shop.owner.get(path, params={"since": "2026-11-20", "until": "2026-11-20"})
    assert one_day.status_code == 200 and "swap them" not in one_day.text
    bad = shop.owner.get(path, params={"since": "20/11/2026"})
    assert bad.status_code == 400 and "Dates are written like 2026-11-30." in bad.text
    assert "20/11/2026" not in bad.text.replace('value="20/11/2026"', "")


@pytest.mark.parametrize("path", ["/inbox", "/clients", "/history"])
def test_a_page_past_the_end_goes_to_the_last_page(
    session: Session, shop: Shop, clock: FrozenClock, path: str
) -> None:
    make_client(session, shop.business, clock.now())
    session.commit()
    answer = shop.owner.get(path, params={"page": "40", "q": "x"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{path}?q=x&page=1"
    assert shop.owner.get(path, params={"page": "1"}).status_code == 200
