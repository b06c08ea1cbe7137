"""Request dependencies: the process context, one session per request, the API key."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from messagecenter.apikeys.service import authenticate
from messagecenter.context import AppContext
from messagecenter.errors import NotFound
from messagecenter.models import ApiKey, Business


class LoginRequired(Exception):
    """Raised for a staff page by anyone not signed in; answered with a redirect to /login."""


_bearer = HTTPBearer(auto_error=False, description="An API key of your business")


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


def get_session(context: Annotated[AppContext, Depends(get_context)]) -> Iterator[Session]:
    """One session per request. Routes that change data commit it themselves (at the edge);
    anything left uncommitted is rolled back here."""
    session = context.sessions()
    try:
        yield session
    finally:
        session.rollback()
        session.close()


ContextDep = Annotated[AppContext, Depends(get_context)]
SessionDep = Annotated[Session, Depends(get_session)]

log = logging.getLogger(__name__)


class UnitOfWork:
    """A request's changes, committed once at the edge when its route has returned; then the
    worker is woken (a message may have been queued). A side effect outside the database that
    the route made (a number bought at the carrier) registers its undo with `on_rollback`:
    if the commit fails, what was bought is given back rather than left unrecorded."""

    def __init__(self, session: Session, wake: Callable[[], None]) -> None:
        self.session = session
        self._wake = wake
        self._undo: list[Callable[[], None]] = []

    def on_rollback(self, undo: Callable[[], None]) -> None:
        self._undo.append(undo)

    def commit(self) -> None:
        try:
            self.session.commit()
        except BaseException:
            self.rollback()
            raise
        self._wake()

    def rollback(self) -> None:
        self.session.rollback()
        undo, self._undo = self._undo, []
        for step in reversed(undo):
            try:
                step()
            except Exception:  # the others still run; this one needs a person
                log.exception("could not undo a side effect of a rolled-back request")


def unit_of_work(context: ContextDep, session: SessionDep) -> Iterator[UnitOfWork]:
    work = UnitOfWork(session, context.worker.wake)
    try:
        yield work
    except BaseException:
        work.rollback()
        raise
    work.commit()


# scope="function": committed as the route returns, before the answer is sent, so a failed
# commit is the caller's 500 rather than a success already on its way.
UnitOfWorkDep = Annotated[UnitOfWork, Depends(unit_of_work, scope="function")]


def get_api_key(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> ApiKey:
    return authenticate(session, credentials.credentials if credentials else None)


ApiKeyDep = Annotated[ApiKey, Depends(get_api_key)]


def get_business(session: SessionDep, key: ApiKeyDep) -> Business:
    business = session.get(Business, key.business_id)
    if business is None:
        raise NotFound("The business of this key no longer exists.")
    return business


BusinessDep = Annotated[Business, Depends(get_business)]
