"""``addax export camtrap-dp``: a project as a Camtrap DP 1.0.2 package (a zip), with a progress bar.

The zip is written to ``.OUT.partial`` beside ``OUT`` and renamed once complete: an interrupted export leaves
no half package under that name. The rows and the package: store/camtrap_export.py and domain/camtrap.py.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import importlib.metadata
import sys
from pathlib import Path

import asyncpg
from tqdm import tqdm

from addax.config import Config
from addax.domain.camtrap import DEFAULT_LICENSE, ExportFilterError, Selection, parse_day
from addax.store.camtrap_export import ExportError, MediaLinks, Request, open_export
from addax.store.objects import ObjectStore


class CamtrapCommandError(Exception):
    """The export cannot be made as asked; the message says why and what to change."""


def add_export_parser(formats: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = formats.add_parser("camtrap-dp", help="a Camtrap DP 1.0.2 package (zip): deployments, media, observations")
    parser.add_argument("out", metavar="OUT.zip")
    parser.add_argument("--project", required=True)
    parser.add_argument("--from", dest="first_day", metavar="DATE", help="first day (YYYY-MM-DD, project's zone)")
    parser.add_argument("--to", dest="last_day", metavar="DATE", help="last day, included")
    parser.add_argument("--site", action="append", default=[], metavar="NAME", help="only this site (repeatable)")
    parser.add_argument(
        "--species", action="append", default=[], metavar="NAME", help="only media showing it (scientific name)"
    )
    parser.add_argument(
        "--media", choices=["zip", "url"], help="files inside the package or links (default: storage.export_media)"
    )
    parser.add_argument(
        "--license", default=DEFAULT_LICENSE, help=f"data and media licence (default {DEFAULT_LICENSE})"
    )
    parser.add_argument("--contact", help="the package's contact (default: the Unix user running the export)")


def selection_from(args: argparse.Namespace) -> Selection:
    try:
        return Selection(
            first_day=parse_day(args.first_day, "--from") if args.first_day else None,
            last_day=parse_day(args.last_day, "--to") if args.last_day else None,
            sites=tuple(args.site),
            species=tuple(args.species),
        )
    except ExportFilterError as error:
        raise CamtrapCommandError(str(error)) from None


def _version() -> str:
    try:
        return importlib.metadata.version("addax")
    except importlib.metadata.PackageNotFoundError:
        return ""


async def export_camtrap_dp(
    pool: asyncpg.Pool, objects: ObjectStore, project_id: int, args: argparse.Namespace, settings: Config
) -> str:
    """Write the package to ``args.out``; returns the summary line."""
    out = Path(args.out)
    partial = out.with_name(f".{out.name}.partial")
    request = Request(
        project_id=project_id,
        selection=selection_from(args),
        links=MediaLinks(
            mode=args.media or settings.storage.export_media,
            public_url=settings.http.public_url,
            signed_for_s=settings.storage.signed_url_days * 86400,
        ),
        contact=args.contact or f"cli:{getpass.getuser()}",
        license=args.license,
        instance=settings.general.instance_name,
        software_version=_version(),
    )
    try:
        handle = await asyncio.to_thread(partial.open, "wb")
    except OSError as error:
        raise CamtrapCommandError(f"cannot write {out}: {error.strerror or error}") from None
    try:
        async with open_export(pool, request) as export:
            with tqdm(total=export.total_media * export.passes, unit="row", desc="camtrap-dp", file=sys.stderr) as bar:

                async def write(data: bytes) -> None:
                    await asyncio.to_thread(handle.write, data)

                tally = await export.write(
                    write, objects=objects, progress=lambda done, total: bar.update(done - bar.n)
                )
        await asyncio.to_thread(_finish, handle)
        partial.replace(out)
    except ExportError as error:
        raise CamtrapCommandError(str(error)) from None
    except OSError as error:
        raise CamtrapCommandError(f"cannot write {out}: {error.strerror or error}") from None
    finally:
        handle.close()
        partial.unlink(missing_ok=True)
    return f"{out}: {tally.summary()}"


def _finish(handle: object) -> None:
    import os

    handle.flush()  # type: ignore[attr-defined]
    os.fsync(handle.fileno())  # type: ignore[attr-defined]
