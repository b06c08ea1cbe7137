"""Sign-in failures and web sessions, in the database so every process shares them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from messagecenter.models.base import Base, UTCDateTime


class SignInFailure(Base):
    """Recent failed sign-ins for one key: an (account, address) pair, a whole address
    (account ""), or an account from every address (address "anywhere"); signin/throttle.py.
    web/auth.py reads the delay from it; forgotten a while after the last one."""

    __tablename__ = "sign_in_failures"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    # SHA-256 of the normalized email (whatever was typed, known or not), or "".
    account: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    retry_at: Mapped[datetime] = mapped_column(UTCDateTime)  # no attempt before this
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class WebSession(Base):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is stored,
    so signing out or deactivating the staff member ends the session on the server."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # SHA-256 of the token
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_members.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
