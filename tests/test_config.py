"""Config: defaults, a TOML file, ``ADDAX_<SECTION>_<KEY>`` overrides, and errors that name the key.

Every call passes ``environ`` explicitly so the real environment never leaks in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest

from addax import config
from addax.config import Config, ConfigError


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def empty_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a directory without a ``config.toml``, since ``load()`` looks in the working directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


# -- defaults and files --------------------------------------------------------------------------


def test_defaults_load_when_there_is_no_file(empty_dir: Path) -> None:
    settings = config.load(environ={})

    assert settings == Config()
    assert settings.http.port == 8080
    assert settings.ui.port == 8081
    assert settings.ftp.passive_ports == "30000-30049"
    assert settings.storage.backend == "fs"
    assert settings.storage.s3.bucket == "addax"
    assert settings.models.providers == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert settings.embedded_database and settings.embedded_redis
    assert settings.data_path == (empty_dir / "data").resolve()


def test_the_shipped_config_file_holds_the_defaults() -> None:
    assert config.load(Path(__file__).parents[1] / "config.toml", environ={}) == Config()


def test_settings_are_frozen(empty_dir: Path) -> None:
    settings = config.load(environ={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.http.port = 1  # type: ignore[misc]


def test_a_toml_file_in_the_working_directory_is_used(empty_dir: Path) -> None:
    write(empty_dir, "[http]\nport = 9000\n")
    assert config.load(environ={}).http.port == 9000


def test_values_from_a_toml_file_are_used(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [general]
        instance_name = "Kruger North"
        log_level = "DEBUG"

        [http]
        host = "127.0.0.1"
        port = 9000

        [ftp]
        passive_ports = "40000-40010"
        max_connections = 11

        [database]
        url = "postgresql://addax@db/addax"

        [storage]
        backend = "fs"
        hot_budget_gb = 5
        cold = "/srv/addax-cold"

        [storage.s3]
        bucket = "traps"

        [models]
        providers = ["CPUExecutionProvider"]

        [smtp]
        starttls = false
        """,
    )
    settings = config.load(path, environ={})

    assert settings.general.instance_name == "Kruger North"
    assert settings.general.log_level == "DEBUG"
    assert (settings.http.host, settings.http.port) == ("127.0.0.1", 9000)
    assert settings.ftp.passive_ports == "40000-40010"
    assert settings.database.url == "postgresql://addax@db/addax"
    assert not settings.embedded_database
    assert settings.storage.backend == "fs"
    assert settings.storage.hot_budget_gb == 5.0 and isinstance(settings.storage.hot_budget_gb, float)
    assert settings.storage.s3.bucket == "traps"
    assert settings.storage.s3.region == "us-east-1", "keys left out keep their defaults"
    assert settings.models.providers == ["CPUExecutionProvider"]
    assert settings.smtp.starttls is False
    assert settings.ui == config.Ui(), "sections left out keep their defaults"


def test_addax_config_names_the_file(tmp_path: Path, empty_dir: Path) -> None:
    path = write(tmp_path, "[http]\nport = 9100\n", name="elsewhere.toml")
    assert config.load(environ={"ADDAX_CONFIG": str(path)}).http.port == 9100


def test_an_explicitly_named_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="config file not found") as caught:
        config.load(missing, environ={})
    assert str(missing) in str(caught.value)


def test_a_missing_file_named_by_addax_config_is_an_error(tmp_path: Path, empty_dir: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(environ={"ADDAX_CONFIG": str(missing)})


def test_a_corrupt_toml_file_names_the_path(tmp_path: Path) -> None:
    path = write(tmp_path, "[http\nport = = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        config.load(path, environ={})
    assert str(path) in str(caught.value)


def test_a_file_that_is_not_utf8_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[general]\ninstance_name = "\xff\xfe"\n')
    with pytest.raises(ConfigError) as caught:
        config.load(path, environ={})
    assert str(path) in str(caught.value)


# -- environment overrides -----------------------------------------------------------------------


def test_environment_overrides_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[http]\nport = 9000\n\n[database]\nurl = "postgresql://file"\n')
    settings = config.load(
        path,
        environ={
            "ADDAX_HTTP_PORT": "9200",
            "ADDAX_DATABASE_URL": "postgresql://env@db/addax",
            "ADDAX_STORAGE_S3_BUCKET": "from-env",
            "ADDAX_STORAGE_HOT_BUDGET_GB": "2.5",
            "ADDAX_STORAGE_COLD": "/srv/addax-cold",
            "ADDAX_SMTP_STARTTLS": "false",
            "ADDAX_NOTIFICATIONS_ALLOWED_RECIPIENTS": "a@example.org, b@example.org,,",
        },
    )

    assert settings.http.port == 9200
    assert settings.database.url == "postgresql://env@db/addax"
    assert settings.storage.s3.bucket == "from-env"
    assert settings.storage.hot_budget_gb == 2.5
    assert settings.smtp.starttls is False
    assert settings.notifications.allowed_recipients == ["a@example.org", "b@example.org"]


def test_environment_overrides_apply_without_a_file(empty_dir: Path) -> None:
    settings = config.load(environ={"ADDAX_HTTP_PORT": "9300", "ADDAX_MODELS_PROVIDERS": "CPUExecutionProvider"})
    assert settings.http.port == 9300
    assert settings.models.providers == ["CPUExecutionProvider"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        *[(text, True) for text in ("1", "true", "Yes", " on ")],
        *[(text, False) for text in ("0", "FALSE", "no", "off", "")],
    ],
)
def test_boolean_environment_values(empty_dir: Path, text: str, expected: bool) -> None:
    assert config.load(environ={"ADDAX_NOTIFICATIONS_ENABLED": text}).notifications.enabled is expected


# -- bad values ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "key", "fragment"),
    [
        ({"ADDAX_HTTP_PORT": "abc"}, "http.port", "expected an integer, got 'abc'"),
        ({"ADDAX_HTTP_PORT": "70000"}, "http.port", "70000 is not a TCP port"),
        ({"ADDAX_UI_PORT": "0"}, "ui.port", "0 is not a TCP port"),
        ({"ADDAX_STORAGE_HOT_BUDGET_GB": "lots"}, "storage.hot_budget_gb", "expected a number"),
        ({"ADDAX_SMTP_STARTTLS": "maybe"}, "smtp.starttls", "expected true or false"),
        ({"ADDAX_FTP_PASSIVE_PORTS": "30050-30000"}, "ftp.passive_ports", "expected a range"),
        ({"ADDAX_STORAGE_BACKEND": "ftp"}, "storage.backend", "not one of fs"),
        ({"ADDAX_GENERAL_LOG_LEVEL": "LOUD"}, "general.log_level", "not one of"),
        ({"ADDAX_MODELS_BATCH_SIZE": "0"}, "models.batch_size", "at least 1"),
        ({"ADDAX_GENERAL_LOG_MAX_MB": "0"}, "general.log_max_mb", "at least 1"),
    ],
)
def test_bad_environment_values_name_the_key(empty_dir: Path, environ: dict[str, str], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config.load(environ=environ)
    message = str(caught.value)
    assert message.startswith(f"{key}:"), message
    assert fragment in message


@pytest.mark.parametrize(
    ("toml", "key", "fragment"),
    [
        ("[http]\nport = 70000\n", "http.port", "70000 is not a TCP port"),
        ('[http]\nport = "8080"\n', "http.port", "expected int, got '8080'"),
        ("[http]\nport = true\n", "http.port", "expected int"),
        ("[http]\nprot = 8080\n", "http.prot", "unknown setting"),
        ("[htp]\nport = 8080\n", "htp", "unknown setting"),
        ('[storage.s3]\nbukket = "x"\n', "storage.s3.bukket", "unknown setting"),
        ("http = 8080\n", "http", "expected a table"),
        ("[smtp]\nstarttls = 1\n", "smtp.starttls", "expected bool"),
        ("[storage]\nhot_budget_gb = true\n", "storage.hot_budget_gb", "expected float"),
        ("[general]\ninstance_name = 7\n", "general.instance_name", "expected str"),
        ('[models]\nproviders = "CPUExecutionProvider"\n', "models.providers", "expected a list of strings"),
        ("[models]\nproviders = [1, 2]\n", "models.providers", "expected a list of strings"),
        ('[ftp]\npassive_ports = "30000"\n', "ftp.passive_ports", "expected a range"),
        ('[ftp]\npassive_ports = "a-b"\n', "ftp.passive_ports", "expected a range"),
        ('[ftp]\npassive_ports = "0-10"\n', "ftp.passive_ports", "expected a range"),
        ('[ftp]\npassive_ports = "30000-70000"\n', "ftp.passive_ports", "expected a range"),
        ('[storage]\nbackend = "ftp"\n', "storage.backend", "'ftp' is not one of fs"),
        ("[database]\npool_size = 0\n", "database.pool_size", "at least 1"),
        ("[auth]\nmax_failures = 0\n", "auth.max_failures", "at least 1"),
        ('[ftp]\npassive_ports = "30000-30009"\n', "ftp.max_connections", "need as many passive ports"),
        ("[ftp]\nmax_connections_per_address = 0\n", "ftp.max_connections_per_address", "at least 1"),
        ("[ftp]\nlogin_timeout_s = 0\n", "ftp.login_timeout_s", "more than 0"),
        ("[ftp]\nrequire_close_notify = 1\n", "ftp.require_close_notify", "expected bool"),
        ("[general]\nlog_max_mb = 0\n", "general.log_max_mb", "at least 1"),
        ("[general]\nlog_keep = 0\n", "general.log_keep", "at least 1"),
        ('[general]\nlog_keep = "5"\n', "general.log_keep", "expected int"),
    ],
)
def test_bad_file_values_name_the_key(tmp_path: Path, toml: str, key: str, fragment: str) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(ConfigError) as caught:
        config.load(path, environ={})
    message = str(caught.value)
    assert message.startswith(f"{key}:"), message
    assert fragment in message


def test_an_environment_override_is_validated_even_when_the_file_is_fine(tmp_path: Path) -> None:
    path = write(tmp_path, "[http]\nport = 9000\n")
    with pytest.raises(ConfigError, match=r"^http\.port: expected an integer"):
        config.load(path, environ={"ADDAX_HTTP_PORT": "nine thousand"})


def test_odd_digits_in_passive_ports_give_a_config_error(empty_dir: Path) -> None:
    with pytest.raises(ConfigError, match=r"^ftp\.passive_ports:"):
        config.load(environ={"ADDAX_FTP_PASSIVE_PORTS": "30000-3²"})


@pytest.mark.parametrize(
    ("environ", "fragment"),
    [
        ({"ADDAX_STORAGE_BACKEND": "gcs"}, "storage.backend: 'gcs' is not one of fs, s3"),
        ({"ADDAX_STORAGE_HOT_BUDGET_GB": "5"}, "storage.hot_budget_gb: set storage.cold too"),
        ({"ADDAX_STORAGE_COLD": "fs"}, "storage.cold: must be another place than the hot store"),
        ({"ADDAX_STORAGE_S3_MULTIPART_MB": "4"}, "storage.s3.multipart_mb: S3's smallest part is 5 MB"),
        ({"ADDAX_STORAGE_SIGNED_URL_DAYS": "30"}, "storage.signed_url_days: S3 signs links for 1 to 7 days"),
        ({"ADDAX_STORAGE_EXPORT_MEDIA": "links"}, "storage.export_media: 'links' is not one of url, zip"),
        ({"ADDAX_BACKUP_AT": "2:30am"}, "backup.at: expected a time like 02:30"),
        ({"ADDAX_BACKUP_KEEP_DAILY": "0"}, "backup.keep_daily: keep at least 1"),
        ({"ADDAX_HTTP_CERT_FILE": "/etc/addax/http.crt"}, "http.cert_file and http.key_file: set both"),
        ({"ADDAX_FTP_KEY_FILE": "/etc/addax/ftp.key"}, "ftp.cert_file and ftp.key_file: set both"),
        ({"ADDAX_FTP_PASSIVE_ADDRESS": "ftp.example.org"}, "ftp.passive_address: expected an IPv4 address"),
    ],
)
def test_settings_that_would_be_silently_ignored_are_refused(
    empty_dir: Path, environ: dict[str, str], fragment: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        config.load(environ=environ)
    assert fragment in str(refused.value)


def test_an_s3_store_with_a_cold_prefix_and_a_nightly_backup_is_accepted(empty_dir: Path) -> None:
    settings = config.load(
        environ={
            "ADDAX_STORAGE_BACKEND": "s3",
            "ADDAX_STORAGE_COLD": "s3://archive/addax",
            "ADDAX_STORAGE_HOT_BUDGET_GB": "200",
            "ADDAX_BACKUP_AT": "03:15",
            "ADDAX_BACKUP_TARGET": "s3://backups/addax",
        }
    )
    assert (settings.storage.backend, settings.storage.cold, settings.storage.hot_budget_gb) == (
        "s3",
        "s3://archive/addax",
        200.0,
    )
    assert (settings.backup.at, settings.backup.target) == ("03:15", "s3://backups/addax")


def test_a_passive_address_for_nat_is_accepted(empty_dir: Path) -> None:
    assert config.load(environ={"ADDAX_FTP_PASSIVE_ADDRESS": "203.0.113.7"}).ftp.passive_address == "203.0.113.7"


@pytest.mark.parametrize(
    ("variable", "read"),
    [
        ("ADDAX_STORAGE_S3_SECRET_KEY", lambda settings: settings.storage.s3.secret_key),
        ("ADDAX_UI_STORAGE_SECRET", lambda settings: settings.ui.storage_secret),
        ("ADDAX_SMTP_PASSWORD", lambda settings: settings.smtp.password),
        ("ADDAX_TELEGRAM_BOT_TOKEN", lambda settings: settings.telegram.bot_token),
        ("ADDAX_DATABASE_URL", lambda settings: settings.database.url),
        ("ADDAX_REDIS_URL", lambda settings: settings.redis.url),
    ],
)
def test_no_secret_is_in_the_settings_repr(empty_dir: Path, variable: str, read: Callable[[Config], str]) -> None:
    secret = "postgresql://addax:wJalrXUtnFEMI-very-secret@db/addax"
    if "REDIS" in variable:
        secret = "redis://:wJalrXUtnFEMI-very-secret@cache:6379/0"
    settings = config.load(environ={variable: secret})
    assert read(settings) == secret
    assert "very-secret" not in repr(settings) and "very-secret" not in str(settings)


@pytest.mark.parametrize(
    ("target", "cold", "backend"),
    [
        ("{data}", "", "fs"),  # its pool "objects/" would be the object store itself: rotation deletes photos
        ("{data}/objects/backups", "", "fs"),
        ("{data}/cold/backups", "{data}/cold", "fs"),
        ("{tmp}", "{tmp}/cold", "fs"),
        ("s3://photos/backups", "", "s3"),  # inside the bucket the photos are in
        ("s3://archive", "s3://archive/cold", "fs"),
        ("s3://archive/cold", "s3://archive/cold", "fs"),
    ],
)
def test_a_backup_target_inside_or_around_an_object_store_is_refused(
    tmp_path: Path, target: str, cold: str, backend: str
) -> None:
    """Backing up into what is backed up copies the backups into themselves, and rotation would delete objects."""
    data = tmp_path / "data"
    environ = {
        "ADDAX_GENERAL_DATA_DIR": str(data),
        "ADDAX_BACKUP_TARGET": target.format(data=data, tmp=tmp_path),
        "ADDAX_STORAGE_COLD": cold.format(data=data, tmp=tmp_path),
        "ADDAX_STORAGE_BACKEND": backend,
        "ADDAX_STORAGE_S3_BUCKET": "photos",
    }
    with pytest.raises(ConfigError, match=r"^backup\.target: .* overlap"):
        config.load(environ=environ)


@pytest.mark.parametrize(
    ("target", "cold", "backend"),
    [
        ("", "", "fs"),
        ("{tmp}/backups", "{tmp}/cold", "fs"),
        ("s3://photos-backup", "", "s3"),
        ("s3://a/b2", "s3://a/b", "fs"),
    ],
)
def test_a_backup_target_beside_the_object_stores_is_fine(tmp_path: Path, target: str, cold: str, backend: str) -> None:
    environ = {
        "ADDAX_GENERAL_DATA_DIR": str(tmp_path / "data"),
        "ADDAX_BACKUP_TARGET": target.format(tmp=tmp_path),
        "ADDAX_STORAGE_COLD": cold.format(tmp=tmp_path),
        "ADDAX_STORAGE_BACKEND": backend,
        "ADDAX_STORAGE_S3_BUCKET": "photos",
    }
    assert config.load(environ=environ).backup.target == environ["ADDAX_BACKUP_TARGET"]
