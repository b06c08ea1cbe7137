"""A client's media list is shown, but only web links become links: a signed inbound with
MediaUrl0=javascript:... once rendered a clickable javascript: link in the conversation."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from messagecenter.clock import FrozenClock
from messagecenter.context import AppContext
from messagecenter.models import Message
from tests.factories import make_business, text_from
from tests.web.conftest import owner_email_of, sign_in

MEDIA = [
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    " javascript:alert(2)",
    "data:text/html,<script>alert(3)</script>",
    "https://media.example.com/a.jpg",
    "HTTP://media.example.com/b.jpg",
]


def test_only_http_media_are_links(
    web: TestClient, context: AppContext, session: Session, clock: FrozenClock
) -> None:
    setup = make_business(session, context.carrier, clock.now())
    outcome = text_from(session, setup.number, "+12125550142", "", clock.now(), media=MEDIA)
    session.commit()
    message = session.get(Message, outcome.message_id)
    assert message is not None and message.conversation_id is not None
    assert sign_in(web, owner_email_of(session, setup.business.id), setup.owner_password)

    for path in (
        f"/conversations/{message.conversation_id}",
        f"/conversations/{message.conversation_id}/thread",
    ):
        page = web.get(path)
        assert page.status_code == 200, page.text
        hrefs = [part.split('"', 1)[0] for part in page.text.split('href="')[1:]]
        assert "https://media.example.com/a.jpg" in hrefs
        assert "HTTP://media.example.com/b.jpg" in hrefs
        assert not [h for h in hrefs if "javascript" in h.lower() or h.startswith("data:")]
        # Still shown, as text (escaped): nothing a client sends is hidden.
        assert "javascript:alert(document.cookie)" in page.text
        assert "&lt;script&gt;alert(3)&lt;/script&gt;" in page.text
