"""A small project for the Camtrap DP export tests, written straight into the database and an object store.

"wolves" (Europe/Berlin, threshold 0.5): two sites, three cameras, photos with boxes and species in events
formed as the finisher forms them (every finished photo, the project's 60 s gap),
a verified photo (the person says red fox, two of them, where the model said roe deer), a photo verified blank,
people, a video, a photo not through detection yet, a weak box, a rejected file and a deployment without a
location; "otters" next door with a member of its own.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from PIL import Image

from addax.domain.sequences import BoxSeen, photo_evidence
from addax.store import events
from addax.store.objects import ObjectStore, original_key

T0 = datetime(2024, 5, 10, 4, 0, tzinfo=UTC)  # 06:00 in Berlin
THRESHOLD, GAP_S = 0.5, 60  # the project's defaults (detection_threshold, sequence_gap_s)
NAMES = {"Capreolus capreolus": "roe deer", "Sus scrofa": "wild boar"}


def media_bytes(text: str, *, video: bool) -> bytes:
    """A real JPEG (or MPEG-4 video) of its own, as intake and import accept: ``text`` makes it unique."""
    colour = tuple(hashlib.sha256(text.encode()).digest()[:3])
    if not video:
        output = io.BytesIO()
        Image.new("RGB", (64, 48), colour).save(output, "JPEG", comment=text.encode())
        return output.getvalue()
    import av  # slow to import: only the one video needs it

    output = io.BytesIO()
    with av.open(output, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for packet in [*stream.encode(av.VideoFrame.from_image(Image.new("RGB", (64, 48), colour))), *stream.encode()]:
            container.mux(packet)
    return output.getvalue()


@dataclass
class World:
    wolves: int
    otters: int
    users: dict[str, int] = field(default_factory=dict)
    images: dict[str, int] = field(default_factory=dict)  # by a name of the test's
    sha: dict[str, str] = field(default_factory=dict)
    originals: dict[str, bytes] = field(default_factory=dict)  # by sha256 hex


async def seed(connection: asyncpg.Connection, objects: ObjectStore, *, password_hash: str = "x") -> World:
    wolves = await connection.fetchval(
        "INSERT INTO projects (name, timezone) VALUES ('wolves', 'Europe/Berlin') RETURNING id"
    )
    otters = await connection.fetchval("INSERT INTO projects (name) VALUES ('otters') RETURNING id")
    world = World(wolves, otters)
    for email, project, role in [
        ("admin@example.org", wolves, "project-admin"),
        ("annotator@example.org", wolves, "annotator"),
        ("viewer@example.org", wolves, "viewer"),
        ("otter@example.org", otters, "project-admin"),
    ]:
        world.users[email] = await connection.fetchval(
            "INSERT INTO users (email, password_hash) VALUES ($1, $2) RETURNING id", email, password_hash
        )
        await connection.execute(
            "INSERT INTO memberships (user_id, project_id, role) VALUES ($1, $2, $3)", world.users[email], project, role
        )
    sites = {}
    for name, latitude, longitude in [("North gate", 52.51, 13.38), ("South meadow", 52.49, 13.40)]:
        sites[name] = await connection.fetchval(
            """INSERT INTO sites (project_id, name, location)
               VALUES ($1, $2, ST_SetSRID(ST_MakePoint($4, $3), 4326)::geography) RETURNING id""",
            wolves,
            name,
            latitude,
            longitude,
        )
    cameras, deployments = {}, {}
    for name, site, starts, ends in [
        ("gate-cam", "North gate", date(2024, 5, 1), None),
        ("meadow-cam", "South meadow", date(2024, 5, 1), date(2024, 5, 20)),
        ("lost-cam", None, date(2024, 5, 1), None),
    ]:
        cameras[name] = await connection.fetchval(
            """INSERT INTO cameras (project_id, identity, identity_kind, name, make, model, status)
               VALUES ($1, $2, 'serial', $3, 'Browning', 'BTC-8E', 'active') RETURNING id""",
            wolves,
            f"SN-{name}",
            name,
        )
        deployments[name] = await connection.fetchval(
            """INSERT INTO deployments (camera_id, site_id, location, starts_on, ends_on)
               VALUES ($1, $2, (SELECT location FROM sites WHERE id = $2), $3, $4) RETURNING id""",
            cameras[name],
            sites.get(site),
            starts,
            ends,
        )
    await connection.execute("INSERT INTO camera_tags (camera_id, tag) VALUES ($1, 'fence')", cameras["gate-cam"])

    async def photo(name: str, camera: str, taken: datetime | None, **options: Any) -> int:
        data = media_bytes(f"{name} {options}", video=options.get("kind") == "video")
        sha = hashlib.sha256(data).hexdigest()
        key = original_key(wolves, sha, "mp4" if options.get("kind") == "video" else "jpg")
        await objects.put_bytes(key, data)
        image_id = await connection.fetchval(
            """INSERT INTO images (project_id, camera_id, deployment_id, kind, stage, sha256, original_name, source,
                                   size_bytes, taken_at, utc_offset_minutes, exif, original_key, processed_at)
               VALUES ($1, $2, $3, $4, 'received', decode($5, 'hex'), $6, 'ftp', $7, $8, $9, $10, $11, $8)
               RETURNING id""",
            wolves,
            cameras[camera],
            deployments[camera],
            options.get("kind", "photo"),
            sha,
            options.get("file", f"IMG_{name}.JPG"),
            len(data),
            taken,
            options.get("offset", 120),
            {"Make": "Browning"},
            key,
        )
        boxes = options.get("boxes", [])
        for index, (label, score, bbox, taxon) in enumerate(boxes):
            detection = await connection.fetchval(
                """INSERT INTO detections (image_id, index, label, score, bbox, model, frame_offset_s)
                   VALUES ($1, $2, $3, $4, $5, 'mdv5a', $6) RETURNING id""",
                image_id,
                index,
                label,
                score,
                bbox,
                1.5 if options.get("kind") == "video" else None,
            )
            if taxon:
                await connection.execute(
                    """INSERT INTO classifications (detection_id, taxon, common_name, score, model, rank)
                       VALUES ($1, $2, $3, 0.88, 'deepfaune', 1)""",
                    detection,
                    taxon,
                    NAMES.get(taxon),
                )
        await connection.execute("UPDATE images SET stage = $2 WHERE id = $1", image_id, options.get("stage", "done"))
        if options.get("stage", "done") == "done" and taken is not None:  # as the finisher: every finished photo
            # joins its camera's event (events are what intake makes of them, so an import rebuilds the same)
            seen = [BoxSeen(label, score, taxon, NAMES.get(taxon or "")) for label, score, _, taxon in boxes]
            await events.join_event(
                connection,
                image_id=image_id,
                project_id=wolves,
                camera_id=cameras[camera],
                taken_at=taken,
                gap_s=GAP_S,
                evidence=photo_evidence(seen, THRESHOLD),
            )
        world.images[name], world.sha[name], world.originals[sha] = image_id, sha, data
        return int(image_id)

    deer = [("animal", 0.93, [0.2, 0.4, 0.25, 0.25], "Capreolus capreolus")]
    for shot in range(3):
        await photo(f"deer{shot}", "gate-cam", T0 + timedelta(seconds=10 * shot), boxes=deer)
    fox_box = {
        "detection": 0,
        "label": "animal",
        "taxon": "Vulpes vulpes",
        "common_name": "red fox",
        "count": 2,
        "bbox": [0.1, 0.2, 0.3, 0.4],
    }
    await connection.execute(
        """INSERT INTO verifications (image_id, boxes, notes, verified_by, verified_at)
           VALUES ($1, $2, 'two foxes, not a deer', $3, '2024-05-11T08:00:00Z')""",
        world.images["deer1"],
        [fox_box],
        world.users["annotator@example.org"],
    )
    await connection.execute(
        "UPDATE images SET verified = true, taxa = '{Vulpes vulpes}' WHERE id = $1", world.images["deer1"]
    )
    for shot in range(2):
        await photo(
            f"person{shot}",
            "meadow-cam",
            T0 + timedelta(days=2, seconds=5 * shot),
            boxes=[("person", 0.9, [0.5, 0.1, 0.2, 0.6], None)],
        )
    await photo("empty", "gate-cam", T0 + timedelta(days=3), boxes=[])
    await photo(
        "weak", "gate-cam", T0 + timedelta(days=3, hours=1), boxes=[("animal", 0.3, [0.1, 0.1, 0.1, 0.1], None)]
    )
    await photo("waiting", "gate-cam", T0 + timedelta(days=5), stage="stored")
    await photo(
        "boar",
        "meadow-cam",
        T0 + timedelta(days=6),
        offset=None,
        file="../../etc/passwd",
        boxes=[("animal", 0.8, [0.6, 0.5, 0.5, 0.6], "Sus scrofa")],
    )
    await connection.execute(
        """INSERT INTO verifications (image_id, blank, verified_by, verified_at)
           VALUES ($1, true, $2, '2024-05-17T08:00:00Z')""",
        world.images["boar"],
        world.users["admin@example.org"],
    )
    await connection.execute("UPDATE images SET verified = true, taxa = '{}' WHERE id = $1", world.images["boar"])
    await photo(
        "video",
        "gate-cam",
        T0 + timedelta(days=7),
        kind="video",
        file="VID_0001.MP4",
        boxes=[("animal", 0.7, [0.3, 0.3, 0.2, 0.2], "Sus scrofa")],
    )
    await photo("rejected", "gate-cam", T0 + timedelta(days=4), stage="rejected")
    await photo("lost", "lost-cam", T0 + timedelta(days=4), boxes=deer)
    return world
