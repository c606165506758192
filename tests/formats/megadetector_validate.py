"""The checks of MegaDetector's own validator, for the tests of Addax's export.

Where it comes from: MegaDetector's ``megadetector/postprocessing/validate_batch_results.py``
(https://github.com/agentmorris/MegaDetector, MIT licence), which checks a file against the format
described at https://lila.science/megadetector-output-format.

This is not a copy of that module: it is written here, check for check, from reading it, so that it runs
without the megadetector package (tqdm, video_utils, ct_utils). It keeps its interface: a dict
``{"validation_results": {"filename", "errors", "warnings"}}``, validation stopping at the first error,
and warnings for keys outside the format. Checks that it makes and this makes too:

- the top level is an object with ``info`` (an object with ``format_version`` >= 1.3),
  ``detection_categories`` and ``images`` (a list); ``classification_categories`` is optional;
- category ids are strings that parse as integers, category names are strings;
- each image is an object with ``file``; each detection has ``category`` (a listed one), ``conf`` (a JSON
  number with a fraction: a Python float) and ``bbox``; each classification is ``[id string, number]``;
- ``failure``, when present and not null, is a string and ``detections`` is null (absent: a warning);
  without a ``failure`` key, ``detections`` is a list;
- from format 1.4, a video (by its extension) has ``frame_rate`` >= 0 and each detection a ``frame_number``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mpeg", ".mpg", ".mov", ".mkv", ".flv", ".wmv", ".m4v", ".webm")
REQUIRED_KEYS = ("info", "images", "detection_categories")
TYPICAL_KEYS = ("classification_categories", "classification_category_descriptions")


class Invalid(Exception):
    pass


def validate_batch_results(json_filename: str | Path) -> dict[str, Any]:
    """Whether the file at ``json_filename`` is a valid MegaDetector results file (see the module's docstring)."""
    results: dict[str, Any] = {"filename": str(json_filename), "errors": [], "warnings": []}
    document = json.loads(Path(json_filename).read_text())
    try:
        _check(document, results["warnings"])
    except (Invalid, ValueError, TypeError, KeyError) as error:
        results["errors"].append(str(error))
    return {"validation_results": results}


def _check(document: Any, warnings: list[str]) -> None:
    if not isinstance(document, dict):
        raise Invalid("Input data is not a dict")
    info = document.get("info")
    if not isinstance(info, dict):
        raise Invalid("Input does not contain a valid info field")
    if "format_version" not in info:
        raise Invalid("Input does not specify format version")
    version = float(info["format_version"])
    if version < 1.3:
        raise Invalid("This validator can only be used with format version 1.3 or later")
    if "detection_categories" not in document:
        raise Invalid("Input does not contain detection_categories field")
    _check_categories(document["detection_categories"], "detection")
    if "classification_categories" in document:
        _check_categories(document["classification_categories"], "classification")
    images = document.get("images")
    if not isinstance(images, list):
        raise Invalid("images field not present or not a list")
    for number, image in enumerate(images):
        _check_image(number, image, document["detection_categories"], version, warnings)
    warnings.extend(
        f"Warning: non-standard key {key} present at file level"
        for key in document
        if key not in REQUIRED_KEYS and key not in TYPICAL_KEYS
    )


def _check_categories(categories: dict[Any, Any], kind: str) -> None:
    for category, name in categories.items():
        if not isinstance(category, str):
            raise Invalid(f"Invalid {kind} category ID: {category}")
        int(category)  # a ValueError is an error of the file
        if not isinstance(name, str):
            raise Invalid(f"Invalid {kind} category name: {name}")


def _check_image(number: int, image: Any, categories: dict[str, str], version: float, warnings: list[str]) -> None:
    if not isinstance(image, dict):
        raise Invalid(f"Invalid image at index {number}")
    if "file" not in image:
        raise Invalid(f"Image without filename at index {number}")
    file = image["file"]
    for detection in image.get("detections") or []:
        _check_detection(file, detection, categories)
    if "failure" in image:
        _check_failure(file, image, warnings)
    elif not isinstance(image.get("detections"), list):
        raise Invalid(f"Invalid detections list for image {file}")
    if str(file).lower().endswith(VIDEO_EXTENSIONS) and version >= 1.4:
        _check_video(file, image)


def _check_failure(file: str, image: dict[str, Any], warnings: list[str]) -> None:
    failure = image["failure"]
    if failure is None:
        return
    if not isinstance(failure, str):
        raise Invalid(f"Image {file} has an illegal [failure] value: {failure}")
    if "detections" not in image:
        warnings.append(f"Image {file} has a failure value, should also have a null detections array")
    elif image["detections"] is not None:
        raise Invalid(f"Image {file} has a failure value but a non-null detections array")


def _check_video(file: str, image: dict[str, Any]) -> None:
    if "frame_rate" not in image:
        raise Invalid(f"Video without frame rate: {file}")
    if image["frame_rate"] < 0:
        raise Invalid(f"Video with illegal frame rate {image['frame_rate']}: {file}")
    for detection in image.get("detections") or []:
        if "frame_number" not in detection:
            raise Invalid(f"Frame without frame number in video {file}")


def _check_detection(file: str, detection: dict[str, Any], categories: dict[str, str]) -> None:
    for key, what in (("category", "category"), ("conf", "confidence"), ("bbox", "box")):
        if key not in detection:
            raise Invalid(f"Image {file} has a detection with no {what}")
    if not isinstance(detection["conf"], float):
        raise Invalid(f"Image {file} has an illegal confidence value")
    if detection["category"] not in categories:
        raise Invalid(f"Image {file} has a detection with an unmapped category {detection['category']}")
    for pair in detection.get("classifications") or []:
        if not isinstance(pair[0], str):
            raise Invalid(f"Image {file} has an illegal classification category: {pair[0]}")
        try:
            int(pair[0])
        except ValueError:
            raise Invalid(f"Image {file} has an illegal classification category: {pair[0]}") from None
        if not isinstance(pair[1], float | int):
            raise Invalid(f"Image {file} has an illegal classification confidence: {pair[1]}")
