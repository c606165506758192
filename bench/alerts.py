"""Alert latency: from the end of an upload to the e-mail at the SMTP server and the photo at Telegram.

Run from the repository root (it uses the helpers under tests/):

    .venv/bin/python -m bench.alerts [--photos 100] [--burst 100] [--cameras 10]

One `addax run` (tests/service.py) with a small detector on CPU (tests/models/graphs.py, 64 px input, one
animal box in every photo), its SMTP settings pointing at an aiosmtpd server and its Telegram API at the
stand-in (tests/mail_server.py, tests/telegram_standin.py), both in this process on a loop of their own.
Project "bench" has sequence_gap_s = 0, so every photo is an event of its own and alerts on its own; the
first admin has one rule (every animal, e-mail and Telegram) and a linked chat.

Four runs, each over fresh photos (1920x1080 Willfine JPEGs, made first, untimed):
1. ``--photos`` uploaded one after another over the HTTP upload API, each after the last one's alerts came;
2. the same over FTPS (Python's FTP_TLS, one session);
3. a burst: ``--burst`` photos from ``--cameras`` cameras at once, one HTTP client per camera;
4. the same burst over FTPS, one session per camera.

Latency of a photo: the end of its upload (the HTTP answer, or the FTP 226) to the moment the mail server had
the whole mail, and to the moment the stand-in had the whole sendPhoto request (both stamped by the servers).
A notification's Message-ID names it; its row names the image, whose file name names the upload. CPU: user +
system time of `addax run` (all its threads) and of its PostgreSQL over the run, per photo: in a burst the
last photo waits for the work of those before it, so that is what a burst's latency is made of.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.ingest import Usage, usage
from tests.actors.ftps import client
from tests.background_servers import BackgroundServers
from tests.conftest import world_readable_tempdir
from tests.domain.jpeg_factory import trail_photo
from tests.models.graphs import FakeBox, detector_model
from tests.service import AddaxProcess, environment, free_port_range

PASSWORD = "bench upload password"
CHAT_ID = 777
ANIMAL = FakeBox(32, 32, 16, 8, 0, 0.9)


def start(home: Path, servers: BackgroundServers) -> AddaxProcess:
    addax = AddaxProcess(home=home, env=environment())
    smtp, bot = servers.mail.settings(), servers.telegram.settings()
    addax.env.update(
        {
            "ADDAX_MODELS_BATCH_WAIT_MS": "5",
            "ADDAX_HTTP_PUBLIC_URL": "https://bench.example.org",  # the captions link the image: a photo's id
            "ADDAX_FTP_PASSIVE_PORTS": free_port_range(50),
            "ADDAX_SMTP_HOST": smtp.host,
            "ADDAX_SMTP_PORT": str(smtp.port),
            "ADDAX_SMTP_FROM_ADDRESS": smtp.from_address,
            "ADDAX_SMTP_STARTTLS": "false",
            "ADDAX_TELEGRAM_BOT_TOKEN": bot.bot_token,
            "ADDAX_TELEGRAM_API_BASE_URL": bot.api_base_url,
        }
    )
    detector_model(home / "models", boxes=[ANIMAL], name="md")
    addax.start()
    addax.wait_healthy()
    for args, stdin in (
        (("project", "add", "bench"), ""),
        (("project", "set", "bench", "--sequence-gap-s", "0"), ""),
        (("ftp-user", "add", "cam", "--project", "bench", "--password-stdin"), PASSWORD + "\n"),
    ):
        result = addax.cli(*args, stdin=stdin)
        if result.returncode != 0:
            raise SystemExit(f"addax {' '.join(args)} failed: {result.stderr}")
    return addax


def login(addax: AddaxProcess) -> tuple[str, str]:
    """(bearer token of the first admin, device token of project bench); the rule and the chat are set."""
    device = addax.cli("token", "add", "bench-gateway", "--project", "bench").stdout.strip().splitlines()[-1]
    body = json.dumps({"email": "admin@localhost", "password": addax.first_admin_password()}).encode()
    token = _post(addax, "/api/auth/token", body, {"Content-Type": "application/json"})["token"]
    rule = {"project": "bench", "name": "every animal", "labels": ["animal"], "channels": ["email", "telegram"]}
    _post(
        addax,
        "/api/alert-rules",
        json.dumps(rule).encode(),
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )
    addax.query(f"INSERT INTO telegram_links (user_id, chat_id) SELECT id, {CHAT_ID} FROM users")
    return token, device


def _post(addax: AddaxProcess, path: str, body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{addax.http_port}{path}", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"{}")


def upload_http(addax: AddaxProcess, device: str, files: Sequence[Path], ended: dict[str, float]) -> None:
    for path in files:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + path.read_bytes()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        _post(
            addax,
            "/api/v1/upload",
            body,
            {"X-API-Token": device, "Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        ended[path.name] = time.time()


def upload_ftps(addax: AddaxProcess, _device: str, files: Sequence[Path], ended: dict[str, float]) -> None:
    ftp = client(int(addax.env["ADDAX_FTP_PORT"]), "cam", PASSWORD)
    try:
        for path in files:
            with path.open("rb") as data:
                ftp.storbinary(f"STOR {path.name}", data)
            ended[path.name] = time.time()
    finally:
        ftp.quit()


Uploader = Callable[[AddaxProcess, str, Sequence[Path], dict[str, float]], None]


def make_photos(folder: Path, first_shot: int, count: int, cameras: int) -> list[Path]:
    """``count`` photos of ``cameras`` cameras, each camera's shots from ``first_shot`` on (30 s apart): no two
    runs share a camera and a time, so every photo is an event of its own."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(first_shot * cameras, first_shot * cameras + count):
        name, data = trail_photo(index, cameras)
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def alerted(addax: AddaxProcess) -> int:
    return int(addax.value("SELECT count(*) FROM notifications WHERE status = 'sent'") or 0)  # type: ignore[arg-type]


def one_by_one(addax: AddaxProcess, device: str, upload: Uploader, files: list[Path]) -> dict[str, float]:
    ended: dict[str, float] = {}
    for path in files:
        before = alerted(addax)
        upload(addax, device, [path], ended)
        addax.wait_for(lambda before=before: alerted(addax) >= before + 2, timeout=60, what="both alerts")
    return ended


def burst(addax: AddaxProcess, device: str, upload: Uploader, files: list[Path], cameras: int) -> dict[str, float]:
    ended: dict[str, float] = {}
    expected = alerted(addax) + 2 * len(files)
    by_camera = [files[camera::cameras] for camera in range(cameras)]
    with ThreadPoolExecutor(cameras) as pool:
        for done in [pool.submit(upload, addax, device, mine, ended) for mine in by_camera]:
            done.result()
    addax.wait_for(lambda: alerted(addax) >= expected, timeout=600, what="every alert of the burst")
    return ended


def latencies(
    addax: AddaxProcess, servers: BackgroundServers, ended: dict[str, float]
) -> tuple[list[float], list[float]]:
    mails, photos = servers.arrivals()
    rows = addax.query(
        """SELECT n.id, n.channel, i.id AS image_id, i.original_name FROM notifications n
           JOIN images i ON i.id = n.image_id WHERE n.status = 'sent'"""
    )
    names = {row["image_id"]: row["original_name"] for row in rows}
    to_mail = [
        mails[row["id"]] - ended[row["original_name"]]
        for row in rows
        if row["channel"] == "email" and row["original_name"] in ended and row["id"] in mails
    ]
    to_telegram = [at - ended[names[image_id]] for image_id, at in photos.items() if names.get(image_id) in ended]
    return to_mail, to_telegram


def row(label: str, mail: list[float], telegram: list[float], cpu: Usage, count: int) -> dict[str, Any]:
    def cut(values: list[float], q: float) -> str:
        if not values:
            return "-"
        ordered = sorted(values)
        return f"{ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000:.0f}"

    return {
        "run": label,
        "photos": len(mail),
        "mail p50 ms": cut(mail, 0.5),
        "mail p95 ms": cut(mail, 0.95),
        "mail max ms": cut(mail, 1.0),
        "telegram p50 ms": cut(telegram, 0.5),
        "telegram p95 ms": cut(telegram, 0.95),
        "telegram max ms": cut(telegram, 1.0),
        "mean ms": f"{statistics.fmean(mail + telegram) * 1000:.0f}" if mail else "-",
        "addax CPU ms/photo": f"{cpu.cpu_s * 1000 / count:.0f}",
        "PostgreSQL CPU ms/photo": f"{cpu.pg_cpu_s * 1000 / count:.0f}",
    }


def table(rows: list[dict[str, Any]]) -> str:
    keys = list(rows[0])
    widths = {key: max(len(key), *(len(str(r[key])) for r in rows)) for key in keys}
    lines = [" | ".join(key.ljust(widths[key]) for key in keys)]
    lines.append("-+-".join("-" * widths[key] for key in keys))
    lines += [" | ".join(str(r[key]).ljust(widths[key]) for key in keys) for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=100, help="photos sent one by one, per protocol")
    parser.add_argument("--burst", type=int, default=100, help="photos of each burst")
    parser.add_argument("--cameras", type=int, default=10, help="cameras (concurrent uploaders) of a burst")
    args = parser.parse_args()
    home = world_readable_tempdir("addax-bench-alerts-")
    servers = BackgroundServers(home / "certs")
    addax = start(home, servers)
    rows = []
    try:
        _, device = login(addax)
        first = 0
        runs: list[tuple[str, Callable[[list[Path]], dict[str, float]], int, int]] = [
            ("one by one, HTTP", lambda f: one_by_one(addax, device, upload_http, f), args.photos, 1),
            ("one by one, FTPS", lambda f: one_by_one(addax, device, upload_ftps, f), args.photos, 1),
            (
                f"burst, {args.cameras} cameras, HTTP",
                lambda f: burst(addax, device, upload_http, f, args.cameras),
                args.burst,
                args.cameras,
            ),
            (
                f"burst, {args.cameras} cameras, FTPS",
                lambda f: burst(addax, device, upload_ftps, f, args.cameras),
                args.burst,
                args.cameras,
            ),
        ]
        for label, run, count, cameras in runs:
            files = make_photos(home / "photos" / str(first), first, count, cameras)
            first += -(-count // cameras)  # the next run's shots come after this run's last
            before = usage(addax)
            ended = run(files)
            after = usage(addax)
            spent = Usage(0, 0, 0, after.cpu_s - before.cpu_s, after.pg_cpu_s - before.pg_cpu_s)
            rows.append(row(label, *latencies(addax, servers, ended), spent, count))
            print(table(rows[-1:]), flush=True)
        print("\nalert latency: end of upload -> mail at the SMTP server / sendPhoto at the Telegram stand-in")
        print(table(rows))
    finally:
        addax.stop()
        servers.stop()


if __name__ == "__main__":
    main()
