"""Camtrap DP 1.0.2 validation, offline: with ``frictionless`` (the tool the Camtrap DP maintainers use) and with
``jsonschema`` against the profile, both on the copies in addax/formats/camtrap-dp.

A package names the remote profile and schemas (as Camtrap DP requires). jsonschema gets a registry that maps
those URLs to the local files; frictionless gets a copy of the descriptor whose profile and table schemas are
relative paths to local copies (under ``schemas/1.0.2/``, so the profile's version pattern still holds), with the
profile's own ``$ref``s pointing at the local data-package and GeoJSON schemas.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import frictionless
from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

import addax

FORMATS = Path(addax.__file__).parent / "formats" / "camtrap-dp"
PROFILE_URL = "https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2/camtrap-dp-profile.json"
DATA_PACKAGE_URL = "https://specs.frictionlessdata.io/schemas/data-package.json"
GEOJSON_URL = "http://json.schemastore.org/geojson.json"
TABLES = ("deployments", "media", "observations")


def _load(name: str) -> Any:
    return json.loads((FORMATS / name).read_text())


def jsonschema_errors(descriptor: dict[str, Any]) -> list[str]:
    """The profile's complaints about a datapackage.json (empty: valid)."""
    geojson = Resource.from_contents(_load("geojson.json"), default_specification=DRAFT4)
    data_package = Resource.from_contents(_load("data-package.json"), default_specification=DRAFT4)
    registry = Registry().with_resources(
        [(DATA_PACKAGE_URL, data_package), (GEOJSON_URL, geojson), (str(geojson.id()), geojson)]
    )
    validator = Draft4Validator(
        _load("camtrap-dp-profile.json"), registry=registry, format_checker=Draft4Validator.FORMAT_CHECKER
    )
    return [
        f"{'/'.join(str(part) for part in error.absolute_path) or '(top)'}: {error.message}"
        for error in validator.iter_errors(descriptor)
    ]


def frictionless_errors(package_dir: Path) -> list[str]:
    """frictionless's complaints about the package in ``package_dir`` (its metadata and every table row)."""
    local = package_dir / "schemas" / "1.0.2"
    local.mkdir(parents=True, exist_ok=True)
    for name in (*(f"{table}-table-schema.json" for table in TABLES), "data-package.json", "geojson.json"):
        shutil.copyfile(FORMATS / name, local / name)
    profile = (FORMATS / "camtrap-dp-profile.json").read_text()
    profile = profile.replace(DATA_PACKAGE_URL, "data-package.json").replace(GEOJSON_URL, "geojson.json")
    (local / "camtrap-dp-profile.json").write_text(profile)
    descriptor = json.loads((package_dir / "datapackage.json").read_text())
    if descriptor.get("profile") == PROFILE_URL:
        descriptor["profile"] = "schemas/1.0.2/camtrap-dp-profile.json"
    for resource in descriptor.get("resources", []):
        schema = resource.get("schema")
        if isinstance(schema, str) and schema.startswith("https://raw.githubusercontent.com/tdwg/camtrap-dp/1.0.2/"):
            resource["schema"] = "schemas/1.0.2/" + schema.rsplit("/", 1)[1]
    (package_dir / "datapackage.local.json").write_text(json.dumps(descriptor))
    try:
        # frictionless reads a profile path from the working directory (and refuses absolute paths as unsafe)
        with contextlib.chdir(package_dir):
            report = frictionless.Package("datapackage.local.json").validate()
    except frictionless.FrictionlessException as error:
        return [str(error)]
    return [f"{kind}: {message}" for kind, message in report.flatten(["type", "message"])]


def package_errors(package_dir: Path) -> list[str]:
    """Both validators' complaints about an unpacked package (empty: valid)."""
    descriptor = json.loads((package_dir / "datapackage.json").read_text())
    return [f"jsonschema {error}" for error in jsonschema_errors(descriptor)] + [
        f"frictionless {error}" for error in frictionless_errors(package_dir)
    ]


def unpack(archive: Path, into: Path) -> Path:
    with zipfile.ZipFile(archive) as package:
        assert package.testzip() is None, "a corrupt entry in the zip"
        package.extractall(into)
    return into
