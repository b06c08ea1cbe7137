"""Bounded request numbers: ids are 32-bit integers in the database, so anything larger is
refused as bad input (400) before it reaches SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import BeforeValidator

MAX_ID = 2**31 - 1

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalIdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_ID)]


def _iso_date_time(value: object) -> object:
    """pydantic would read a number ("0.5", "1700000000") as Unix seconds: the API takes ISO
    8601 only, as its document says."""
    if isinstance(value, (int, float)) or (
        isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit()
    ):
        raise ValueError("give an ISO 8601 date-time, such as 2026-11-16T15:00:00Z")
    return value


DateTimeQuery = Annotated[datetime | None, BeforeValidator(_iso_date_time), Query()]
