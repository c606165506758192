"""Typed settings: ``config.toml`` plus ``ADDAX_<SECTION>_<KEY>`` environment overrides.

Everything is validated once, at start-up; a bad value raises :class:`ConfigError` naming the key,
and the CLI prints that one line and exits. The objects are frozen and passed down explicitly.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(Exception):
    """A setting is missing, unknown or has a bad value. The message names the key."""


@dataclass(frozen=True, slots=True)
class General:
    data_dir: str = "data"
    instance_name: str = "Addax"
    timezone: str = "UTC"
    log_level: str = "INFO"
    log_max_mb: int = 50
    log_keep: int = 5


@dataclass(frozen=True, slots=True)
class Http:
    host: str = "0.0.0.0"
    port: int = 8080
    public_url: str = ""
    tls: bool = False
    cert_file: str = ""
    key_file: str = ""


OSM_TILES = "https://{s}.tile.openstreetmap.org/{z}/{x}/{y}.png"
OSM_ATTRIBUTION = "&copy; OpenStreetMap contributors"


@dataclass(frozen=True, slots=True)
class Ui:
    host: str = "0.0.0.0"
    port: int = 8081
    storage_secret: str = field(default="", repr=False)  # signs session cookies
    map_tiles: str = OSM_TILES  # Leaflet tile URL template; point it at your own tile server if you have one
    map_attribution: str = OSM_ATTRIBUTION


@dataclass(frozen=True, slots=True)
class Ftp:
    host: str = "0.0.0.0"
    port: int = 2121
    passive_ports: str = "30000-30049"
    passive_address: str = ""
    cert_file: str = ""
    key_file: str = ""
    max_connections: int = 50
    max_connections_per_address: int = 16
    login_timeout_s: float = 30.0
    idle_timeout_s: float = 300.0
    require_close_notify: bool = True
    max_file_mb: int = 50
    min_free_mb: int = 512


@dataclass(frozen=True, slots=True)
class Database:
    url: str = field(default="", repr=False)  # may carry the password
    bin_dir: str = ""
    embedded_user: str = "addax"
    pool_size: int = 20  # ingestor, three pipeline stages, the relay and the API share it


@dataclass(frozen=True, slots=True)
class Redis:
    url: str = field(default="", repr=False)  # may carry the password
    server_bin: str = "redis-server"


@dataclass(frozen=True, slots=True)
class S3:
    endpoint_url: str = ""
    bucket: str = "addax"
    access_key: str = ""
    secret_key: str = field(default="", repr=False)  # never in a log line or a traceback
    region: str = "us-east-1"
    multipart_mb: int = 16  # larger files go up in parts of this size (5 is S3's smallest part)


@dataclass(frozen=True, slots=True)
class Storage:
    backend: str = "fs"
    # 0: no budget. Above it the oldest fully processed originals move to the cold tier (storage.cold).
    hot_budget_gb: float = 0.0
    # The cold tier: "" (none), a directory, or "s3://bucket/prefix" on storage.s3's endpoint with its keys.
    cold: str = ""
    # Camtrap DP media paths: "zip" (the files inside the package) or "url" (links signed for signed_url_days).
    export_media: str = "zip"
    signed_url_days: int = 7
    s3: S3 = field(default_factory=S3)


@dataclass(frozen=True, slots=True)
class Backup:
    # A directory ("" is data_dir/backups) or "s3://bucket/prefix" on storage.s3's endpoint.
    target: str = ""
    at: str = "02:30"  # server-local time of the nightly backup; "" turns it off
    keep_daily: int = 7
    keep_weekly: int = 4


@dataclass(frozen=True, slots=True)
class Models:
    dir: str = "models"
    detector: str = ""
    classifier: str = ""
    batch_size: int = 8
    batch_wait_ms: int = 50
    providers: list[str] = field(default_factory=lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    prepare_threads: int = 0  # threads decoding and letterboxing photos; 0: one per core
    detect_queue_limit: int = 32  # /api/v1/detect images waiting for the model before 503 + Retry-After


@dataclass(frozen=True, slots=True)
class Smtp:
    host: str = ""
    port: int = 587
    username: str = ""
    password: str = field(default="", repr=False)
    from_address: str = ""
    starttls: bool = True  # upgrade a plain connection (port 587); ignored with tls
    tls: bool = False  # implicit TLS from the first byte (port 465)
    ca_file: str = ""  # trust this CA (PEM) instead of the system's, for a private mail server
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class Telegram:
    bot_token: str = field(default="", repr=False)  # whoever has it is the bot
    api_base_url: str = "https://api.telegram.org"
    poll_timeout_s: int = 30  # long polling: how long one getUpdates waits for news
    webhook: bool = False  # receive updates on http.public_url instead of polling (needs a public HTTPS URL)


@dataclass(frozen=True, slots=True)
class Notifications:
    enabled: bool = True  # false: rules still match and are logged, nothing is sent
    allowed_recipients: list[str] = field(default_factory=list)  # when set: only these e-mails / chat ids get mail
    max_attempts: int = 5  # deliveries; then a dead letter
    retry_base_s: float = 5.0  # first retry after this, doubling
    disk_path: str = ""  # the disk watched for the admin alerts (default: general.data_dir)


@dataclass(frozen=True, slots=True)
class Auth:
    max_failures: int = 10
    failure_window_s: int = 300
    failure_delay_s: float = 1.0
    token_ttl_hours: int = 24 * 7


@dataclass(frozen=True, slots=True)
class Config:
    general: General = field(default_factory=General)
    http: Http = field(default_factory=Http)
    ui: Ui = field(default_factory=Ui)
    ftp: Ftp = field(default_factory=Ftp)
    database: Database = field(default_factory=Database)
    redis: Redis = field(default_factory=Redis)
    storage: Storage = field(default_factory=Storage)
    backup: Backup = field(default_factory=Backup)
    models: Models = field(default_factory=Models)
    smtp: Smtp = field(default_factory=Smtp)
    telegram: Telegram = field(default_factory=Telegram)
    notifications: Notifications = field(default_factory=Notifications)
    auth: Auth = field(default_factory=Auth)

    @property
    def data_path(self) -> Path:
        return Path(self.general.data_dir).resolve()

    @property
    def models_path(self) -> Path:
        return Path(self.models.dir).resolve()

    @property
    def embedded_database(self) -> bool:
        return not self.database.url

    @property
    def embedded_redis(self) -> bool:
        return not self.redis.url


PORT_KEYS = {"http.port", "ui.port", "ftp.port", "smtp.port"}
AT_LEAST_ONE = (
    "general.log_max_mb",
    "general.log_keep",
    "models.batch_size",
    "models.detect_queue_limit",
    "database.pool_size",
    "auth.max_failures",
    "ftp.max_connections",
    "ftp.max_connections_per_address",
    "ftp.max_file_mb",
    "notifications.max_attempts",
    "telegram.poll_timeout_s",
)
CHOICES = {
    "storage.backend": {"fs", "s3"},
    "storage.export_media": {"zip", "url"},
    "general.log_level": {"DEBUG", "INFO", "WARNING", "ERROR"},
}


def load(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Read ``path`` (if it exists or was named explicitly), apply ``ADDAX_*`` overrides, validate."""
    environ = os.environ if environ is None else environ
    raw: dict[str, Any] = {}
    explicit = path is not None or "ADDAX_CONFIG" in environ
    config_path = Path(path or environ.get("ADDAX_CONFIG", "config.toml"))
    if config_path.exists():
        try:
            raw = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
            raise ConfigError(f"{config_path}: not valid TOML: {error}") from error
        except OSError as error:
            raise ConfigError(f"{config_path}: cannot read the config file: {error.strerror}") from error
    elif explicit:
        raise ConfigError(f"{config_path}: config file not found")
    config: Config = _build(Config, raw, prefix="", environ=environ)
    _validate(config)
    return config


def _build(cls: type[Any], raw: Mapping[str, Any], *, prefix: str, environ: Mapping[str, str]) -> Any:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a table")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in known:
            raise ConfigError(f"{prefix}{key}: unknown setting")
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = f"{prefix}{f.name}"
        hint = hints[f.name]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            values[f.name] = _build(hint, raw.get(f.name, {}), prefix=f"{key}.", environ=environ)
            continue
        env_name = "ADDAX_" + key.replace(".", "_").upper()
        if env_name in environ:
            values[f.name] = _from_env(key, hint, environ[env_name])
        elif f.name in raw:
            values[f.name] = _coerce(key, hint, raw[f.name])
    return cls(**values)


def _from_env(key: str, hint: Any, text: str) -> Any:
    if hint is bool:
        lowered = text.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ConfigError(f"{key}: expected true or false, got {text!r}")
    if typing.get_origin(hint) is list:
        return [item.strip() for item in text.split(",") if item.strip()]
    if hint in (int, float):
        try:
            return hint(text)
        except ValueError:
            raise ConfigError(f"{key}: expected {'an integer' if hint is int else 'a number'}, got {text!r}") from None
    return text


def _coerce(key: str, hint: Any, value: Any) -> Any:
    if typing.get_origin(hint) is list:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ConfigError(f"{key}: expected a list of strings, got {value!r}")
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    expected = hint if isinstance(hint, type) and not isinstance(hint, types.GenericAlias) else object
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ConfigError(f"{key}: expected {expected.__name__}, got {value!r}")
    return value


def _validate_storage(config: Config) -> None:
    storage, backup = config.storage, config.backup
    if storage.s3.multipart_mb < 5:
        raise ConfigError(f"storage.s3.multipart_mb: S3's smallest part is 5 MB, got {storage.s3.multipart_mb}")
    if storage.hot_budget_gb < 0:
        raise ConfigError(f"storage.hot_budget_gb: must be 0 (no budget) or more, got {storage.hot_budget_gb}")
    if storage.hot_budget_gb > 0 and not storage.cold:
        raise ConfigError("storage.hot_budget_gb: set storage.cold too (where the oldest originals go)")
    if storage.cold and storage.cold in (storage.backend, "fs"):
        raise ConfigError("storage.cold: must be another place than the hot store")
    if storage.signed_url_days < 1 or storage.signed_url_days > 7:
        raise ConfigError(f"storage.signed_url_days: S3 signs links for 1 to 7 days, got {storage.signed_url_days}")
    if backup.keep_daily < 1 or backup.keep_weekly < 0:
        raise ConfigError("backup.keep_daily: keep at least 1 daily backup; backup.keep_weekly: 0 or more")
    if backup.at and not _is_clock_time(backup.at):
        raise ConfigError(f"backup.at: expected a time like 02:30 (or empty for no nightly backup), got {backup.at!r}")
    _validate_backup_target(config)


def _validate_backup_target(config: Config) -> None:
    """The backup target must lie outside every object store, and hold none: a backup copied into what it backs
    up grows without end, and the target's pool of copies ("objects/") would be the store's own objects."""
    target = _place(config, config.backup.target or str(config.data_path / "backups"))
    stores = [config.storage.backend] + ([config.storage.cold] if config.storage.cold else [])
    for store in stores:
        place = _place(config, store)
        if place[0] == target[0] and _nested(place[1], target[1]):
            raise ConfigError(
                f"backup.target: {config.backup.target or target[1]} and the object store {store} ({place[1] or '/'}) "
                "overlap: choose a backup target outside the stores (and not around them)"
            )


def _place(config: Config, where: str) -> tuple[str, str]:
    """Where a store or target is: ("fs", an absolute path) or ("s3://bucket", a prefix without slashes)."""
    if where == "fs":
        return "fs", str(config.data_path / "objects")
    if where == "s3":
        return f"s3://{config.storage.s3.bucket}", ""
    if where.startswith("s3://"):
        bucket, _, prefix = where.removeprefix("s3://").partition("/")
        return f"s3://{bucket}", prefix.strip("/")
    return "fs", str(Path(where).expanduser().resolve())


def _nested(a: str, b: str) -> bool:
    """One path (or key prefix) is the other or inside it; "" is the root, around everything."""
    a, b = a.rstrip("/"), b.rstrip("/")
    return not a or not b or a == b or a.startswith(b + "/") or b.startswith(a + "/")


def _is_clock_time(text: str) -> bool:
    hours, _, minutes = text.partition(":")
    return hours.isdigit() and minutes.isdigit() and int(hours) < 24 and int(minutes) < 60 and len(minutes) == 2


def _validate(config: Config) -> None:
    for key in PORT_KEYS:
        section, name = key.split(".")
        port = getattr(getattr(config, section), name)
        if not 0 < port < 65536:
            raise ConfigError(f"{key}: {port} is not a TCP port (1-65535)")
    for key, allowed in CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(sorted(allowed))}")
    _validate_ftp(config.ftp)
    for section in ("http", "ftp"):
        settings = getattr(config, section)
        if bool(settings.cert_file) != bool(settings.key_file):
            raise ConfigError(f"{section}.cert_file and {section}.key_file: set both, or neither")
    _validate_storage(config)
    if config.telegram.webhook and not config.http.public_url.startswith("https://"):
        raise ConfigError("telegram.webhook: Telegram posts only to HTTPS; set http.public_url to https://...")
    for key in AT_LEAST_ONE:
        section, name = key.split(".")
        value = getattr(getattr(config, section), name)
        if value < 1:
            raise ConfigError(f"{key}: must be at least 1, got {value}")


def _validate_ftp(ftp: Ftp) -> None:
    low, _, high = ftp.passive_ports.partition("-")
    if not (
        low.isascii() and low.isdigit() and high.isascii() and high.isdigit() and 0 < int(low) <= int(high) < 65536
    ):
        raise ConfigError(f"ftp.passive_ports: expected a range like 30000-30049, got {ftp.passive_ports!r}")
    passive = int(high) - int(low) + 1
    if ftp.max_connections > passive:
        raise ConfigError(
            f"ftp.max_connections: {ftp.max_connections} sessions need as many passive ports, but ftp.passive_ports"
            f" has {passive}; widen the range or lower max_connections"
        )
    for key in ("login_timeout_s", "idle_timeout_s"):
        if getattr(ftp, key) <= 0:
            raise ConfigError(f"ftp.{key}: must be more than 0, got {getattr(ftp, key)}")
    if ftp.passive_address:
        try:
            ipaddress.IPv4Address(ftp.passive_address)
        except ValueError:
            raise ConfigError(f"ftp.passive_address: expected an IPv4 address, got {ftp.passive_address!r}") from None
