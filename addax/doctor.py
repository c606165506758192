"""``addax doctor``: check each dependency and say exactly what is wrong and how to fix it."""

from __future__ import annotations

import asyncio
import glob
import importlib
import shutil
import sys
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import redis.asyncio as aioredis

from addax.channels import email
from addax.channels.errors import DeliveryFailed
from addax.channels.telegram import TelegramChannel
from addax.config import Config
from addax.embedded.common import EmbeddedServerError, ensure_writable, socket_directory
from addax.embedded.postgres import PACKAGES, find_binaries
from addax.models.manifest import ManifestError
from addax.models.registry import NO_DETECTOR, pick_manifest
from addax.models.session import ModelError, open_model
from addax.object_storage import open_objects
from addax.runtime.servers import PortInUse, bind
from addax.store.objects import ObjectStoreError

Check = Callable[[Config], Awaitable[str]]


class Problem(Exception):
    """What is wrong, phrased as what to do."""


class Notice(Exception):
    """Not wrong, but worth knowing (e.g. nothing will be detected until a model is installed)."""


async def check_python(_: Config) -> str:
    return sys.version.split()[0]  # the package itself requires 3.11, so importing this proves it


async def check_data_dir(config: Config) -> str:
    try:
        ensure_writable(config.data_path)
    except EmbeddedServerError as error:
        raise Problem(str(error)) from None
    usage = shutil.disk_usage(config.data_path)
    free_gb = usage.free / 2**30
    if free_gb < 1:
        raise Problem(f"only {free_gb:.2f} GiB free under {config.data_path}: free some space")
    return f"{config.data_path} writable, {free_gb:.1f} GiB free"


async def check_postgres(config: Config) -> str:
    if config.database.url:
        try:
            connection = await asyncpg.connect(config.database.url, timeout=5)
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            raise Problem(f"database.url is unreachable: {error}") from None
        try:
            postgis = await connection.fetchval("SELECT 1 FROM pg_available_extensions WHERE name = 'postgis'")
        finally:
            await connection.close()
        if not postgis:
            raise Problem("the server at database.url has no PostGIS: install postgis on it")
        return "database.url reachable, PostGIS available"
    try:
        binaries = find_binaries(config.database.bin_dir)
    except EmbeddedServerError as error:
        raise Problem(str(error)) from None
    version = binaries.parent.name
    if not glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control"):
        raise Problem(
            f"PostGIS for PostgreSQL {version} is missing: `sudo apt-get install postgresql-{version}-postgis-3`"
        )
    return f"embedded PostgreSQL {version} ({binaries}) with PostGIS; packages: {PACKAGES}"


async def check_redis(config: Config) -> str:
    if not config.redis.url:
        binary = shutil.which(config.redis.server_bin)
        if binary is None:
            raise Problem(f"{config.redis.server_bin} not found: `sudo apt-get install redis-server`, or set redis.url")
        return f"embedded redis-server ({binary}), socket in {socket_directory(config.data_path)}"
    client = aioredis.Redis.from_url(config.redis.url, socket_connect_timeout=5)
    try:
        await client.ping()
    except (OSError, aioredis.RedisError) as error:
        raise Problem(f"redis.url is unreachable: {error}") from None
    finally:
        await client.aclose()
    return "redis.url reachable"


async def check_ports(config: Config) -> str:
    busy = []
    for setting, host, port in [
        ("http.port", config.http.host, config.http.port),
        ("ui.port", config.ui.host, config.ui.port),
        ("ftp.port", config.ftp.host, config.ftp.port),
    ]:
        try:
            bind(host, port, setting=setting).close()
        except PortInUse as error:
            busy.append(str(error))
    if busy:
        raise Problem("; ".join(busy) + " (if Addax itself is running, that is expected)")
    return "http, ui and ftp ports free"


async def check_libraries(_: Config) -> str:
    missing = []
    for module in (
        "aiohttp",
        "asyncpg",
        "arq",
        "nicegui",
        "argon2",
        "prometheus_client",
        "numpy",
        "onnxruntime",
        "aiosmtplib",
        "aiogram",
        "jinja2",
    ):
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise Problem(f"Python modules missing: {', '.join(missing)}: run `make install` (or pip install -e .)")
    return "all required modules import"


async def check_models(config: Config) -> str:
    """Each configured model opens and fits its family; no detector at all is a notice, not a failure."""
    said = []
    for kind, name in (("detector", config.models.detector), ("classifier", config.models.classifier)):
        try:
            manifest = pick_manifest(config.models_path, name, kind)
            if manifest is None:
                if kind == "detector":
                    raise Notice(NO_DETECTOR)
                said.append("no classifier")
                continue
            model = await asyncio.to_thread(open_model, manifest, config.models.providers)
        except (ManifestError, ModelError) as error:
            raise Problem(str(error)) from None
        said.append(f"{kind} {manifest.label} on {model.provider}")
    return "; ".join(said)


async def check_email(config: Config) -> str:
    if not config.smtp.host:
        raise Notice("no smtp.host: e-mail alerts are not sent (they are logged as failed, with why)")
    try:
        return await email.check_server(config.smtp)
    except DeliveryFailed as error:
        raise Problem(str(error)) from None


async def check_telegram(config: Config) -> str:
    if not config.telegram.bot_token:
        raise Notice("no telegram.bot_token: Telegram alerts are off (make a bot with @BotFather)")
    channel = TelegramChannel(config.telegram)
    try:
        return f"bot @{await channel.username()} at {config.telegram.api_base_url}"
    except DeliveryFailed as error:
        raise Problem(str(error)) from None
    finally:
        await channel.close()


async def check_objects(config: Config) -> str:
    """Write, read back and delete one small object in every tier: a bucket that lists but refuses writes fails."""
    probe = f"doctor/{uuid.uuid4().hex}"
    try:
        async with open_objects(config) as objects:
            await objects.put_bytes(probe, b"addax doctor")
            try:
                if await objects.read(probe) != b"addax doctor":
                    raise Problem(f"{objects.location}: an object read back differs from what was written")
            finally:
                await objects.delete(probe)
            return f"{objects.location}: write, read and delete work"
    except (ObjectStoreError, OSError) as error:
        raise Problem(str(error)) from None


CHECKS: list[tuple[str, Check]] = [
    ("python", check_python),
    ("libraries", check_libraries),
    ("data dir", check_data_dir),
    ("objects", check_objects),
    ("postgresql", check_postgres),
    ("redis", check_redis),
    ("ports", check_ports),
    ("models", check_models),
    ("e-mail", check_email),
    ("telegram", check_telegram),
]


async def run(config: Config) -> int:
    failures = 0
    for name, check in CHECKS:
        try:
            detail = await check(config)
            print(f"ok    {name:<11} {detail}")
        except Notice as notice:
            print(f"note  {name:<11} {notice}")
        except Problem as problem:
            failures += 1
            print(f"FAIL  {name:<11} {problem}")
    print("all checks passed" if not failures else f"{failures} check(s) failed")
    return 1 if failures else 0
