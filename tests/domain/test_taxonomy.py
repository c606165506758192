"""Rule words against classifications: "any deer", genera, families and rolled-up taxa."""

from __future__ import annotations

import pytest

from addax.domain.taxonomy import GROUPS, SPECIES, lineage, normalise, species_choices, taxon_matches

ROE = ("Capreolus capreolus", "roe deer")
RED_FOX = ("Vulpes vulpes", "red fox")


def test_lineage_of_a_species() -> None:
    assert lineage("Capreolus capreolus") == (
        "Capreolus capreolus",
        "Capreolus",
        "Cervidae",
        "Artiodactyla",
        "Mammalia",
    )
    assert lineage("Meleagris gallopavo") == (
        "Meleagris gallopavo",
        "Meleagris",
        "Meleagrididae",
        "Galliformes",
        "Aves",
    )


def test_lineage_of_higher_ranks() -> None:
    assert lineage("Cervus") == ("Cervus", "Cervidae", "Artiodactyla", "Mammalia")
    assert lineage("Cervidae") == ("Cervidae", "Artiodactyla", "Mammalia")
    assert lineage("Carnivora") == ("Carnivora", "Mammalia")
    assert lineage("Aves") == ("Aves",)


def test_lineage_of_a_subspecies_includes_its_species() -> None:
    assert lineage("Canis lupus familiaris")[:4] == ("Canis lupus familiaris", "Canis lupus", "Canis", "Canidae")


def test_lineage_of_unknown_taxa_is_what_is_known() -> None:
    assert lineage("Fooius barius") == ("Fooius barius", "Fooius")
    assert lineage("Fooidae") == ("Fooidae",)
    assert lineage("  ") == ()


def test_lineage_spells_known_ranks_as_the_table_and_maps_synonyms() -> None:
    assert lineage("cervidae") == ("Cervidae", "Artiodactyla", "Mammalia")
    assert lineage("sus  scrofa")[:3] == ("sus scrofa", "Sus", "Suidae")
    assert lineage("Cetartiodactyla") == ("Artiodactyla", "Mammalia")


def test_normalise() -> None:
    assert normalise("  Any   Roe  DEER ") == "roe deer"
    assert normalise("any") == "any"  # "any" alone is a word, not a prefix


@pytest.mark.parametrize(
    "wanted",
    [
        "Capreolus capreolus",
        "capreolus  CAPREOLUS",
        "roe deer",
        "Roe Deer",
        "Capreolus",
        "Cervidae",
        "deer",
        "any deer",
        "Any  Deer",
        "deers",
        "Artiodactyla",
        "Cetartiodactyla",
        "Mammalia",
        "mammal",
    ],
)
def test_roe_deer_is_covered_by(wanted: str) -> None:
    assert taxon_matches(wanted, *ROE)


@pytest.mark.parametrize(
    "wanted", ["Cervus elaphus", "red deer", "Cervus", "Canidae", "dog", "Carnivora", "Aves", "bird", "wolf", "", "any"]
)
def test_roe_deer_is_not_covered_by(wanted: str) -> None:
    assert not taxon_matches(wanted, *ROE)


@pytest.mark.parametrize(
    ("taxon", "common"),
    [
        ("Cervus elaphus", "red deer"),
        ("Dama dama", "fallow deer"),
        ("Alces alces", "moose"),
        ("Rangifer tarandus", "reindeer"),
        ("Odocoileus virginianus", "white-tailed deer"),
        ("Muntiacus reevesi", "reeves's muntjac"),
        ("Axis axis", "chital"),
        ("Rusa unicolor", "sambar"),
        ("Elaphurus davidianus", "pere david's deer"),
        ("Hydropotes inermis", "water deer"),
        ("Mazama americana", "red brocket"),
        ("Rucervus duvaucelii", "barasingha"),
    ],
)
def test_any_deer_covers_every_deer_genus(taxon: str, common: str) -> None:
    assert taxon_matches("any deer", taxon, common)
    assert taxon_matches("Cervidae", taxon, None)


@pytest.mark.parametrize(
    ("wanted", "taxon", "expected"),
    [
        ("dog", "Vulpes vulpes", True),
        ("canid", "Canis lupus", True),
        ("cat", "Lynx lynx", True),
        ("felid", "Panthera pardus", True),
        ("bear", "Ursus arctos", True),
        ("boar", "Sus scrofa", True),
        ("pig", "Phacochoerus africanus", True),
        ("mustelid", "Meles meles", True),
        ("bird", "Phasianus colchicus", True),
        ("birds", "Corvus corax", True),
        ("rodent", "Sciurus vulgaris", True),
        ("bovid", "Rupicapra rupicapra", True),
        ("Carnivora", "Genetta genetta", True),
        ("Carnivora", "Crocuta crocuta", True),
        ("Perissodactyla", "Equus quagga", True),
        ("Eulipotyphla", "Erinaceus europaeus", True),
        ("hedgehog", "Erinaceus europaeus", True),
        ("turkey", "Meleagris gallopavo", True),
        ("wolf", "Canis lupus", True),
        ("wolf", "Canis latrans", False),
        ("dog", "Felis catus", False),
        ("cat", "Canis familiaris", False),
        ("bird", "Sus scrofa", False),
        ("rodent", "Lepus europaeus", False),
        ("Lynx", "Lynx rufus", True),  # a genus, even though "lynx" is also a common name
    ],
)
def test_group_words_and_ranks(wanted: str, taxon: str, expected: bool) -> None:
    assert taxon_matches(wanted, taxon, None) is expected


def test_rolled_up_taxon_matches_its_rank_and_above_but_not_below() -> None:
    for wanted in ("Cervidae", "cervidae", "deer", "any deer", "Artiodactyla", "Mammalia"):
        assert taxon_matches(wanted, "Cervidae", None), wanted
    for wanted in ("Capreolus capreolus", "roe deer", "Capreolus", "Carnivora", "Aves"):
        assert not taxon_matches(wanted, "Cervidae", None), wanted


def test_rolled_up_genus() -> None:
    assert taxon_matches("Vulpes", "Vulpes", "fox")
    assert taxon_matches("dog", "Vulpes", "fox")
    assert not taxon_matches("red fox", "Vulpes", "fox")
    assert not taxon_matches("Vulpes vulpes", "Vulpes", None)


def test_unknown_taxa_match_only_by_name_and_genus() -> None:
    assert taxon_matches("Fooius barius", "Fooius barius", None)
    assert taxon_matches("Fooius", "Fooius barius", None)
    assert taxon_matches("strange beast", "Fooius barius", "Strange  Beast")
    assert not taxon_matches("Mammalia", "Fooius barius", None)
    assert not taxon_matches("Fooius bazius", "Fooius barius", None)


def test_common_name_only_classifications() -> None:
    assert taxon_matches("deer", None, "deer")
    assert taxon_matches("Cervidae", None, "deer")
    assert taxon_matches("Mammalia", None, "roe deer")
    assert taxon_matches("deer", None, "Roe Deer")
    assert not taxon_matches("roe deer", None, "deer")
    assert not taxon_matches("deer", None, None)


def test_a_common_name_match_needs_the_whole_name() -> None:
    # "prairie dog" is a squirrel: a word of a common name is not a group.
    assert not taxon_matches("dog", "Cynomys ludovicianus", "black-tailed prairie dog")
    assert taxon_matches("squirrel", "Cynomys ludovicianus", "black-tailed prairie dog")


def test_tables_point_at_known_taxa() -> None:
    for word, taxon in {**GROUPS, **SPECIES}.items():
        assert lineage(taxon)[-1] in ("Mammalia", "Aves", "Reptilia"), (word, taxon)
        assert word == normalise(word)


def test_species_choices_name_each_taxon_once_with_its_common_names() -> None:
    choices = dict(species_choices())
    assert choices["Canis lupus"] == "wolf, gray wolf, grey wolf (Canis lupus)"
    assert choices["Cervidae"].startswith("deer")
    assert len(choices) == len(species_choices())
    assert all(taxon_matches(taxon, taxon, None) for taxon in choices)
