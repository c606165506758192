"""The ``addax`` command. Each subcommand is a small function; errors end in one clear line and exit 1."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import asyncpg
import uvloop

from addax import (
    app,
    backfill,
    backup_cli,
    camtrap_cli,
    camtrap_import_cli,
    config,
    doctor,
    logs,
    model_cli,
    object_storage,
    results_cli,
    storage_admin_cli,
    storage_cli,
)
from addax.config import Config, ConfigError
from addax.domain.secrets import hash_password, new_password, new_token, token_digest
from addax.embedded.common import DataDirInUse, EmbeddedServerError, exclusive_data_dir, socket_directory
from addax.embedded.postgres import EmbeddedPostgres, dsn_for
from addax.models.manifest import FAMILIES
from addax.pipeline import ROLES
from addax.runtime import Supervisor
from addax.runtime.servers import PortInUse
from addax.store import accounts, reprocess, work
from addax.store.database import DatabaseUnavailable, create_pool
from addax.store.migrations import migrate
from addax.store.queue import QueueUnavailable
from addax.store.receiving import DiskFull
from addax.tls import CertificateError

log = logging.getLogger("addax.cli")

# What start-up can fail on, each with a message that says what to do.
EXPECTED_ERRORS = (
    ConfigError,
    EmbeddedServerError,
    PortInUse,
    DatabaseUnavailable,
    QueueUnavailable,
    accounts.AccountError,
    CertificateError,
    DiskFull,
    results_cli.ResultsFileError,
    model_cli.ModelCommandError,
    *backup_cli.ERRORS,
    camtrap_cli.CamtrapCommandError,
    camtrap_import_cli.ImportRefused,
    camtrap_import_cli.PackageError,
    storage_cli.StorageCommandError,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="addax", description="Addax camera-trap server")
    parser.add_argument("--config", help="path to config.toml (default: $ADDAX_CONFIG or ./config.toml)")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the service")
    commands.add_parser("migrate", help="apply database migrations")
    commands.add_parser("doctor", help="check every dependency and say what is wrong")

    user = commands.add_parser("user", help="manage users").add_subparsers(dest="action", required=True)
    user_add = user.add_parser("add", help="add a user")
    user_add.add_argument("email")
    user_add.add_argument("--role", required=True, choices=[role.value for role in accounts.Role])
    user_add.add_argument("--project")
    user_add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    user.add_parser("disable", help="stop a user's logins and end every session at once").add_argument("email")
    user.add_parser("enable", help="let a disabled user log in again").add_argument("email")
    user_password = user.add_parser("password", help="set a user's password (ends every session)")
    user_password.add_argument("email")
    user_password.add_argument("--password-stdin", action="store_true", help="read the password from standard input")

    project = commands.add_parser("project", help="manage projects").add_subparsers(dest="action", required=True)
    project.add_parser("add", help="add a project").add_argument("name")
    settings = project.add_parser("set", help="change a project's settings")
    settings.add_argument("name")
    settings.add_argument("--timezone", help="IANA zone of cameras whose EXIF has no UTC offset")
    settings.add_argument(
        "--require-camera-registration",
        choices=["yes", "no"],
        help="reject photos of cameras an admin has not registered (default: no, auto-register)",
    )
    settings.add_argument("--require-timestamp", choices=["yes", "no"], help="reject photos without a usable time")
    settings.add_argument("--site-radius-m", type=float, help="GPS readings this close join a site (default 250)")
    settings.add_argument(
        "--detection-threshold", type=float, help="boxes from this score are classified, drawn and counted (0.5)"
    )
    settings.add_argument("--sequence-gap-s", type=int, help="photos of a camera this close are one event (60)")
    settings.add_argument(
        "--allowed-species", help='comma-separated taxa or common names the classifier may answer ("" for any)'
    )
    settings.add_argument(
        "--species-threshold",
        action="append",
        metavar="TAXON=SCORE",
        help="the least score to name this species (repeatable; 0 removes it); below it the answer rolls up",
    )

    ftp_user = commands.add_parser("ftp-user", help="upload accounts").add_subparsers(dest="action", required=True)
    ftp_add = ftp_user.add_parser("add", help="add an FTPS upload account for cameras")
    ftp_add.add_argument("name")
    ftp_add.add_argument("--project", required=True)
    ftp_add.add_argument("--password-stdin", action="store_true")
    ftp_user.add_parser("disable", help="refuse this account's FTPS logins").add_argument("name")
    ftp_user.add_parser("enable", help="accept this account's FTPS logins again").add_argument("name")
    ftp_password = ftp_user.add_parser("password", help="set an upload account's password")
    ftp_password.add_argument("name")
    ftp_password.add_argument("--password-stdin", action="store_true")

    backfill = commands.add_parser(
        "import",
        help="backfill an SD card dump (resumable, no real-time alerts); `import camtrap-dp PACKAGE`: a Camtrap DP"
        " package (.zip or directory) made elsewhere",
    )
    backfill.add_argument("source", nargs="+", metavar="DIR | camtrap-dp PACKAGE")
    backfill.add_argument("--project", required=True)
    backfill.add_argument(
        "--as", dest="as_email", metavar="EMAIL", help="camtrap-dp: who verified its human observations"
    )
    backfill.add_argument("--skip-invalid", action="store_true", help="camtrap-dp: leave invalid rows out")

    again = commands.add_parser(
        "reprocess", help="send rejected files back through the ingestor, or images back into the pipeline"
    )
    again.add_argument("ids", nargs="*", type=int, help="image ids (rejected ones, or of --stage)")
    again.add_argument("--reason", help="every rejected file with this reason (e.g. unknown_camera)")
    again.add_argument(
        "--stage",
        choices=["stored", "detected", "classified", "failed"],
        help="images waiting in this stage are due now (failed: back to the stage that failed)",
    )

    worker = commands.add_parser("worker", help="run pipeline stages in an extra process (scale-out)")
    worker.add_argument(
        "--roles",
        default=",".join(ROLES),
        help=f"comma-separated, of {', '.join(ROLES)} (default: all)",
    )

    export = commands.add_parser("export", help="a project's data in a format of the field")
    formats = export.add_subparsers(dest="format", required=True)
    megadetector = formats.add_parser("megadetector", help="detections in MegaDetector batch-output format")
    megadetector.add_argument("out", metavar="OUT.json")
    megadetector.add_argument("--project", required=True)
    camtrap_cli.add_export_parser(formats)

    results = commands.add_parser("import-results", help="load detections from a MegaDetector results file")
    results.add_argument("file", metavar="FILE.json")
    results.add_argument("--project", required=True)

    token = commands.add_parser("token", help="device tokens").add_subparsers(dest="action", required=True)
    token_add = token.add_parser("add", help="add a device token for HTTPS upload")
    token_add.add_argument("name")
    token_add.add_argument("--project", required=True)
    token_disable = token.add_parser(
        "disable", help="revoke a device token for good (`token add` makes a new one, under another name)"
    )
    token_disable.add_argument("name")
    token_disable.add_argument("--project", required=True)

    models = commands.add_parser("models", help="ONNX models in models.dir").add_subparsers(
        dest="action", required=True
    )
    models.add_parser("list", help="the models found, their labels, and which are in use")
    models.add_parser("check", help="open every model and time one inference (exit 1 if one fails)")
    models_add = models.add_parser("add", help="install a model file or URL, shape-checked, with its manifest")
    models_add.add_argument("source", metavar="FILE_OR_URL", help="a local .onnx file or an http(s) URL (resumable)")
    models_add.add_argument("--family", required=True, choices=FAMILIES)
    models_add.add_argument("--name", help="manifest name, what models.detector/classifier use (default: file stem)")
    models_add.add_argument("--sha256", help="refuse the file unless it has this SHA-256")
    models_add.add_argument("--kind", choices=["detector", "classifier"], help="checked against the family")
    models_add.add_argument("--labels-file", help="label names, one per line in output order")
    models_add.add_argument("--input-size", type=int, help="square input side, for models that leave it open")
    models_add.add_argument("--licence", help="the weights' licence, recorded in the manifest")
    models_add.add_argument("--force", action="store_true", help="replace an existing manifest and file")
    backup_cli.add_commands(commands)
    storage_admin_cli.add_retention(commands)
    storage_admin_cli.add_storage_status(storage_cli.add_commands(commands))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = config.load(args.config)
    except ConfigError as error:
        print(f"addax: bad configuration: {error}", file=sys.stderr)
        return 1
    logs.setup(settings.general.log_level)
    handlers: dict[str, Callable[[argparse.Namespace, Config], Coroutine[Any, Any, int]]] = {
        "migrate": _migrate,
        "doctor": lambda _, c: doctor.run(c),
        "user": _user,
        "project": _project,
        "ftp-user": _ftp_user,
        "token": _token,
        "import": _import,
        "reprocess": _reprocess,
        "export": _export,
        "import-results": _import_results,
        "models": model_cli.command,
        "backup": lambda a, c: backup_cli.backup(a, c, database=database),
        "restore": backup_cli.restore,
        "retention": partial(storage_admin_cli.retention_command, database=database),
        "storage": _storage,
    }
    try:
        if args.command == "run":
            return uvloop.run(app.run(settings))  # faster TLS and sockets for the long-running service
        if args.command == "worker":
            return uvloop.run(app.run_worker(settings, _roles(args.roles)))
        return asyncio.run(handlers[args.command](args, settings))
    except EXPECTED_ERRORS as error:
        print(f"addax: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


@contextlib.asynccontextmanager
async def database(settings: Config) -> AsyncIterator[asyncpg.Pool]:
    """A migrated pool: to database.url, to the running embedded cluster, or to one started for this command."""
    if settings.database.url:
        async with _migrated(await create_pool(settings.database.url, size=2, wait_s=5)) as pool:
            yield pool
        return
    running = None
    if (socket_directory(settings.data_path) / ".s.PGSQL.5432").exists():
        with contextlib.suppress(DatabaseUnavailable):
            running = await create_pool(dsn_for(socket_directory(settings.data_path), 5432), size=2, wait_s=1)
    if running is not None:
        async with _migrated(running) as pool:
            yield pool
        return
    with _data_dir_for_cli(settings):
        async with Supervisor() as supervisor:
            postgres = EmbeddedPostgres(
                data_dir=settings.data_path,
                bin_dir=settings.database.bin_dir,
                user=settings.database.embedded_user,
                log_rotation=app.log_rotation(settings),
            )
            await supervisor.start(postgres)
            async with _migrated(await create_pool(postgres.dsn, size=2)) as pool:
                yield pool


@contextlib.contextmanager
def _data_dir_for_cli(settings: Config) -> Iterator[None]:
    """The data dir for a cluster of our own; a running service that does not answer is an error, not a cue."""
    try:
        with exclusive_data_dir(settings.data_path):
            yield
    except DataDirInUse:
        raise DatabaseUnavailable(
            f"addax run is using {settings.data_path} but its database did not answer; try again in a moment"
        ) from None


@contextlib.asynccontextmanager
async def _migrated(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Pool]:
    try:
        async with pool.acquire() as connection:
            await migrate(connection)
        yield pool
    finally:
        await pool.close()


def _operator() -> str:
    return f"cli:{getpass.getuser()}"


async def _new_password(from_stdin: bool, what: str) -> tuple[str, str | None]:
    """The hash of the password to set, and the password itself when it was generated (to show once)."""
    password, generated = _read_password(from_stdin, what)
    return await asyncio.to_thread(hash_password, password), password if generated else None


def _show_once(generated: str | None) -> None:
    if generated:
        print(f"password (shown once): {generated}")


def _read_password(from_stdin: bool, what: str) -> tuple[str, bool]:
    """The password to set, and whether it was generated."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise accounts.AccountError("no password on standard input")
        return password, False
    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {what}: ")
        if password and password == getpass.getpass("Again: "):
            return password, False
        raise accounts.AccountError("the passwords were empty or did not match")
    return new_password(), True


async def _migrate(args: argparse.Namespace, settings: Config) -> int:
    async with database(settings):
        print("migrations applied")
    return 0


async def _project(args: argparse.Namespace, settings: Config) -> int:
    if args.action == "set":
        return await _project_set(args, settings)
    async with database(settings) as pool:
        project_id = await accounts.add_project(pool, args.name, by=_operator())
    print(f"project {args.name!r} created (id {project_id})")
    return 0


async def _project_set(args: argparse.Namespace, settings: Config) -> int:
    changes = {
        "timezone": args.timezone,
        "require_camera_registration": None
        if args.require_camera_registration is None
        else args.require_camera_registration == "yes",
        "require_timestamp": None if args.require_timestamp is None else args.require_timestamp == "yes",
        "site_radius_m": args.site_radius_m,
        "detection_threshold": args.detection_threshold,
        "sequence_gap_s": args.sequence_gap_s,
        "allowed_species": None
        if args.allowed_species is None
        else [name.strip() for name in args.allowed_species.split(",") if name.strip()],
        "species_thresholds": _species_thresholds(args.species_threshold) if args.species_threshold else None,
    }
    changes = {key: value for key, value in changes.items() if value is not None}
    if not changes:
        raise accounts.AccountError("nothing to change: give at least one option (see --help)")
    async with database(settings) as pool:
        await accounts.set_project(pool, args.name, by=_operator(), **changes)
    print(f"project {args.name!r}: " + ", ".join(f"{key} = {value}" for key, value in changes.items()))
    return 0


def _species_thresholds(pairs: list[str]) -> dict[str, float]:
    thresholds = {}
    for pair in pairs:
        taxon, _, score = pair.rpartition("=")
        try:
            thresholds[taxon.strip()] = float(score)
        except ValueError:
            raise accounts.AccountError(f"--species-threshold takes TAXON=SCORE, not {pair!r}") from None
        if not taxon.strip():
            raise accounts.AccountError(f"--species-threshold takes TAXON=SCORE, not {pair!r}")
    return thresholds


async def _user(args: argparse.Namespace, settings: Config) -> int:
    actions = {"add": _user_add, "disable": _user_disable, "enable": _user_enable, "password": _user_password}
    return await actions[args.action](args, settings)


async def _user_add(args: argparse.Namespace, settings: Config) -> int:
    password_hash, generated = await _new_password(args.password_stdin, args.email)
    async with database(settings) as pool:
        await accounts.add_user(
            pool, args.email, password_hash, role=accounts.Role(args.role), project=args.project, by=_operator()
        )
    print(f"user {args.email} added as {args.role}" + (f" of {args.project}" if args.project else ""))
    _show_once(generated)
    return 0


async def _user_disable(args: argparse.Namespace, settings: Config) -> int:
    async with database(settings) as pool:
        ended = await accounts.disable_user(pool, await accounts.user_id(pool, args.email), by=_operator())
    print(f"user {args.email} disabled; {ended} session(s) ended")
    return 0


async def _user_enable(args: argparse.Namespace, settings: Config) -> int:
    async with database(settings) as pool:
        await accounts.enable_user(pool, await accounts.user_id(pool, args.email), by=_operator())
    print(f"user {args.email} enabled")
    return 0


async def _user_password(args: argparse.Namespace, settings: Config) -> int:
    password_hash, generated = await _new_password(args.password_stdin, args.email)
    async with database(settings) as pool:
        user_id = await accounts.user_id(pool, args.email)
        ended = await accounts.set_user_password(pool, user_id, password_hash, by=_operator())
    print(f"password of {args.email} changed; {ended} session(s) ended")
    _show_once(generated)
    return 0


async def _ftp_user(args: argparse.Namespace, settings: Config) -> int:
    actions = {
        "add": _ftp_user_add,
        "disable": _ftp_user_disable,
        "enable": _ftp_user_enable,
        "password": _ftp_user_password,
    }
    return await actions[args.action](args, settings)


async def _ftp_user_add(args: argparse.Namespace, settings: Config) -> int:
    password_hash, generated = await _new_password(args.password_stdin, args.name)
    async with database(settings) as pool:
        await accounts.add_upload_account(pool, args.name, password_hash, project=args.project, by=_operator())
    print(f"upload account {args.name} added to {args.project}")
    _show_once(generated)
    return 0


async def _ftp_user_disable(args: argparse.Namespace, settings: Config) -> int:
    async with database(settings) as pool:
        await accounts.disable_upload_account(pool, await accounts.upload_account_id(pool, args.name), by=_operator())
    print(f"upload account {args.name} disabled")
    return 0


async def _ftp_user_enable(args: argparse.Namespace, settings: Config) -> int:
    async with database(settings) as pool:
        await accounts.enable_upload_account(pool, await accounts.upload_account_id(pool, args.name), by=_operator())
    print(f"upload account {args.name} enabled")
    return 0


async def _ftp_user_password(args: argparse.Namespace, settings: Config) -> int:
    password_hash, generated = await _new_password(args.password_stdin, args.name)
    async with database(settings) as pool:
        account_id = await accounts.upload_account_id(pool, args.name)
        await accounts.set_upload_account_password(pool, account_id, password_hash, by=_operator())
    print(f"password of upload account {args.name} changed")
    _show_once(generated)
    return 0


async def _token(args: argparse.Namespace, settings: Config) -> int:
    actions = {"add": _token_add, "disable": _token_disable}
    return await actions[args.action](args, settings)


async def _token_disable(args: argparse.Namespace, settings: Config) -> int:
    async with database(settings) as pool:
        token_id = await accounts.device_token_id(pool, args.name, project=args.project)
        await accounts.revoke_device_token(pool, token_id, by=_operator())
    print(f"device token {args.name} of {args.project} revoked for good; add a new one under a new name")
    return 0


async def _token_add(args: argparse.Namespace, settings: Config) -> int:
    token = new_token()
    async with database(settings) as pool:
        await accounts.add_device_token(pool, args.name, token_digest(token), project=args.project, by=_operator())
    print(f"device token {args.name} for {args.project} (shown once; send it as X-API-Token):")
    print(token)
    return 0


async def _import(args: argparse.Namespace, settings: Config) -> int:
    if args.source[0] == "camtrap-dp" and len(args.source) == 2:
        return await camtrap_import_cli.import_camtrap_dp(
            settings,
            database,
            Path(args.source[1]),
            project=args.project,
            as_email=args.as_email,
            skip_invalid=args.skip_invalid,
            actor=_operator(),
        )
    if len(args.source) != 1 or args.as_email or args.skip_invalid:
        raise accounts.AccountError(
            "use `addax import DIR --project P` or `addax import camtrap-dp PACKAGE --project P`"
        )
    directory = Path(args.source[0])
    if not directory.is_dir():
        raise accounts.AccountError(f"{directory} is not a directory")
    async with database(settings) as pool:
        project_id = await accounts.project_id(pool, args.project)
        tally = await backfill.import_directory(pool, settings, directory, project_id)
    print(tally.summary())
    return 0


def _roles(text: str) -> tuple[str, ...]:
    roles = tuple(role.strip() for role in text.split(",") if role.strip())
    unknown = [role for role in roles if role not in ROLES]
    if unknown or not roles:
        raise accounts.AccountError(f"--roles takes {', '.join(ROLES)}; not {', '.join(unknown) or 'nothing'}")
    return roles


async def _reprocess(args: argparse.Namespace, settings: Config) -> int:
    if args.stage:
        async with database(settings) as pool:
            count = await work.requeue(pool, stage=args.stage, ids=args.ids)
        print(f"{count} images due now in the pipeline (from {args.stage})")
        return 0
    if not args.ids and not args.reason:
        raise accounts.AccountError("name rejected image ids, --reason R, or --stage S")
    async with database(settings) as pool:
        ids = args.ids or await reprocess.rejected_ids(pool, reason=args.reason)
        tally = await backfill.reprocess_rejected(pool, settings, ids, by=_operator())
    print(tally.summary())
    return 0


async def _storage(args: argparse.Namespace, settings: Config) -> int:
    if args.action == "status":
        return await storage_admin_cli.storage_status(args, settings, database=database)
    return await storage_cli.command(args, settings)


async def _export(args: argparse.Namespace, settings: Config) -> int:
    if args.format == "camtrap-dp":
        camtrap_cli.selection_from(args)  # bad filters are refused before the database starts
        async with database(settings) as pool, object_storage.open_objects(settings) as objects:
            project_id = await accounts.project_id(pool, args.project)
            print(await camtrap_cli.export_camtrap_dp(pool, objects, project_id, args, settings))
        return 0
    async with database(settings) as pool:
        project_id = await accounts.project_id(pool, args.project)
        tally = await results_cli.export_megadetector(pool, project_id, Path(args.out))
    print(tally.summary(Path(args.out)))
    return 0


async def _import_results(args: argparse.Namespace, settings: Config) -> int:
    batch = await results_cli.read_results(Path(args.file))  # a bad file is refused before the database starts
    async with database(settings) as pool:
        project_id = await accounts.project_id(pool, args.project)
        report = await results_cli.import_results(pool, project_id, batch, source=Path(args.file), by=_operator())
    print(report.summary())
    return 0
