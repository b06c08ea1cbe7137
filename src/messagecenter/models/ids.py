"""Row ids are 32-bit integers in the database (both dialects): a larger number names no row,
and is refused as bad input (400) at the edge before it reaches SQL."""

from __future__ import annotations

MAX_ID = 2**31 - 1
