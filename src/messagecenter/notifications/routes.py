"""JSON API: trigger notifications (one or a batch), read one, and the templates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from fastapi import APIRouter, Path, Response
from sqlalchemy.orm import Session

from messagecenter.http.deps import BusinessDep, ContextDep, SessionDep, UnitOfWorkDep
from messagecenter.http.types import IdPath
from messagecenter.models import Notification
from messagecenter.models.notification import NotificationRecord
from messagecenter.notifications import service
from messagecenter.notifications.schemas import (
    ItemError,
    NotificationBatchIn,
    NotificationBatchItem,
    NotificationBatchOut,
    NotificationIn,
    NotificationOut,
    NotificationResult,
    NotificationStatus,
    TemplateList,
    TemplateOut,
    TemplatePatch,
)
from messagecenter.notifications.templates import BookingData

router = APIRouter(tags=["notifications"])


@router.post("/notifications", response_model=NotificationResult)
def trigger(
    body: NotificationIn, work: UnitOfWorkDep, business: BusinessDep, context: ContextDep
) -> NotificationResult:
    """Notify a client of a booking (or, with `cancel`, withdraw what is pending for it).

    Answered 200 with what became of it: `queued` (with its message), `skipped` with the
    reason in words and a `reason_code` (no_cell_phone, unsubscribed, type_off, category_off,
    no_sms_number, allowance_exhausted; an opt-out beats every switch), or `cancelled`.
    A trigger is identified by (type, reference, send_at): sending it again answers the same
    notification (`replayed`) and sends nothing. The same type and reference with another
    send_at or other data replaces the pending one (withdrawn, units given back). Refused
    (4xx, nothing recorded): an unknown type or client, a variable the data lacks.
    """
    (outcome,) = service.trigger_many(work.session, business, [_trigger(body)], context.clock.now())
    if outcome.error is not None:
        raise outcome.error
    return NotificationResult(**_result(outcome, _presented(work.session, [outcome])))


@router.post("/notification-batches", response_model=NotificationBatchOut)
def trigger_batch(
    body: NotificationBatchIn, work: UnitOfWorkDep, business: BusinessDep, context: ContextDep
) -> Response:
    """Up to 1,000 triggers (each as `POST /notifications` takes it) in one request and one
    transaction, each answered on its own, in order: a refused item (`result: refused`, with
    its error) records nothing and stops no other. One booking (type and reference) at most
    once per batch."""
    outcomes = service.trigger_many(
        work.session,
        business,
        [_trigger(item) for item in body.notifications],
        context.clock.now(),
    )
    presented = _presented(work.session, outcomes)  # one query for the whole batch
    results = [
        NotificationBatchItem.model_construct(index=index, **_result(outcome, presented))
        for index, outcome in enumerate(outcomes)
    ]
    # A thousand answers made here from what was just written: serialized once, not checked
    # against the schema again (FastAPI would validate the whole answer a second time).
    answer = NotificationBatchOut.model_construct(results=results)
    return Response(answer.model_dump_json(), media_type="application/json")


@router.get("/notifications/{notification_id}", response_model=NotificationOut)
def get_notification(
    notification_id: IdPath, session: SessionDep, business: BusinessDep
) -> NotificationOut:
    found = service.get_notification(session, business.id, notification_id)
    return _out(session, [found])[0]


@router.get("/notification-templates", response_model=TemplateList)
def list_templates(session: SessionDep, business: BusinessDep) -> TemplateList:
    """Every notification type: its switch, wording (the default until changed), category
    and the variables it may use."""
    return TemplateList(items=[_template_out(v) for v in service.templates(session, business)])


@router.patch("/notification-templates/{type_name}", response_model=TemplateOut)
def update_template(
    body: TemplatePatch,
    work: UnitOfWorkDep,
    business: BusinessDep,
    context: ContextDep,
    type_name: str = Path(max_length=40),
) -> TemplateOut:
    """Switch a type on or off, change its wording, or `reset_body` to the default. A
    variable the type cannot have is refused (400) with the list of allowed ones."""
    view = service.save_template(
        work.session,
        business,
        type_name,
        enabled=body.enabled,
        body=body.body,
        reset_body=body.reset_body,
        at=context.clock.now(),
    )
    return _template_out(view)


def _trigger(body: NotificationIn) -> service.Trigger:
    data = body.data
    return service.Trigger(
        type=body.type,
        reference=body.reference,
        client_id=body.client_id,
        cell_phone=body.cell_phone,
        data=BookingData(data.booking_at, data.service, data.staff_name, data.location),
        send_at=body.send_at,
        cancel=body.cancel,
    )


def _presented(session: Session, outcomes: Sequence[service.Outcome]) -> dict[int, NotificationOut]:
    """Every notification these outcomes name, as the API shows it, by id (read at once)."""
    named = [n for o in outcomes for n in ([o.notification] if o.notification else o.cancelled)]
    return {out.id: out for out in _out(session, named)}


def _result(outcome: service.Outcome, presented: dict[int, NotificationOut]) -> dict[str, Any]:
    """One outcome's answer: every field of NotificationResult (the batch constructs its
    items from them unchecked, so none is left to a default)."""
    answer: dict[str, Any] = {
        "result": "queued", "replayed": False, "notification": None, "cancelled": [],
        "error": None,
    }  # fmt: skip
    if outcome.error is not None:
        error = outcome.error
        return answer | {
            "result": "refused",
            "error": ItemError.model_construct(
                code=error.code, message=error.message, field=error.field
            ),
        }
    if outcome.notification is None:
        return answer | {
            "result": "cancelled",
            "cancelled": [presented[n.id] for n in outcome.cancelled],
        }
    out = presented[outcome.notification.id]
    result = out.status if out.status in ("skipped", "cancelled") else "queued"
    return answer | {"result": result, "replayed": outcome.replayed, "notification": out}


def _out(
    session: Session, notifications: Sequence[Notification | NotificationRecord]
) -> list[NotificationOut]:
    return [
        NotificationOut.model_construct(  # from stored rows: their types are the schema's
            id=view.notification.id,
            type=view.notification.type,
            category=view.notification.category,
            reference=view.notification.reference,
            client_id=view.notification.client_id,
            send_at=view.notification.send_at,
            status=cast(NotificationStatus, view.status),
            reason_code=view.notification.reason_code,
            reason=view.notification.reason,
            message_id=view.notification.message_id,
            message_status=view.message_status,
            confirmed_at=view.notification.confirmed_at,
            confirmation_message_id=view.notification.confirmation_message_id,
            created_at=view.notification.created_at,
            updated_at=view.notification.updated_at,
        )
        for view in service.present(session, notifications)
    ]


def _template_out(view: service.TemplateView) -> TemplateOut:
    return TemplateOut(
        type=view.kind.name,
        label=view.kind.label,
        category=view.kind.category,
        enabled=view.enabled,
        body=view.body,
        customised=view.customised,
        default_body=view.kind.default_body,
        variables=[f"[{name}]" for name in view.kind.variables],
    )
