"""Bounded request numbers: ids are 32-bit integers in the database, so anything larger is
refused as bad input (400) before it reaches SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import AfterValidator, AwareDatetime, BeforeValidator

from messagecenter.models.ids import MAX_ID

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


def _in_utc(value: datetime | None) -> datetime | None:
    """Compared in UTC, as stored. A zone that pushes the instant past year 1 or 9999
    (0001-01-01T00:00:00+14:00) has no datetime: bad input, not an OverflowError's 500."""
    if value is None:
        return None
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the date-time with its offset falls outside years 1 to 9999") from None


# Timezone-aware only: a naive value (2026-11-16, 2026-11-16T15:00:00) is refused with a 400
# asking for an offset rather than guessed as UTC or the business's zone.
DateTimeQuery = Annotated[
    AwareDatetime | None, BeforeValidator(_iso_date_time), AfterValidator(_in_utc), Query()
]
