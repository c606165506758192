"""Who must stay blurred: a person or vehicle that the stored copies do not hide."""

from __future__ import annotations

from addax.domain.privacy import uncovered


def test_a_person_the_copies_do_not_hide_is_found_box_by_box() -> None:
    model = {0: ("person", 0.93), 1: ("animal", 0.9), 2: ("person", 0.1)}
    assert not uncovered([(0, "person"), (1, "animal")], model)  # the detector's person: blurred already
    assert uncovered([(0, "person"), (None, "person")], model)  # a second person drawn by hand
    assert uncovered([(1, "person")], model)  # an animal box that is really a person
    assert uncovered([(2, "person")], model)  # below the privacy score: not blurred in the copies
    assert uncovered([(None, "vehicle")], {})  # the whole photo
    assert uncovered([(7, "person")], model)  # a box the model no longer has
    assert not uncovered([(None, "animal"), (1, "animal")], model)
