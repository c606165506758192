"""Manifests: every problem is a ManifestError naming the file and the key, and good ones read as the contract says."""

from __future__ import annotations

from pathlib import Path

import pytest

from addax.models.manifest import CropPreparation, ManifestError, load_manifest
from addax.models.registry import pick_manifest
from tests.models.graphs import classifier_model, detector_model

TOP = {
    "kind": '"detector"',
    "family": '"megadetector-v5"',
    "file": '"md.onnx"',
    "input_size": "640",
    "labels": '["animal", "person", "vehicle"]',
}


def write(directory: Path, keys: dict[str, str], tail: str = "", *, name: str = "model") -> Path:
    """A manifest of ``key = value`` lines (values as TOML text), then ``tail`` verbatim."""
    path = directory / f"{name}.toml"
    path.write_text("".join(f"{key} = {value}\n" for key, value in keys.items()) + tail, encoding="utf-8")
    return path


def error_of(path: Path) -> str:
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    return str(caught.value)


def assert_names(message: str, path: Path, *words: str) -> None:
    assert message.startswith(f"{path}: "), message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("key", list(TOP))
def test_a_missing_key_is_named(tmp_path: Path, key: str) -> None:
    path = write(tmp_path, {k: v for k, v in TOP.items() if k != key})
    assert_names(error_of(path), path, f"{key} is missing")


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("kind", '"segmenter"', "kind must be one of detector, classifier (got 'segmenter')"),
        ("kind", "3", "kind must be a non-empty string"),
        ("family", '"megadetector-v9"', "family must be one of megadetector-v5, yolo-ultralytics"),
        ("file", '""', "file must be a non-empty string"),
        ("input_size", "0", "input_size must be a whole number from 8 to 4096"),
        ("input_size", "5000", "input_size must be a whole number from 8 to 4096"),
        ("input_size", "640.0", "input_size must be a whole number"),
        ("input_size", '"640"', "input_size must be a whole number"),
        ("input_size", "true", "input_size must be a whole number"),
        ("labels", "[]", "labels must be a non-empty list"),
        ("labels", '"animal"', "labels must be a non-empty list"),
        ("labels", '["animal", ""]', "labels must be a non-empty list"),
        ("labels", '["animal", "animal"]', "labels has the same name twice"),
        ("resize", '"stretch"', "resize must be one of squash, center-crop, letterbox (got 'stretch')"),
        ("outputs", '"scores"', "outputs must be one of logits, probabilities"),
        ("crop_padding", "1.5", "crop_padding must be a number from 0.0 to 1.0"),
        ("rollup_threshold", "-0.1", "rollup_threshold must be a number from 0.0 to 1.0"),
        ("mean", "[0.5, 0.5]", "mean must be three numbers, one per RGB channel"),
        ("mean", '["0.5", 0.5, 0.5]', "mean must be three numbers"),
        ("mean", "[true, 0.5, 0.5]", "mean must be three numbers"),
        ("std", "[0.2, 0.0, 0.2]", "std must be three numbers, one per RGB channel, above 0"),
        ("std", "[0.2, -0.2, 0.2]", "std must be three numbers, one per RGB channel, above 0"),
        ("std", "0.2", "std must be three numbers"),
    ],
)
def test_a_bad_value_is_named(tmp_path: Path, key: str, value: str, problem: str) -> None:
    path = write(tmp_path, {**TOP, key: value})
    assert_names(error_of(path), path, problem)


@pytest.mark.parametrize(
    ("kind", "family", "allowed"),
    [
        ("detector", "deepfaune", "megadetector-v5, yolo-ultralytics"),
        ("classifier", "megadetector-v5", "deepfaune, speciesnet, classifier"),
    ],
)
def test_a_family_of_the_other_kind_is_refused(tmp_path: Path, kind: str, family: str, allowed: str) -> None:
    path = write(tmp_path, {**TOP, "kind": f'"{kind}"', "family": f'"{family}"'})
    assert_names(error_of(path), path, f"family must be one of {allowed} (got '{family}')")


def test_labels_and_labels_file_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "labels.txt").write_text("animal\n", encoding="utf-8")
    path = write(tmp_path, {**TOP, "labels_file": '"labels.txt"'})
    assert_names(error_of(path), path, "labels and labels_file are both set")


def test_a_missing_labels_file_is_named_with_its_path(tmp_path: Path) -> None:
    keys = {k: v for k, v in TOP.items() if k != "labels"}
    path = write(tmp_path, {**keys, "labels_file": '"species.txt"'})
    assert_names(error_of(path), path, "labels_file cannot be read", str(tmp_path / "species.txt"), "No such file")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"\n  \n", "must list one name per line"),
        (b"cat\ndog\ncat\n", "has the same name twice"),
        (b"cat\n\xff\xfedog\n", "is not UTF-8 text"),
    ],
)
def test_a_bad_labels_file_is_named(tmp_path: Path, content: bytes, problem: str) -> None:
    (tmp_path / "species.txt").write_bytes(content)
    keys = {k: v for k, v in TOP.items() if k != "labels"}
    path = write(tmp_path, {**keys, "kind": '"classifier"', "family": '"classifier"', "labels_file": '"species.txt"'})
    assert_names(error_of(path), path, "labels_file", str(tmp_path / "species.txt"), problem)


def test_a_good_manifest_with_a_labels_file(tmp_path: Path) -> None:
    (tmp_path / "species.txt").write_text("  red deer \n\nwild boar\nroe deer\n", encoding="utf-8")
    path = write(
        tmp_path,
        {
            "kind": '"classifier"',
            "family": '"speciesnet"',
            "file": '"nets/sn.onnx"',
            "input_size": "480",
            "labels_file": '"species.txt"',
            "resize": '"center-crop"',
            "mean": "[0.485, 0.456, 0.406]",
            "std": "[0.229, 0.224, 0.225]",
            "outputs": '"probabilities"',
            "crop_padding": "0.1",
            "country": '"fra"',
            "licence": '"Apache-2.0"',
        },
        name="speciesnet-v4",
    )
    manifest = load_manifest(path)
    assert manifest.name == "speciesnet-v4"
    assert manifest.label == "speciesnet-v4 (speciesnet)"
    assert manifest.kind == "classifier"
    assert manifest.file == tmp_path / "nets" / "sn.onnx"  # relative to the manifest
    assert manifest.input_size == 480
    assert manifest.labels == ("red deer", "wild boar", "roe deer")  # stripped, blank lines skipped, in order
    assert manifest.categories == {}  # classifiers have none
    assert manifest.crops == CropPreparation(
        resize="center-crop",
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        outputs="probabilities",
        crop_padding=0.1,
    )
    assert manifest.country == "FRA"
    assert manifest.licence == "Apache-2.0"
    assert manifest.geofence_file is None


def test_a_detector_without_categories_keeps_the_labels_that_are_categories(tmp_path: Path) -> None:
    path = write(tmp_path, {**TOP, "labels": '["animal", "person", "vehicle", "empty"]'})
    manifest = load_manifest(path)
    assert manifest.categories == {"animal": "animal", "person": "person", "vehicle": "vehicle"}
    assert manifest.crops == CropPreparation()  # the defaults
    assert manifest.rollup_threshold == 0.65


def test_categories_map_model_labels(tmp_path: Path) -> None:
    labels = '["person", "bicycle", "car", "cat", "dog"]'
    tail = '[categories]\ncat = "animal"\nperson = "person"\ncar = "vehicle"\n'
    manifest = load_manifest(write(tmp_path, {**TOP, "labels": labels}, tail))
    assert manifest.categories == {"cat": "animal", "person": "person", "car": "vehicle"}


@pytest.mark.parametrize(
    ("keys", "tail", "problem"),
    [
        ({"categories": '"animal"'}, "", "[categories] must be a table"),
        ({}, '[categories]\ndog = "animal"\n', "categories.dog: not one of the model's labels"),
        ({}, '[categories]\nanimal = "bird"\n', "categories.animal must be one of animal, person, vehicle"),
        ({}, '[categories]\nanimal = ["animal"]\n', "categories.animal must be one of animal, person, vehicle"),
        # TOML puts keys written after [categories] inside it: the error points at the misplaced key
        ({}, '[categories]\nanimal = "animal"\nlicence = "MIT"\n', "categories.licence: not one of the model's"),
    ],
)
def test_bad_categories_are_named(tmp_path: Path, keys: dict[str, str], tail: str, problem: str) -> None:
    path = write(tmp_path, {**TOP, **keys}, tail)
    assert_names(error_of(path), path, problem)


def test_an_unreadable_manifest_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    assert_names(error_of(missing), missing, "cannot read the manifest", "No such file")
    broken = tmp_path / "broken.toml"
    broken.write_text('kind = "detector\n', encoding="utf-8")
    assert_names(error_of(broken), broken, "not valid TOML")


def test_a_manifest_that_is_not_utf8_is_a_manifest_error(tmp_path: Path) -> None:
    # Before the fix: a UnicodeDecodeError escaped, and pick_manifest crashed on the directory.
    path = tmp_path / "latin1.toml"
    path.write_bytes('kind = "detector"\nsource = "Müller"\n'.encode("latin-1"))
    assert_names(error_of(path), path, "not UTF-8 text")
    classifier_model(tmp_path, labels=["cat", "dog"], name="z-classifier")
    manifest = pick_manifest(tmp_path, "", "classifier")
    assert manifest is not None and manifest.name == "z-classifier"


def test_pick_manifest_by_name_or_the_first_good_one_of_its_kind(tmp_path: Path) -> None:
    assert pick_manifest(tmp_path / "absent", "", "detector") is None
    (tmp_path / "a-broken.toml").write_text("kind = 'detector'\n", encoding="utf-8")
    classifier_model(tmp_path, labels=["cat", "dog"], name="b-classifier")
    assert pick_manifest(tmp_path, "", "detector") is None
    detector_model(tmp_path, name="c-detector")
    detector_model(tmp_path, name="d-detector")
    first = pick_manifest(tmp_path, "", "detector")
    assert first is not None and first.name == "c-detector"
    named = pick_manifest(tmp_path, "d-detector", "detector")
    assert named is not None and named.name == "d-detector"


def test_pick_manifest_refuses_a_named_manifest_that_is_broken_missing_or_of_the_other_kind(tmp_path: Path) -> None:
    (tmp_path / "broken.toml").write_text("kind = 'detector'\n", encoding="utf-8")
    classifier_model(tmp_path, labels=["cat", "dog"], name="species")
    with pytest.raises(ManifestError, match="family is missing"):
        pick_manifest(tmp_path, "broken", "detector")
    with pytest.raises(ManifestError, match="cannot read the manifest"):
        pick_manifest(tmp_path, "absent", "detector")
    with pytest.raises(ManifestError) as caught:
        pick_manifest(tmp_path, "species", "detector")
    assert_names(str(caught.value), tmp_path / "species.toml", "models.detector names a classifier")
