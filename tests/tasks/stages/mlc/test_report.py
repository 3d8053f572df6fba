"""The manifold section's verdict follows the run's numbers: fragmentation only where Γ has more nearly
disconnected blocks than clusters, an uneven split of a connected Γ elsewhere."""

from __future__ import annotations

from tasks.stages.mlc.report import fragmentation_verdict


def test_the_verdict_names_fragmented_and_connected_sets_from_their_blocks() -> None:
    mlc = {
        "curves-6-crossing": {"gamma_blocks": 17.0, "largest_cluster": 0.7},
        "tori-4x2": {"gamma_blocks": 1.0, "largest_cluster": 0.571},
    }
    text = fragmentation_verdict(mlc, {"curves-6-crossing": 6, "tori-4x2": 4})
    assert "In curves-6-crossing Γ has more blocks than clusters" in text
    assert "In tori-4x2 Γ is not fragmented in this run" in text and "tori-4x2 57% of the points" in text

    connected_only = fragmentation_verdict({"tori-4x2": mlc["tori-4x2"]}, {"tori-4x2": 4})
    assert "more blocks than clusters:" not in connected_only and "not fragmented" in connected_only
