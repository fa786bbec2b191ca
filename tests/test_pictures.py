"""The knee-location picture (bn.pictures): one region per state, the chosen one filled, safe text."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bn.pictures import IDLE, REGIONS, SELECTED, knee_location_svg

SVG = "{http://www.w3.org/2000/svg}"
LABELS = {"anterior": "Front of the knee", "medial": "Inner (medial) side", "lateral": "Outer (lateral) side",
          "posterior": "Back of the knee", "diffuse": "Diffuse, no one place"}


def fills(svg: str) -> list[str]:
    """The fill of each region (the clipped ellipses; the outline has none)."""
    return [e.get("fill") for e in ET.fromstring(svg).iter(f"{SVG}ellipse") if e.get("clip-path")]


@pytest.mark.parametrize("chosen", [*REGIONS, None])
def test_one_region_per_placeable_state_and_only_the_chosen_one_filled(chosen):
    svg = knee_location_svg(LABELS, chosen)
    assert fills(svg).count(SELECTED) == (1 if chosen else 0)
    assert fills(svg).count(IDLE) == len(REGIONS) - (1 if chosen else 0)
    texts = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert {"Front", "Inner", "(medial)", "Outer", "(lateral)", "Back"} <= set(texts)


def test_a_state_without_a_region_outlines_the_whole_knee():
    def outline(svg: str):
        return next(e for e in ET.fromstring(svg).iter(f"{SVG}ellipse") if e.get("fill") == "none")

    assert outline(knee_location_svg(LABELS, "diffuse")).get("stroke") == SELECTED
    assert outline(knee_location_svg(LABELS, None)).get("stroke") != SELECTED
    assert SELECTED not in fills(knee_location_svg(LABELS, "diffuse"))


def test_labels_are_escaped_and_nothing_is_fetched():
    svg = knee_location_svg({**LABELS, "medial": '<script>alert(1)</script> & "x"'}, "medial")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)  # well-formed
    assert "href" not in svg and "http://" not in svg.replace("http://www.w3.org/2000/svg", "")
