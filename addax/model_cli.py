"""``addax models list | check | add``: what is installed, whether it runs, and installing a model.

``add`` writes the model file into models.dir first and its manifest last, so a manifest only ever names a
complete file that was checked against its family. A download goes to ``FILE.part`` in models.dir, and running
the same command again continues from there (addax.download). Nothing is downloaded at run time: ``addax run``
only reads what was installed here.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import re
import shutil
import sys
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np
import onnxruntime as ort

from addax.config import Config
from addax.download import DownloadError, download
from addax.models.deepfaune import DEEPFAUNE_CROPS, DEEPFAUNE_LABELS
from addax.models.manifest import (
    DETECTION_LABELS,
    DETECTOR_FAMILIES,
    CropPreparation,
    Manifest,
    ManifestError,
    find_manifests,
    load_manifest,
    parse_manifest,
)
from addax.models.registry import NO_DETECTOR, pick_manifest
from addax.models.session import CPU, ModelError, OnnxModel, check_output, choose_providers, open_model
from addax.models.speciesnet import SPECIESNET_CROPS

KINDS = ("detector", "classifier")
SHOWN_LABELS = 5
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]*")
SHA256 = re.compile(r"[0-9a-f]{64}")
CROP_KEYS = ("resize", "mean", "std", "outputs", "crop_padding")


class ModelCommandError(Exception):
    """Why a models command stopped, naming the file or URL. After ``models add`` nothing was installed."""


async def command(args: argparse.Namespace, settings: Config) -> int:
    actions = {"list": list_models, "check": check_models, "add": add_model}
    return await actions[args.action](args, settings)


def family_defaults(family: str) -> dict[str, Any]:
    """Manifest keys a family brings when the command line does not give them.

    ``labels`` (classifiers; MegaDetector-style detectors get theirs from the output width) and, for
    classifiers, how crops are prepared: ``resize``, ``mean``, ``std``, ``outputs``, ``crop_padding``.
    DeepFaune's labels are those of v1.5: an older export has another class count, refused by the shape check
    until its labels are given with --labels-file.
    """
    if family == "deepfaune":
        return {"labels": list(DEEPFAUNE_LABELS), **_crop_keys(DEEPFAUNE_CROPS)}
    if family == "speciesnet":
        return _crop_keys(SPECIESNET_CROPS)
    return {}


def _crop_keys(crops: CropPreparation) -> dict[str, Any]:
    return {
        "resize": crops.resize,
        "mean": list(crops.mean),
        "std": list(crops.std),
        "outputs": crops.outputs,
        "crop_padding": crops.crop_padding,
    }


# -- list ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Active:
    name: str | None  # the manifest the pipeline would use, if any
    line: str  # what to tell the operator about it


def active_model(directory: Path, configured: str, kind: str) -> Active:
    """The detector or classifier in use: the one models.<kind> names, or pick_manifest's default."""
    try:
        manifest = pick_manifest(directory, configured, kind)
    except ManifestError as error:
        return Active(None, f"models.{kind} = {configured!r} cannot be used: {error}")
    if manifest is None:
        return Active(None, NO_DETECTOR if kind == "detector" else "no classifier configured")
    how = f"models.{kind} = {configured!r}" if configured else f"the first {kind} by name; models.{kind} is empty"
    missing = "" if manifest.file.is_file() else f"; its file {manifest.file} is MISSING"
    return Active(manifest.name, f"{manifest.label}, {how}{missing}")


async def list_models(args: argparse.Namespace, settings: Config) -> int:
    directory = settings.models_path
    provider = choose_providers(settings.models.providers, ort.get_available_providers())[0]
    active = {kind: active_model(directory, getattr(settings.models, kind), kind) for kind in KINDS}
    paths = find_manifests(directory)
    print(f"{directory}: {len(paths)} manifest(s)")
    for path in paths:
        print()
        try:
            manifest = load_manifest(path)
        except ManifestError as error:
            print(f"{path.stem}  BROKEN\n  {error}")
            continue
        print("\n".join(_describe(manifest, active, provider)))
    print()
    for kind in KINDS:
        print(f"{kind}: {active[kind].line}")
    return 0


def _describe(manifest: Manifest, active: dict[str, Active], provider: str) -> list[str]:
    head = f"{manifest.name}  {manifest.kind}, {manifest.family}"
    if active[manifest.kind].name == manifest.name:
        head += f"  [active {manifest.kind}]"
    found = f"found, {manifest.file.stat().st_size / 1e6:.1f} MB" if manifest.file.is_file() else "MISSING"
    shown = ", ".join(manifest.labels[:SHOWN_LABELS]) + (", ..." if len(manifest.labels) > SHOWN_LABELS else "")
    return [
        head,
        f"  file      {manifest.file} ({found})",
        f"  input     {manifest.input_size} x {manifest.input_size}",
        f"  labels    {len(manifest.labels)}: {shown}",
        f"  provider  {provider}",
    ]


# -- check -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Trial:
    provider: str
    first_ms: float  # the warm-up run
    ms: float
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]


async def check_models(args: argparse.Namespace, settings: Config) -> int:
    """Open every model and run it once on random pixels; exit 1 if any (or a configured one) fails."""
    directory = settings.models_path
    paths = find_manifests(directory)
    print(f"{directory}: {len(paths)} manifest(s)")
    logging.getLogger("addax.models").setLevel(logging.WARNING)  # each line below already says it loaded
    failed: list[str] = []
    for path in paths:
        try:
            trial = await asyncio.to_thread(try_model, load_manifest(path), settings.models.providers)
        except (ManifestError, ModelError, OSError) as error:
            failed.append(path.stem)
            print(f"{path.stem}: FAILED  {error}")
            continue
        print(
            f"{path.stem}: ok  {trial.provider}, {trial.ms:.1f} ms per run (warm-up {trial.first_ms:.1f} ms), "
            f"input {list(trial.input_shape)} -> output {list(trial.output_shape)}"
        )
    for kind in KINDS:
        configured = getattr(settings.models, kind)
        active = active_model(directory, configured, kind)
        if configured and active.name is None and configured not in failed:
            failed.append(configured)
        print(f"{kind}: {active.line}")
    if failed:
        print(f"addax: {len(failed)} model(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def try_model(manifest: Manifest, providers: Sequence[str]) -> Trial:
    """Open the model (file, sha256, shapes) and time one inference after a warm-up run."""
    if manifest.sha256 and manifest.file.is_file():
        digest = sha256_of(manifest.file)
        if digest != manifest.sha256.lower():
            raise ModelError(
                f"{manifest.file}: sha256 is {digest} but {manifest.path} records {manifest.sha256} "
                "(replaced or damaged?)"
            )
    model = open_model(manifest, providers)
    size = manifest.input_size
    batch = np.random.default_rng().random((model.max_batch or 1, 3, size, size), dtype=np.float32)
    try:
        first_ms, _ = _timed(model.run, batch)
        ms, output = _timed(model.run, batch)
    except ModelError:
        raise
    except Exception as error:  # onnxruntime's own exception types
        raise ModelError(f"{manifest.file}: inference failed ({type(error).__name__}: {error})") from None
    return Trial(model.provider, first_ms, ms, batch.shape, output.shape)


def _timed(run: Callable[[np.ndarray], np.ndarray], batch: np.ndarray) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    output = run(batch)
    return (time.perf_counter() - start) * 1000, output


# -- add -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Plan:
    """What ``models add`` installs, decided from the command line before anything is fetched."""

    source: str  # URL or local path, as given
    url: bool
    name: str
    kind: str
    family: str
    destination: Path  # the model file in models.dir
    manifest_path: Path
    labels: tuple[str, ...] | None  # from --labels-file
    input_size: int | None
    licence: str
    sha256: str | None

    @property
    def part(self) -> Path:
        return self.destination.with_name(self.destination.name + ".part")


async def add_model(args: argparse.Namespace, settings: Config) -> int:
    plan = plan_add(args, settings.models_path)
    plan.destination.parent.mkdir(parents=True, exist_ok=True)
    staged, ours = await _fetch(plan)
    try:
        digest = await asyncio.to_thread(sha256_of, staged)
        if plan.sha256 and digest != plan.sha256:
            raise ModelCommandError(f"{plan.source}: sha256 is {digest}, expected {plan.sha256}; not installed")
        text, manifest = await asyncio.to_thread(manifest_for, plan, staged, digest)
        _install(staged, plan, text)
    except Exception:
        if ours:
            staged.unlink(missing_ok=True)  # a bad download is not worth resuming
        raise
    _report(manifest, settings)
    return 0


def plan_add(args: argparse.Namespace, directory: Path) -> Plan:
    source: str = args.source
    parts = urlsplit(source)
    url = parts.scheme.lower() in ("http", "https")
    if "://" in source and not url:
        raise ModelCommandError(f"{source}: give an http:// or https:// URL, or a local file")
    base = unquote(PurePosixPath(parts.path).name) if url else Path(source).name
    name = args.name or base.removesuffix(".onnx")
    if not NAME.fullmatch(name):
        raise ModelCommandError(f"{name!r} is not a model name (letters, digits, . _ + -): give one with --name")
    kind = "detector" if args.family in DETECTOR_FAMILIES else "classifier"
    if args.kind and args.kind != kind:
        raise ModelCommandError(f"--kind {args.kind} does not go with --family {args.family}, a {kind} family")
    sha256 = args.sha256.lower() if args.sha256 else None
    if sha256 is not None and not SHA256.fullmatch(sha256):
        raise ModelCommandError(f"--sha256 {args.sha256}: expected 64 hexadecimal digits")
    in_place = not url and Path(source).resolve().parent == directory.resolve()  # already in models.dir: kept
    destination = Path(source).resolve() if in_place else directory / f"{name}.onnx"
    manifest_path = directory / f"{name}.toml"
    if manifest_path.exists() and not args.force:
        raise ModelCommandError(f"{manifest_path} already exists: choose another --name, or --force to replace it")
    if destination.exists() and not in_place and not args.force:
        raise ModelCommandError(f"{destination} already exists: choose another --name, or --force to replace it")
    return Plan(
        source=source,
        url=url,
        name=name,
        kind=kind,
        family=args.family,
        destination=destination,
        manifest_path=manifest_path,
        labels=read_labels(Path(args.labels_file)) if args.labels_file else None,
        input_size=args.input_size,
        licence=args.licence or "",
        sha256=sha256,
    )


def read_labels(path: Path) -> tuple[str, ...]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ModelCommandError(f"{path}: cannot read the labels file ({error})") from None
    labels = tuple(line.strip() for line in lines if line.strip())
    if not labels:
        raise ModelCommandError(f"{path}: no labels in it (one per line, in the model's output order)")
    return labels


async def _fetch(plan: Plan) -> tuple[Path, bool]:
    """The complete file to check, and whether it is ours to delete (not the operator's own file)."""
    if plan.url:
        try:
            await download(plan.source, plan.part)
        except DownloadError as error:
            raise ModelCommandError(str(error)) from None
        return plan.part, True
    source = Path(plan.source)
    if not source.is_file():
        raise ModelCommandError(f"{source}: no such file")
    if source.resolve() == plan.destination.resolve():
        return plan.destination, False
    await asyncio.to_thread(shutil.copyfile, source, plan.part)
    return plan.part, True


def manifest_for(plan: Plan, staged: Path, digest: str) -> tuple[str, Manifest]:
    """The manifest text for the staged model, refused unless the model fits its family."""
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(os.fspath(staged), sess_options=options, providers=[CPU])
    except Exception as error:  # onnxruntime raises its own exception types for bad files
        problem = str(error).replace(os.fspath(staged), plan.source)
        raise ModelCommandError(f"{plan.source}: not a usable ONNX model ({problem}); not installed") from None
    labels = plan.labels if plan.labels is not None else _default_labels(session, plan)
    text = render_manifest(
        plan,
        input_size=_input_size(session, plan),
        labels=labels,
        digest=digest,
        extra={k: v for k, v in family_defaults(plan.family).items() if k in CROP_KEYS and plan.kind == "classifier"},
    )
    try:
        manifest = parse_manifest(tomllib.loads(text), plan.manifest_path)
        checked = replace(manifest, file=staged)
        OnnxModel(checked, session)  # one RGB image input of the right size
        check_output(checked, session)
    except ManifestError as error:
        raise ModelCommandError(f"{error}; not installed") from None
    except ModelError as error:
        problem = str(error).removeprefix(f"{staged}: ")
        raise ModelCommandError(f"{plan.source}: {problem}; not installed") from None
    return text, manifest


def _default_labels(session: ort.InferenceSession, plan: Plan) -> tuple[str, ...]:
    defaults = family_defaults(plan.family)
    if plan.kind == "classifier":
        if "labels" in defaults:
            return tuple(defaults["labels"])
        raise ModelCommandError(
            f"{plan.source}: a {plan.family} classifier needs its labels: --labels-file PATH, one per line "
            "in output order; not installed"
        )
    shape = list(session.get_outputs()[0].shape)
    v5 = plan.family == "megadetector-v5"
    width = shape[2 if v5 else 1] if len(shape) == 3 else None
    classes = width - (5 if v5 else 4) if isinstance(width, int) else None
    if len(shape) != 3 or classes == len(DETECTION_LABELS) or (classes is not None and classes < 1):
        return DETECTION_LABELS  # MegaDetector's; an output that fits no detector is refused by the shape check
    counted = f"{classes} classes" if classes is not None else "a class count the model leaves open"
    raise ModelCommandError(
        f"{plan.source}: output {shape} means {counted} for family {plan.family}: name them with --labels-file "
        "(one per line, in output order), or check --family; not installed"
    )


def _input_size(session: ort.InferenceSession, plan: Plan) -> int:
    inputs = session.get_inputs()
    shape = list(inputs[0].shape) if len(inputs) == 1 else []
    if len(shape) != 4:
        return plan.input_size or 640  # the input check in manifest_for refuses this model with its reason
    channels_last = shape[3] == 3 and shape[1] != 3
    sides = {side for side in (shape[1:3] if channels_last else shape[2:4]) if isinstance(side, int) and side > 0}
    if len(sides) > 1:
        raise ModelCommandError(f"{plan.source}: input {shape} is not square; Addax feeds square images; not installed")
    if sides:
        (side,) = sides
        if plan.input_size and plan.input_size != side:
            raise ModelCommandError(
                f"{plan.source}: input {shape} takes {side} x {side} images, not --input-size {plan.input_size}; "
                "not installed"
            )
        return side
    if plan.input_size:
        return plan.input_size
    raise ModelCommandError(
        f"{plan.source}: input {shape} leaves the image size open: give it with --input-size N; not installed"
    )


def render_manifest(
    plan: Plan, *, input_size: int, labels: Sequence[str], digest: str, extra: dict[str, Any] | None = None
) -> str:
    """A manifest as in docs/ARCHITECTURE.md; top-level keys first, then [categories] for detectors."""
    today = datetime.now(UTC).date().isoformat()
    lines = [
        f"# Written by `addax models add` on {today}; `addax models check` tests it.",
        f"kind = {_toml(plan.kind)}",
        f"family = {_toml(plan.family)}",
        f"file = {_toml(plan.destination.name)}",
        f"input_size = {input_size}",
        f"labels = {_toml(list(labels))}",
        f"licence = {_toml(plan.licence)}",
        f"source = {_toml(plan.source if plan.url else str(Path(plan.source).resolve()))}",
        f"sha256 = {_toml(digest)}",
    ]
    lines += [f"{key} = {_toml(value)}" for key, value in (extra or {}).items()]
    if plan.kind == "detector":
        lines += ["", "[categories]  # model label -> animal | person | vehicle; labels not listed are ignored"]
        mapped = [label for label in labels if label in DETECTION_LABELS]
        lines += [f"{_key(label)} = {_toml(label)}" for label in mapped] or ['# "some label" = "animal"']
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, str):
        # a JSON string is a TOML basic string, once DEL (which JSON leaves alone) is escaped too
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list | tuple):
        items = [_toml(item) for item in value]
        if len(items) <= 8:
            return "[" + ", ".join(items) + "]"
        return "[\n" + "".join(f"    {item},\n" for item in items) + "]"
    return repr(value)


def _key(label: str) -> str:
    return label if re.fullmatch(r"[A-Za-z0-9_-]+", label) else json.dumps(label, ensure_ascii=False)


def _install(staged: Path, plan: Plan, text: str) -> None:
    if staged != plan.destination:
        os.replace(staged, plan.destination)
    temporary = plan.manifest_path.with_name(f".{plan.manifest_path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, plan.manifest_path)  # last: a manifest only ever names a checked, complete file


def _report(manifest: Manifest, settings: Config) -> None:
    shown = ", ".join(manifest.labels[:SHOWN_LABELS]) + (", ..." if len(manifest.labels) > SHOWN_LABELS else "")
    print(f"installed {manifest.label}: input {manifest.input_size}, {len(manifest.labels)} labels ({shown})")
    print(f"  file      {manifest.file} (sha256 {manifest.sha256})")
    print(f"  manifest  {manifest.path}")
    if manifest.kind == "detector" and not manifest.categories:
        print(f"  warning: no label is animal, person or vehicle; map them in [categories] of {manifest.path}")
    active = active_model(settings.models_path, getattr(settings.models, manifest.kind), manifest.kind)
    if active.name == manifest.name:
        print(f"  in use as the {manifest.kind} ({active.line})")
    else:
        print(f'  not in use: {active.line}; set models.{manifest.kind} = "{manifest.name}" to use it')


def sha256_of(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()
