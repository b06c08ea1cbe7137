"""The carrier boundary from below: a carrier adapter knows our status words (models.status)
and the carrier interface, never the app's sending or intake code; only a carrier's routes
(its HTTP edge) hand what arrives to them."""

from __future__ import annotations

import grimp

from messagecenter.models import status as words
from messagecenter.sending import status as ladder


def test_carrier_adapters_import_neither_sending_nor_intake() -> None:
    graph = grimp.build_graph("messagecenter")
    adapters = {
        module
        for module in graph.find_descendants("messagecenter.carriers")
        if not module.endswith(".routes")
    }
    crossings = sorted(
        (module, imported)
        for module in adapters
        for imported in graph.find_modules_directly_imported_by(module)
        if imported.startswith(("messagecenter.sending", "messagecenter.intake"))
    )
    assert crossings == []


def test_the_ladder_climbs_the_words_carriers_map_to() -> None:
    assert ladder.OUTBOUND_STATUSES == words.OUTBOUND_STATUSES
    assert ladder.can_advance(words.QUEUED, words.SENT)
    assert not ladder.can_advance(words.DELIVERED, words.FAILED)
