"""Whether a business's number is toll-free: carriers treat keywords differently there.

Numbers carry no type of their own, so the E.164 decides: a NANP number (+1) in one of the
toll-free area codes. Other countries' toll-free ranges cannot text and are never ours.
"""

from __future__ import annotations

NANP_TOLL_FREE_AREA_CODES = frozenset({"800", "833", "844", "855", "866", "877", "888"})


def is_toll_free(e164: str) -> bool:
    """True for +1 800/833/844/855/866/877/888 numbers (exactly 11 digits after the +)."""
    digits = e164.removeprefix("+")
    return (
        e164.startswith("+1")
        and len(digits) == 11
        and digits.isdigit()
        and digits[1:4] in NANP_TOLL_FREE_AREA_CODES
    )
