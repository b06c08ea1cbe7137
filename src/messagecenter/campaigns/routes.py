"""JSON API: preview a bulk send, send it, read its progress, cancel the rest."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import JSONResponse

from messagecenter.campaigns import service
from messagecenter.campaigns.schemas import (
    AudienceIn,
    BulkSendIn,
    BulkSendList,
    BulkSendOut,
    BulkSendPatch,
    BulkTextIn,
    PreviewOut,
    ProgressOut,
    SkippedOut,
)
from messagecenter.http.deps import ApiKeyDep, BusinessDep, ContextDep, SessionDep, UnitOfWorkDep
from messagecenter.http.types import IdPath
from messagecenter.models import BulkSend
from messagecenter.sending.compose import Sender

router = APIRouter(tags=["bulk sends"])


@router.post("/bulk-send-previews", response_model=PreviewOut)
def preview(
    body: BulkTextIn, session: SessionDep, business: BusinessDep, context: ContextDep
) -> PreviewOut:
    """Whom the text would reach now, whom it would skip and why, and the units it needs
    against what the plan has left. Nothing is written."""
    reach = service.reach(
        session, business, audience(body.audience), body.body, body.category, context.clock.now()
    )
    return PreviewOut(
        recipients=len(reach.texts),
        skipped=skipped_out(reach.skipped),
        units=reach.units,
        remaining=reach.remaining,
        fits=reach.fits,
        sample=reach.texts[0][1] if reach.texts else None,
    )


@router.post(
    "/bulk-sends",
    response_model=BulkSendOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        200: {
            "model": BulkSendOut,
            "description": "The same request_key again: that send (`replayed`); nothing sent",
        }
    },
)
def create(
    body: BulkSendIn,
    work: UnitOfWorkDep,
    business: BusinessDep,
    key: ApiKeyDep,
    context: ContextDep,
) -> BulkSendOut | JSONResponse:
    """Send the text to the audience now, or schedule it with `send_at` (201). The same
    `request_key` again answers that
    send (200, `replayed`) and sends nothing; used for another text it is a 409. A hard-stop
    plan refuses (409 allowance_exhausted) a send that does not fit, with the numbers."""
    bulk, replayed = service.create(
        work.session,
        business,
        request_key=body.request_key,
        body=body.body,
        category=body.category,
        audience=audience(body.audience),
        sender=Sender.api_key(key.id),
        at=context.clock.now(),
        send_at=body.send_at,
    )
    out = bulk_out(work.session, [bulk])[0]
    if replayed:
        out.replayed = True
        return JSONResponse(out.model_dump(mode="json"), status_code=200)
    return out


@router.get("/bulk-sends", response_model=BulkSendList)
def list_sends(session: SessionDep, business: BusinessDep) -> BulkSendList:
    """The 50 most recent bulk sends, newest first, with their progress."""
    return BulkSendList(items=bulk_out(session, service.recent(session, business)))


@router.get("/bulk-sends/{bulk_send_id}", response_model=BulkSendOut)
def get_send(bulk_send_id: IdPath, session: SessionDep, business: BusinessDep) -> BulkSendOut:
    return bulk_out(session, [service.get(session, business, bulk_send_id)])[0]


@router.patch("/bulk-sends/{bulk_send_id}", response_model=BulkSendOut)
def change(
    bulk_send_id: IdPath,
    body: BulkSendPatch,
    work: UnitOfWorkDep,
    business: BusinessDep,
    context: ContextDep,
) -> BulkSendOut:
    """Change a scheduled send's text, kind, audience or time until it goes (409 after)."""
    bulk = service.reschedule(
        work.session,
        business,
        bulk_send_id,
        at=context.clock.now(),
        body=body.body,
        category=body.category,
        audience=audience(body.audience) if body.audience is not None else None,
        send_at=body.send_at,
    )
    return bulk_out(work.session, [bulk])[0]


@router.post("/bulk-sends/{bulk_send_id}/cancel", response_model=BulkSendOut)
def cancel(
    bulk_send_id: IdPath, work: UnitOfWorkDep, business: BusinessDep, context: ContextDep
) -> BulkSendOut:
    """Withdraw the texts that have not gone yet (their units come back; a scheduled send
    never goes); the ones the carrier has stay sent."""
    bulk = service.cancel(work.session, business, bulk_send_id, context.clock.now())
    return bulk_out(work.session, [bulk])[0]


def audience(given: AudienceIn) -> service.Audience:
    chosen = given.filter
    return service.Audience(
        client_ids=tuple(given.client_ids) if given.client_ids is not None else None,
        filter=service.AudienceFilter(**chosen.model_dump())
        if chosen
        else service.AudienceFilter(),
    )


def skipped_out(skipped: dict[str, int]) -> list[SkippedOut]:
    return [
        SkippedOut(reason=reason, words=service.SKIP_REASONS.get(reason, reason), clients=n)
        for reason, n in sorted(skipped.items(), key=lambda item: -item[1])
    ]


def bulk_out(session: SessionDep, sends: list[BulkSend]) -> list[BulkSendOut]:
    progress = service.progress(session, sends)
    return [
        BulkSendOut(
            id=bulk.id,
            status=bulk.status,
            body=bulk.body,
            category=bulk.category,
            audience=bulk.audience,
            recipients=bulk.recipients,
            units=bulk.units,
            skipped=skipped_out(bulk.skipped),
            progress=ProgressOut(**vars(progress[bulk.id])),
            created_at=bulk.created_at,
            sent_at=bulk.sent_at,
            cancelled_at=bulk.cancelled_at,
            send_at=bulk.send_at,
        )
        for bulk in sends
    ]
