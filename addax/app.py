"""Builds and runs the whole service from a :class:`Config`.

Start order (the supervisor stops them in reverse):

    postgres* ─► redis* ─► database° (pool + migrations) ─► queue° (arq/Redis) ─► ingestor ─► ftp
        ─► relay ─► detector-model ─► detector ─► classifier-model ─► classifier ─► finisher
        ─► courier ─► notifier ─► telegram* ─► scheduler ─► http ─► ui
    (* the embedded servers only when no database.url / redis.url is configured, the Telegram bot only with a
    telegram.bot_token; ° resources, not actors)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import time as dt_time
from datetime import timedelta
from pathlib import Path

import asyncpg
from arq.connections import ArqRedis

from addax import backup_service
from addax.actors.ftp import FtpActor, SessionLimits
from addax.actors.ingestor import Ingestor
from addax.actors.scheduler import NightlyBackup
from addax.alerting import Alerting, start_alerting
from addax.api import ApiServices, build_api
from addax.config import Config
from addax.domain.secrets import hash_password, new_password
from addax.embedded.common import LogRotation, ensure_writable, exclusive_data_dir, socket_directory
from addax.embedded.postgres import EmbeddedPostgres, dsn_for
from addax.embedded.redis import EmbeddedRedis
from addax.embedded.redis import socket_path as redis_socket
from addax.object_storage import open_objects, ping
from addax.pipeline import Pipeline, analyse, start_pipeline, worker_name
from addax.runtime import RestartBudget, Supervisor
from addax.runtime.broadcast import Broadcast
from addax.runtime.servers import AiohttpServer, AsgiServer
from addax.store import accounts, database, queue, reprocess
from addax.store.logins import LoginGuard, LoginPolicy
from addax.store.objects import ObjectStore
from addax.store.receiving import Receiver
from addax.store.spool import Spool
from addax.tls import persistent_secret, server_context
from addax.ui import UiServices, build_ui

log = logging.getLogger("addax")

FIRST_ADMIN_EMAIL = "admin@localhost"


@dataclass(frozen=True, slots=True)
class Storage:
    """The running storage services, for whatever is wired on top of them."""

    pool: asyncpg.Pool
    redis: ArqRedis
    spool: Spool
    objects: ObjectStore
    events: Broadcast
    redis_url: str
    dsn: str


def log_rotation(config: Config) -> LogRotation:
    """How the embedded servers' logs are kept small."""
    return LogRotation(max_bytes=config.general.log_max_mb * 1024 * 1024, keep=config.general.log_keep)


async def start_storage(supervisor: Supervisor, config: Config) -> Storage:
    """Start PostgreSQL and Redis (embedded unless URLs are configured) and connect to both."""
    dsn, redis_url = config.database.url, config.redis.url
    if config.embedded_database:
        postgres = EmbeddedPostgres(
            data_dir=config.data_path,
            bin_dir=config.database.bin_dir,
            user=config.database.embedded_user,
            log_rotation=log_rotation(config),
        )
        await supervisor.start(postgres)
        dsn = postgres.dsn
    if config.embedded_redis:
        redis_server = EmbeddedRedis(
            data_dir=config.data_path, server_bin=config.redis.server_bin, log_rotation=log_rotation(config)
        )
        await supervisor.start(redis_server)
        redis_url = redis_server.url
    pool = await supervisor.use(
        "database", database.open_database(dsn, pool_size=config.database.pool_size), probe=database.ping
    )
    redis = await supervisor.use("queue", queue.open_queue(redis_url), probe=queue.ping)
    spool = Spool(config.data_path / "spool")
    objects = await supervisor.use("objects", open_objects(config), probe=ping)
    return Storage(
        pool=pool, redis=redis, spool=spool, objects=objects, events=Broadcast(), redis_url=redis_url, dsn=dsn
    )


async def start_intake(supervisor: Supervisor, config: Config, storage: Storage, logins: LoginGuard) -> Receiver:
    """The ingestor, the receiver that feeds it (for every arrival path), then the FTPS server."""
    pool = storage.pool
    ingestor = Ingestor(
        pool=pool,
        spool=storage.spool,
        objects=storage.objects,
        max_file_mb=config.ftp.max_file_mb,
        publish=storage.events.publish,
    )
    await supervisor.start(ingestor)
    receiver = Receiver(
        spool=storage.spool,
        deliver=ingestor.send,
        max_bytes=config.ftp.max_file_mb * 2**20,
        min_free_bytes=config.ftp.min_free_mb * 2**20,
    )
    ftp = config.ftp
    low, high = (int(part) for part in ftp.passive_ports.split("-"))
    await supervisor.start(
        FtpActor(
            host=ftp.host,
            port=ftp.port,
            passive_ports=range(low, high + 1),
            tls=lambda: server_context(ftp.cert_file, ftp.key_file, data_dir=config.data_path),
            data_dir=config.data_path,
            receiver=receiver,
            accounts=lambda name: accounts.upload_account(pool, name),
            logins=logins,
            limits=SessionLimits(
                max_connections=ftp.max_connections,
                max_per_address=ftp.max_connections_per_address,
                login_timeout_s=ftp.login_timeout_s,
                idle_timeout_s=ftp.idle_timeout_s,
                require_close_notify=ftp.require_close_notify,
            ),
            passive_address=ftp.passive_address,
        )
    )
    return receiver


def nightly_backup(config: Config, storage: Storage) -> NightlyBackup | None:
    """The scheduler's nightly backup at ``backup.at`` (server-local), unless that is empty."""
    if not config.backup.at:
        return None
    return NightlyBackup(
        run=backup_service.nightly(config, dsn=storage.dsn, objects=storage.objects),
        at=dt_time.fromisoformat(config.backup.at),
        zone=backup_service.server_zone(),
    )


def login_guard(config: Config, pool: asyncpg.Pool) -> LoginGuard:
    """One lock for every door: API, dashboard and FTPS share failures and lockouts."""
    policy = LoginPolicy(
        max_failures=config.auth.max_failures,
        window_s=config.auth.failure_window_s,
        failure_delay_s=config.auth.failure_delay_s,
    )
    return LoginGuard(pool=pool, policy=policy)


async def start_web(
    supervisor: Supervisor,
    config: Config,
    storage: Storage,
    logins: LoginGuard,
    receiver: Receiver,
    pipeline: Pipeline,
    alerting: Alerting,
) -> None:
    """Start the HTTP API and the dashboard."""
    api = ApiServices(
        pool=storage.pool,
        supervisor=supervisor,
        logins=logins,
        token_ttl=timedelta(hours=config.auth.token_ttl_hours),
        receiver=receiver,
        objects=storage.objects,
        events=storage.events,
        instance_name=config.general.instance_name,
        analyse=lambda data, threshold: analyse(pipeline, data, threshold=threshold),
        detect_queue_limit=config.models.detect_queue_limit,
        telegram_username=alerting.telegram_username,
        enqueue_deliveries=alerting.enqueue,
        telegram_update=alerting.telegram_update,
        try_rule=alerting.try_rule,
        export_media=config.storage.export_media,
        public_url=config.http.public_url,
        signed_url_s=config.storage.signed_url_days * 86400,
    )
    https = config.http.tls or bool(config.http.cert_file)
    await supervisor.start(
        AiohttpServer(
            name="http",
            app=lambda: build_api(api),
            host=config.http.host,
            port=config.http.port,
            setting="http.port",
            tls=(
                lambda: server_context(
                    config.http.cert_file, config.http.key_file, data_dir=config.data_path, section="http"
                )
            )
            if https
            else None,
        )
    )
    dashboard = build_ui(
        UiServices(
            logins=logins,
            health=supervisor.health,
            storage_dir=config.data_path / "ui",
            storage_secret=config.ui.storage_secret or persistent_secret(config.data_path / "ui-secret"),
            pool=storage.pool,
            objects=storage.objects,
            events=storage.events,
            instance_name=config.general.instance_name,
            map_tiles=config.ui.map_tiles,
            map_attribution=config.ui.map_attribution,
            telegram_username=alerting.telegram_username,
            try_rule=alerting.try_rule,
            enqueue_deliveries=alerting.enqueue,
            reprocess_rejection=lambda image_id, by: _reprocess(storage, receiver, image_id, by),
            email_ready=bool(config.smtp.host and config.smtp.from_address),
        )
    )
    await supervisor.start(
        AsgiServer(name="ui", app=dashboard, host=config.ui.host, port=config.ui.port, setting="ui.port")
    )


async def _reprocess(storage: Storage, receiver: Receiver, image_id: int, by: str) -> bool:
    return await reprocess.release(storage.pool, storage.objects, receiver, image_id, by=by) is not None


async def ensure_first_admin(pool: asyncpg.Pool) -> None:
    """On the very first start there is nobody to log in: create one server admin, say its password once."""
    if await accounts.count_users(pool):
        return
    password = new_password()
    password_hash = await asyncio.to_thread(hash_password, password)
    try:
        await accounts.add_user(
            pool, FIRST_ADMIN_EMAIL, password_hash, role=accounts.Role.SERVER_ADMIN, project=None, by="system"
        )
    except accounts.AccountError:
        return  # another process created it first
    log.warning(
        "created the first server admin; this password is shown only once, change it after logging in",
        extra={"email": FIRST_ADMIN_EMAIL, "password": password},
    )


def private_data_dir(path: Path) -> None:
    """Photos and secrets are not for other local users; the database's own user may still pass through."""
    try:
        path.chmod(0o711)
    except PermissionError:
        log.warning("cannot restrict the data directory's permissions", extra={"dir": str(path)})


@contextlib.asynccontextmanager
async def stop_signals() -> AsyncIterator[asyncio.Event]:
    """An event set by SIGTERM or SIGINT while the block runs."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        yield stop
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def until_stopped(supervisor: Supervisor, stop: asyncio.Event) -> None:
    """Wait for a stop signal or for the supervisor to escalate (its restart budget spent)."""
    escalated = asyncio.ensure_future(supervisor.wait_escalated())
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([escalated, stopped], return_when=asyncio.FIRST_COMPLETED)
    finally:
        escalated.cancel()
        stopped.cancel()


async def run(config: Config) -> int:
    """Run the service until SIGTERM/SIGINT (exit 0) or until the restart budget is spent (exit 1)."""
    started = time.monotonic()
    ensure_writable(config.data_path)
    private_data_dir(config.data_path)
    with exclusive_data_dir(config.data_path):
        return await _run(config, started)


async def _run(config: Config, started: float) -> int:
    budget = RestartBudget(max_restarts=10, over_seconds=60)
    async with stop_signals() as stop, Supervisor(budget=budget, stop_timeout=30) as supervisor:
        storage = await start_storage(supervisor, config)
        await ensure_first_admin(storage.pool)
        logins = login_guard(config, storage.pool)
        receiver = await start_intake(supervisor, config, storage, logins)
        pipeline = await start_pipeline(
            supervisor,
            config,
            pool=storage.pool,
            objects=storage.objects,
            worker=worker_name("run"),
            publish=storage.events.publish,
        )
        alerting = await start_alerting(
            supervisor,
            config,
            pool=storage.pool,
            redis=storage.redis,
            redis_url=storage.redis_url,
            objects=storage.objects,
            done=pipeline.done,
            backup=nightly_backup(config, storage),
        )
        await start_web(supervisor, config, storage, logins, receiver, pipeline, alerting)
        log.info(
            "addax is running",
            extra={
                "startup_s": round(time.monotonic() - started, 2),
                "api": f"http://{config.http.host}:{config.http.port}",
                "dashboard": f"http://{config.ui.host}:{config.ui.port}",
            },
        )
        await until_stopped(supervisor, stop)
        log.info("stopping", extra={"reason": "restart budget spent" if supervisor.escalated else "signal"})
    log.info("stopped")
    return 1 if supervisor.escalated else 0


async def run_worker(config: Config, roles: tuple[str, ...]) -> int:
    """``addax worker``: pipeline stages in a process of their own, against the service's database and store.

    With the embedded database it joins the cluster of the ``addax run`` on this data dir (which must be
    running); with ``database.url`` it can run on any machine that reaches the database and the object store.
    """
    dsn = config.database.url or dsn_for(socket_directory(config.data_path), 5432)
    budget = RestartBudget(max_restarts=10, over_seconds=60)
    async with stop_signals() as stop, Supervisor(budget=budget, stop_timeout=30) as supervisor:
        pool = await supervisor.use(
            "database", database.open_database(dsn, pool_size=config.database.pool_size), probe=database.ping
        )
        objects = await supervisor.use("objects", open_objects(config), probe=ping)
        pipeline = await start_pipeline(
            supervisor,
            config,
            pool=pool,
            objects=objects,
            roles=roles,
            worker=worker_name("worker"),
            relay_events=False,
        )
        if "notify" in roles:
            redis_url = config.redis.url or f"unix://{redis_socket(config.data_path)}"
            redis = await supervisor.use("queue", queue.open_queue(redis_url), probe=queue.ping)
            await start_alerting(
                supervisor,
                config,
                pool=pool,
                redis=redis,
                redis_url=redis_url,
                objects=objects,
                done=pipeline.done,
                service=False,
            )
        log.info("worker is running", extra={"roles": list(roles)})
        await until_stopped(supervisor, stop)
    return 1 if supervisor.escalated else 0
