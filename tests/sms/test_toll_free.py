from __future__ import annotations

import pytest

from messagecenter.sms.toll_free import NANP_TOLL_FREE_AREA_CODES, is_toll_free


@pytest.mark.parametrize("area", sorted(NANP_TOLL_FREE_AREA_CODES))
def test_every_nanp_toll_free_area_code_is_toll_free(area: str) -> None:
    assert is_toll_free(f"+1{area}5550100") is True


@pytest.mark.parametrize(
    "e164",
    [
        "+12125550100",  # New York
        "+14165550100",  # Toronto
        "+19005550100",  # premium, not toll-free
        "+18225550100",  # not (yet) in the list
        "+448005550100",  # a UK 0800 number: not NANP
        "+61800555010",  # an Australian 1800-style number: not NANP
        "+1800555010",  # too short
        "18005550100",  # not E.164
        "",
    ],
)
def test_other_numbers_are_not_toll_free(e164: str) -> None:
    assert is_toll_free(e164) is False
