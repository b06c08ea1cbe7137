"""Opt-out, opt-in and help: consent belongs to the business and the phone number.

Every change writes a ConsentRecord. This module decides; the conversations service sends or
records whatever reply follows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from messagecenter.consent import queries
from messagecenter.db import insert_ignore
from messagecenter.errors import ClientUnsubscribed
from messagecenter.integrations import service as webhooks
from messagecenter.models import Business, ConsentRecord, PhoneConsent
from messagecenter.models.consent import CONSENT_OPT_IN, CONSENT_OPT_OUT, SOURCE_KEYWORD
from messagecenter.sms.keywords import Keyword, classify_keyword
from messagecenter.sms.toll_free import is_toll_free


@dataclass(frozen=True)
class KeywordOutcome:
    kind: Keyword
    keyword: str
    changed: bool  # whether consent changed (HELP never changes it)


def is_opted_out(session: Session, business_id: int, phone: str) -> bool:
    state = queries.consent_for(session, business_id, phone)
    return bool(state and state.opted_out)


def ensure_may_text(session: Session, business_id: int, phone: str) -> None:
    """Refuse (409) any message to a number that opted out of this business's texts."""
    state = queries.consent_for(session, business_id, phone)
    if state and state.opted_out:
        raise unsubscribed(state)


def unsubscribed_among(
    session: Session, business_id: int, phones: Iterable[str]
) -> dict[str, ClientUnsubscribed]:
    """The refusal for each of these phones that opted out, read in one query (a batch send
    checks all its recipients at once); in ensure_may_text's words."""
    states = queries.consents_for(session, business_id, sorted(set(phones)))
    return {phone: unsubscribed(state) for phone, state in states.items() if state.opted_out}


def unsubscribed(state: PhoneConsent) -> ClientUnsubscribed:
    """Why a message to this opted-out phone is refused: when and how it unsubscribed, and
    how it comes back."""
    how = f"by texting {state.keyword}" if state.keyword else f"({state.source})"
    return ClientUnsubscribed(
        f"This client unsubscribed from your texts on {state.changed_at:%Y-%m-%d} {how}. "
        "They must text START to receive messages again."
    )


def apply_inbound_keyword(
    session: Session,
    *,
    business_id: int,
    phone: str,
    body: str,
    sms_number: str,
    message_id: int,
    at: datetime,
) -> KeywordOutcome | None:
    """Apply the keyword rules to a client's text; None when it is ordinary text.

    Which words count depends on the business's country and on whether `sms_number` is
    toll-free (sms/keywords.py). START / UNSTOP / YES from a subscribed client is ordinary
    text and writes nothing.
    """
    business = session.get(Business, business_id)  # usually already in the session
    assert business is not None
    match = classify_keyword(body, country=business.country, toll_free=is_toll_free(sms_number))
    if match is None:
        return None
    opted_out = is_opted_out(session, business_id, phone)
    if match.kind is Keyword.OPT_IN and not opted_out:
        return None
    if match.kind is Keyword.HELP:
        return KeywordOutcome(match.kind, match.keyword, changed=False)
    want_out = match.kind is Keyword.OPT_OUT
    changed = set_consent(
        session,
        business_id=business_id,
        phone=phone,
        opted_out=want_out,
        source=SOURCE_KEYWORD,
        keyword=match.keyword,
        sms_number=sms_number,
        message_id=message_id,
        at=at,
    )
    return KeywordOutcome(match.kind, match.keyword, changed)


def set_consent(
    session: Session,
    *,
    business_id: int,
    phone: str,
    opted_out: bool,
    source: str,
    keyword: str | None,
    sms_number: str | None,
    message_id: int | None,
    at: datetime,
) -> bool:
    """Record a consent change; True when the state changed (a repeat STOP still records)."""
    insert_ignore(
        session,
        PhoneConsent.__table__,  # type: ignore[arg-type]
        {
            "business_id": business_id,
            "phone": phone,
            "opted_out": False,
            "keyword": None,
            "source": "default",
            "changed_at": at,
        },
        ["business_id", "phone"],
    )
    state = queries.consent_for(session, business_id, phone)
    assert state is not None
    changed = state.opted_out != opted_out
    state.opted_out = opted_out
    state.keyword = keyword
    state.source = source
    state.changed_at = at
    session.add(
        ConsentRecord(
            business_id=business_id,
            phone=phone,
            action=CONSENT_OPT_OUT if opted_out else CONSENT_OPT_IN,
            source=source,
            keyword=keyword,
            sms_number=sms_number,
            message_id=message_id,
            created_at=at,
        )
    )
    session.flush()
    if changed:  # client.opted_out / client.opted_in for the business's webhooks
        webhooks.consent_changed(
            session, business_id, phone, opted_out=opted_out, source=source, keyword=keyword, at=at
        )
    return changed


def consent_summary(state: PhoneConsent | None) -> dict[str, object]:
    """The subscription state as the API and pages show it."""
    if state is None or not state.opted_out:
        return {
            "subscribed": True,
            "changed_at": state.changed_at if state else None,
            "keyword": state.keyword if state else None,
            "source": state.source if state else None,
        }
    return {
        "subscribed": False,
        "changed_at": state.changed_at,
        "keyword": state.keyword,
        "source": state.source,
    }
