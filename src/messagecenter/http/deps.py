"""Request dependencies: the process context, one session per request, the API key."""

from __future__ import annotations

from collections.abc import Iterator
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
