"""Characters a client's text may hold that the database cannot: one definition for the edge
check (input_checks.py), the webhook parser and the intake."""

from __future__ import annotations

NUL = "\x00"  # PostgreSQL cannot store it in text
REPLACEMENT = "\ufffd"  # what a NUL in a client's text (or a carrier field) is stored as
