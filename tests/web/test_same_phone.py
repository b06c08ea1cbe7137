"""A new client whose cell phone another client already has: the form names that client and
the number's consent before saving, and saving anyway stays possible (web/manage.py)."""

from __future__ import annotations

from html import unescape

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.consent.service import set_consent
from messagecenter.models import Client
from tests.factories import make_client
from tests.web.conftest import Shop, csrf_of

NEW = {"first_name": "Rosa", "last_name": "Lopez", "cell_phone": "(212) 555-0142"}


def _clients(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Client)) or 0


def test_a_shared_number_is_named_with_its_consent_and_saved_only_when_confirmed(
    session: Session, shop: Shop, clock: FrozenClock
) -> None:
    maria = make_client(session, shop.business, clock.now())
    set_consent(
        session, business_id=shop.business.id, phone="+12125550142", opted_out=True,
        source="keyword", keyword="STOP", sms_number=None, message_id=None, at=clock.now(),
    )  # fmt: skip
    session.commit()
    before = _clients(session)
    token = csrf_of(shop.owner.get("/clients/new").text)

    asked = shop.owner.post("/clients", data={**NEW, "csrf": token}, follow_redirects=False)
    assert asked.status_code == 200 and _clients(session) == before  # nothing saved yet
    text = unescape(asked.text)
    assert 'id="same-phone-warning"' in text
    assert f'<a href="/clients/{maria.id}">Maria Lopez</a> already has the cell phone' in text
    assert "This number unsubscribed from texts on" in text and "by texting STOP" in text
    assert 'value="Rosa"' in text and 'value="(212) 555-0142"' in text  # kept as typed

    done = shop.owner.post(
        "/clients", data={**NEW, "same_phone": "+12125550142", "csrf": token},
        follow_redirects=False,
    )  # fmt: skip
    assert done.status_code == 303 and _clients(session) == before + 1
    rosa = session.scalar(select(Client).where(Client.first_name == "Rosa"))
    assert rosa is not None and rosa.cell_phone == "+12125550142"


def test_agreeing_to_one_number_does_not_cover_another(
    session: Session, shop: Shop, clock: FrozenClock
) -> None:
    make_client(session, shop.business, clock.now())
    make_client(session, shop.business, clock.now(), first_name="James", cell_phone="+12125550143")
    session.commit()
    before = _clients(session)
    token = csrf_of(shop.owner.get("/clients/new").text)
    asked = shop.owner.post(
        "/clients", data={**NEW, "cell_phone": "+12125550143", "same_phone": "+12125550142",
                          "csrf": token}, follow_redirects=False,
    )  # fmt: skip
    assert asked.status_code == 200 and "James Lopez</a> already has" in unescape(asked.text)
    assert "This number is subscribed to texts." in asked.text
    assert _clients(session) == before


def test_saving_a_client_under_their_own_number_asks_nothing(
    session: Session, shop: Shop, clock: FrozenClock
) -> None:
    maria = make_client(session, shop.business, clock.now())
    make_client(session, shop.business, clock.now(), first_name="Rosa")  # shares it already
    session.commit()
    token = csrf_of(shop.owner.get(f"/clients/{maria.id}").text)
    saved = shop.owner.post(
        f"/clients/{maria.id}",
        data={"first_name": "Mary", "last_name": "Lopez", "cell_phone": "+12125550142",
              "csrf": token}, follow_redirects=False,
    )  # fmt: skip
    assert saved.status_code == 303
