"""A small camera-trap world written straight into a running Addax's database and object store, for the
dashboard's tests: what intake and the pipeline would have stored, without waiting for them.

Two projects ("wolves" and "otters") with sites, cameras, deployments, health reports, users of every role,
and done photos in sequences with boxes, species, thumbnails and annotated images.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
from PIL import Image, ImageDraw

from addax.actors.finisher import derived_keys
from addax.domain.secrets import hash_password
from addax.store.object_fs import FilesystemObjectStore
from addax.store.objects import original_key

PASSWORD = "dashboard password"

SPECIES = {
    "roe deer": "Capreolus capreolus",
    "wild boar": "Sus scrofa",
    "red fox": "Vulpes vulpes",
    "wolf": "Canis lupus",
    "Eurasian otter": "Lutra lutra",
}
COLOURS = {"roe deer": "#8b5a2b", "wild boar": "#3b3b3b", "red fox": "#d2691e", "wolf": "#808080"}

# (camera, days ago, hour, what) -> one burst of three photos, 10 s apart
WOLVES_BURSTS = [
    ("gate-cam", 0, 6, "roe deer"),
    ("gate-cam", 0, 22, "wild boar"),
    ("gate-cam", 1, 5, "roe deer"),
    ("gate-cam", 1, 14, "person"),
    ("gate-cam", 1, 21, "roe deer"),
    ("gate-cam", 2, 3, "wolf"),
    ("gate-cam", 2, 19, "red fox"),
    ("gate-cam", 3, 7, "roe deer"),
    ("meadow-cam", 1, 4, "wild boar"),
    ("meadow-cam", 1, 20, "roe deer"),
    ("meadow-cam", 2, 2, "wolf"),
    ("meadow-cam", 3, 23, "red fox"),
]
OTTERS_BURSTS = [("river-cam", 0, 5, "Eurasian otter"), ("river-cam", 1, 23, "Eurasian otter")]


@dataclass
class World:
    wolves: int
    otters: int
    sites: dict[str, int] = field(default_factory=dict)
    cameras: dict[str, int] = field(default_factory=dict)
    users: dict[str, int] = field(default_factory=dict)
    #: image ids by (camera, days ago, what): the photos of those bursts (three each), in order
    bursts: dict[tuple[str, int, str], list[int]] = field(default_factory=dict)

    def photo(self, camera: str, days_ago: int, what: str) -> int:
        return self.bursts[(camera, days_ago, what)][0]


def picture(
    what: str, seed: int, *, size: tuple[int, int] = (640, 480), box: bool = False, taken: datetime | None = None
) -> bytes:
    """A JPEG that is different for every seed: a field, and a shape where the animal stands; ``taken``: the
    camera's clock in its EXIF, as a camera writes it (local time, no offset)."""
    image = Image.new("RGB", size, (70 + seed % 40, 110 + seed % 60, 60))
    draw = ImageDraw.Draw(image)
    width, height = size
    draw.rectangle((0, height * 2 // 3, width, height), fill=(90, 80 + seed % 30, 50))
    left, top = width * (2 + seed % 4) // 10, height * 4 // 10
    draw.ellipse((left, top, left + width // 4, top + height // 4), fill=COLOURS.get(what, "#2050c0"))
    if box:
        draw.rectangle((left, top, left + width // 4, top + height // 4), outline="#ffdd00", width=3)
    output = io.BytesIO()
    exif = Image.Exif()
    if taken is not None:
        exif[0x0132] = f"{taken:%Y:%m:%d %H:%M:%S}"  # DateTime
        exif.get_ifd(0x8769)[0x9003] = f"{taken:%Y:%m:%d %H:%M:%S}"  # DateTimeOriginal
    image.save(output, "JPEG", quality=80, exif=exif)
    return output.getvalue()


async def seed_world(dsn: str, objects: FilesystemObjectStore) -> World:
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            return await _seed(connection, objects)
    finally:
        await connection.close()


async def _seed(connection: asyncpg.Connection, objects: FilesystemObjectStore) -> World:
    wolves = await connection.fetchval(
        "INSERT INTO projects (name, timezone) VALUES ('wolves', 'Europe/Berlin') RETURNING id"
    )
    otters = await connection.fetchval("INSERT INTO projects (name, timezone) VALUES ('otters', 'UTC') RETURNING id")
    world = World(wolves=wolves, otters=otters)
    password_hash = hash_password(PASSWORD)
    for email, project, role in [
        ("root@example.org", None, None),
        ("admin@example.org", wolves, "project-admin"),
        ("annotator@example.org", wolves, "annotator"),
        ("viewer@example.org", wolves, "viewer"),
        ("otter@example.org", otters, "project-admin"),
    ]:
        user_id = await connection.fetchval(
            "INSERT INTO users (email, password_hash, is_server_admin) VALUES ($1, $2, $3) RETURNING id",
            email,
            password_hash,
            project is None,
        )
        world.users[email] = user_id
        if project is not None:
            await connection.execute(
                "INSERT INTO memberships (user_id, project_id, role) VALUES ($1, $2, $3)", user_id, project, role
            )
    for name, project, latitude, longitude in [
        ("North gate", wolves, 52.51, 13.38),
        ("South meadow", wolves, 52.49, 13.40),
        ("River bend", otters, 48.20, 16.37),
    ]:
        world.sites[name] = await connection.fetchval(
            """INSERT INTO sites (project_id, name, location)
               VALUES ($1, $2, ST_SetSRID(ST_MakePoint($4, $3), 4326)::geography) RETURNING id""",
            project,
            name,
            latitude,
            longitude,
        )
    today = datetime.now(UTC).date()
    deployments: dict[str, tuple[int, int | None]] = {}
    for name, project, site, status in [
        ("gate-cam", wolves, "North gate", "active"),
        ("meadow-cam", wolves, "South meadow", "active"),
        ("ridge-cam", wolves, None, "pending"),
        ("river-cam", otters, "River bend", "active"),
    ]:
        camera_id = await connection.fetchval(
            """INSERT INTO cameras (project_id, identity, identity_kind, name, make, model, status, last_location)
               VALUES ($1, $2, 'serial', $3, 'Browning', 'BTC-8E', $4,
                       (SELECT location FROM sites WHERE id = $5)) RETURNING id""",
            project,
            f"SN-{name}",
            name,
            status,
            world.sites.get(site) if site else None,
        )
        world.cameras[name] = camera_id
        if site is not None:
            deployment = await connection.fetchval(
                """INSERT INTO deployments (camera_id, site_id, location, starts_on)
                   VALUES ($1, $2, (SELECT location FROM sites WHERE id = $2), $3) RETURNING id""",
                camera_id,
                world.sites[site],
                today - timedelta(days=30),
            )
            deployments[name] = (deployment, world.sites[site])
            await _health_reports(connection, camera_id, today, battery_today={"meadow-cam": 12}.get(name, 30))
    number = 0
    for project, zone, bursts in [(wolves, "Europe/Berlin", WOLVES_BURSTS), (otters, "UTC", OTTERS_BURSTS)]:
        # "days ago" counts in the project's own zone, as the dashboard's Today and Yesterday do: late in the UTC
        # evening Berlin is already on the next day.
        local_today = datetime.now(ZoneInfo(zone)).date()
        for camera, days_ago, hour, what in bursts:
            # the hour is local too, so that a late burst stays on its day whatever the season's offset
            start = datetime.combine(local_today - timedelta(days=days_ago), time(hour), ZoneInfo(zone))
            deployment, site = deployments[camera]
            ids = []
            event_id = await connection.fetchval(
                """INSERT INTO events (project_id, camera_id, started_at, ended_at, image_count, label, taxon,
                                       common_name, score, max_count)
                   VALUES ($1, $2, $3, $4, 3, $5, $6, $7, 0.93, 1) RETURNING id""",
                project,
                world.cameras[camera],
                start,
                start + timedelta(seconds=20),
                "person" if what == "person" else "animal",
                SPECIES.get(what),
                None if what == "person" else what,
            )
            for shot in range(3):
                number += 1
                ids.append(
                    await _photo(
                        connection,
                        objects,
                        project=project,
                        camera_id=world.cameras[camera],
                        deployment=deployment,
                        site=site,
                        taken_at=start + timedelta(seconds=10 * shot),
                        what=what,
                        number=number,
                        event_id=event_id,
                    )
                )
            world.bursts.setdefault((camera, days_ago, what), []).extend(ids)
        await connection.execute(
            # A camera that sent today's status report was heard from this morning, whatever the hour the tests
            # run at; its photos alone could be more than a day old after 20:00 UTC.
            """UPDATE cameras c
               SET last_seen_at = GREATEST(
                   (SELECT max(received_at) FROM images i WHERE i.camera_id = c.id),
                   (SELECT now() - interval '1 hour' FROM camera_health_reports r
                    WHERE r.camera_id = c.id AND r.report_date = $2 LIMIT 1))
               WHERE project_id = $1""",
            project,
            today,
        )
    return world


async def _photo(
    connection: asyncpg.Connection,
    objects: FilesystemObjectStore,
    *,
    project: int,
    camera_id: int,
    deployment: int,
    site: int,
    taken_at: datetime,
    what: str,
    number: int,
    event_id: int,
) -> int:
    original = picture(what, number)
    sha = hashlib.sha256(original).hexdigest()
    key = original_key(project, sha, "jpg")
    await objects.put_bytes(key, original)
    image_id = await connection.fetchval(
        """INSERT INTO images (project_id, camera_id, deployment_id, site_id, stage, sha256, original_name, source,
                               size_bytes, width, height, taken_at, utc_offset_minutes, exif, original_key,
                               received_at, realtime, event_id)
           VALUES ($1, $2, $3, $4, 'received', decode($5, 'hex'), $6, 'ftp', $7, 640, 480, $8, $12, $9, $10, $8,
                   true, $11) RETURNING id""",
        project,
        camera_id,
        deployment,
        site,
        sha,
        f"IMG_{number:04d}.JPG",
        len(original),
        taken_at,
        json.dumps({"Make": "Browning", "Model": "BTC-8E", "DateTimeOriginal": f"{taken_at:%Y:%m:%d %H:%M:%S}"}),
        key,
        event_id,
        int(offset.total_seconds() // 60) if (offset := taken_at.utcoffset()) else 0,  # the camera's clock
    )
    label = "person" if what == "person" else "animal"
    detection = await connection.fetchval(
        """INSERT INTO detections (image_id, index, label, score, bbox, model)
           VALUES ($1, 0, $2, 0.93, $3, 'mdv5a') RETURNING id""",
        image_id,
        label,
        [0.2 + (number % 4) / 10, 0.4, 0.25, 0.25],
    )
    if what in SPECIES:
        alternatives = [name for name in SPECIES if name != what][:2]
        for rank, (name, score) in enumerate([(what, 0.88), (alternatives[0], 0.07), (alternatives[1], 0.03)], 1):
            await connection.execute(
                """INSERT INTO classifications (detection_id, taxon, common_name, score, model, rank)
                   VALUES ($1, $2, $3, $4, 'deepfaune', $5)""",
                detection,
                SPECIES[name],
                name,
                score,
                rank,
            )
    thumbnail_key, annotated_key = derived_keys(project, image_id)
    await objects.put_bytes(thumbnail_key, picture(what, number, size=(320, 240)))
    await objects.put_bytes(annotated_key, picture(what, number, box=True))
    await connection.execute(
        """UPDATE images SET stage = 'done', thumbnail_key = $2, annotated_key = $3, processed_at = received_at
           WHERE id = $1""",
        image_id,
        thumbnail_key,
        annotated_key,
    )
    return int(image_id)


async def _health_reports(connection: asyncpg.Connection, camera_id: int, today: date, *, battery_today: int) -> None:
    for days_ago in range(10):
        await connection.execute(
            """INSERT INTO camera_health_reports (camera_id, report_date, signal_csq, temperature_c, battery_pct,
                                                  sd_free_mb, sd_total_mb, pictures_taken, pictures_sent, raw)
               VALUES ($1, $2, $3, $4, $5, $6, 32000, 12, 12, 'seeded')""",
            camera_id,
            today - timedelta(days=days_ago),
            18 + days_ago % 5,
            8.0 + days_ago % 7,
            battery_today + 6 * days_ago,
            20000 - 800 * (10 - days_ago),
        )
