"""Camtrap DP export: rows/s, seconds, zip size and peak RSS for projects of N images with detections; then a
backup (pg_dump + every object hashed and copied) and a restore into a fresh data dir, timed and sized.

    python -m bench.export [--images 10000 100000] [--no-backup]

Starts Addax's embedded PostgreSQL in a temporary directory; for each N, a fresh migrated database is filled in
bulk (images by COPY; events, boxes, species and verifications by INSERT ... SELECT): photos in events of three,
two cameras at two sites, 60 % with an animal box and its species, 5 % a person, one in 19 verified. Each export
runs in a child process (``--child``), so its peak RSS (VmHWM) is the export's alone. Media are written as links
(``export_media = "url"``): the bench measures the rows, not copying files.
Goal: peak RSS independent of the project's size (within 50 MB between 10,000 and 100,000 images).
For the backup each image gets a 4 KB original in a directory store (written directly, not measured): the
figures are the database's and the per-object costs, not a disk's throughput on real 500 KB photos.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from addax.embedded.postgres import EmbeddedPostgres
from addax.runtime import Supervisor
from addax.store.migrations import migrate
from tests.conftest import world_readable_tempdir

TAXA = [("Capreolus capreolus", "roe deer"), ("Sus scrofa", "wild boar"), ("Vulpes vulpes", "red fox")]


async def fill(dsn: str, images: int) -> int:
    connection = await asyncpg.connect(dsn)
    try:
        await migrate(connection)
        project = await connection.fetchval(
            "INSERT INTO projects (name, timezone) VALUES ('bench', 'Europe/Berlin') RETURNING id"
        )
        placed = []
        for number, (latitude, longitude) in enumerate([(52.51, 13.38), (52.49, 13.40)]):
            site = await connection.fetchval(
                """INSERT INTO sites (project_id, name, location)
                   VALUES ($1, $2, ST_SetSRID(ST_MakePoint($4, $3), 4326)::geography) RETURNING id""",
                project,
                f"site {number}",
                latitude,
                longitude,
            )
            camera = await connection.fetchval(
                """INSERT INTO cameras (project_id, identity, identity_kind, name, make, model)
                   VALUES ($1, $2, 'serial', $2, 'Browning', 'BTC-8E') RETURNING id""",
                project,
                f"SN-{number}",
            )
            deployment = await connection.fetchval(
                """INSERT INTO deployments (camera_id, site_id, location, starts_on)
                   VALUES ($1, $2, (SELECT location FROM sites WHERE id = $2), '2023-01-01') RETURNING id""",
                camera,
                site,
            )
            placed.append((camera, deployment, site))
        start = datetime(2023, 1, 1, tzinfo=UTC)
        records = []
        for number in range(images):
            camera, deployment, site = placed[(number // 21) % 2]
            taken = start + timedelta(seconds=(number // 3) * 600 + (number % 3) * 10)
            sha = hashlib.sha256(number.to_bytes(8, "big")).digest()
            records.append(
                (
                    project,
                    camera,
                    deployment,
                    site,
                    "photo",
                    "done",
                    sha,
                    f"IMG_{number:06d}.JPG",
                    "ftp",
                    250_000,
                    taken,
                    60,
                    f"originals/{project}/{sha.hex()[:2]}/{sha.hex()}.jpg",
                    taken,
                )
            )
        await connection.copy_records_to_table(
            "images",
            records=records,
            columns=[
                "project_id",
                "camera_id",
                "deployment_id",
                "site_id",
                "kind",
                "stage",
                "sha256",
                "original_name",
                "source",
                "size_bytes",
                "taken_at",
                "utc_offset_minutes",
                "original_key",
                "processed_at",
            ],
        )
        # events of three photos (runs of 21 photos per camera keep each event on one camera), by hash joins
        async with connection.transaction():
            await connection.execute(
                """CREATE TEMP TABLE plan ON COMMIT DROP AS
                   SELECT id, (row_number() OVER (ORDER BY id) - 1) / 3 AS g, camera_id, taken_at
                     FROM images WHERE project_id = $1""",
                project,
            )
            await connection.execute(
                """CREATE TEMP TABLE made ON COMMIT DROP AS
                   SELECT g, nextval(pg_get_serial_sequence('events', 'id')) AS event_id, min(camera_id) AS camera_id,
                          min(taken_at) AS started_at, max(taken_at) AS ended_at, count(*) AS photos
                     FROM plan GROUP BY g"""
            )
            await connection.execute(
                """INSERT INTO events (id, project_id, camera_id, started_at, ended_at, image_count)
                   OVERRIDING SYSTEM VALUE
                   SELECT event_id, $1, camera_id, started_at, ended_at, photos FROM made""",
                project,
            )
            await connection.execute(
                "UPDATE images i SET event_id = m.event_id FROM plan p JOIN made m USING (g) WHERE i.id = p.id"
            )
        await connection.execute(
            """INSERT INTO detections (image_id, index, label, score, bbox, model)
               SELECT id, 0, CASE WHEN id % 20 = 0 THEN 'person' ELSE 'animal' END::detection_label, 0.9,
                      ARRAY[0.1 + (id % 5) / 10.0, 0.2, 0.3, 0.4]::real[], 'mdv5a'
                 FROM images WHERE project_id = $1 AND id % 20 < 12""",
            project,
        )
        await connection.execute(
            """INSERT INTO classifications (detection_id, taxon, common_name, score, model, rank)
               SELECT d.id, ($2::text[])[1 + d.image_id % 3], ($3::text[])[1 + d.image_id % 3], 0.85, 'deepfaune', 1
                 FROM detections d JOIN images i ON i.id = d.image_id WHERE i.project_id = $1 AND d.label = 'animal'""",
            project,
            [t for t, _ in TAXA],
            [c for _, c in TAXA],
        )
        await connection.execute(
            """INSERT INTO verifications (image_id, boxes, verified_at)
               SELECT id, '[{"detection": null, "label": "animal", "taxon": "Vulpes vulpes", "count": 1,
                            "bbox": null}]'::jsonb, now()
                 FROM images WHERE project_id = $1 AND id % 19 = 0""",
            project,
        )
        await connection.execute("ANALYZE")
        return int(project)
    finally:
        await connection.close()


async def child(dsn: str, project: int, out: Path) -> None:
    """One export, measured from inside: prints a JSON line."""
    from addax.store.camtrap_export import MediaLinks, Request, open_export
    from addax.store.database import create_pool
    from addax.store.object_fs import FilesystemObjectStore

    pool = await create_pool(dsn, size=2)
    objects = FilesystemObjectStore(out.parent / "objects")
    began = time.perf_counter()
    request = Request(project_id=project, links=MediaLinks(mode="url", public_url="https://addax.example.org"))
    with out.open("wb") as sink:

        async def write(data: bytes) -> None:
            await asyncio.to_thread(sink.write, data)

        async with open_export(pool, request) as export:
            tally = await export.write(write, objects=objects)
    seconds = time.perf_counter() - began
    await pool.close()
    peak_kb = next(
        int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:")
    )
    print(
        json.dumps(
            {
                "media": tally.media,
                "observations": tally.observations,
                "seconds": seconds,
                "zip_bytes": out.stat().st_size,
                "peak_rss_mb": peak_kb / 1024,
            }
        )
    )


def write_originals(dsn: str, objects: Path) -> int:
    """A 4 KB stand-in at every original's key (random bytes: a copy is a copy, not compressible)."""

    async def keys() -> list[str]:
        connection = await asyncpg.connect(dsn)
        try:
            return [row["original_key"] for row in await connection.fetch("SELECT original_key FROM images")]
        finally:
            await connection.close()

    written = 0
    for key in asyncio.run(keys()):
        path = objects / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(4096))
        written += 1
    return written


async def backup_child(dsn: str, data_dir: Path) -> None:
    """One backup and one restore of it, measured from inside: prints a JSON line."""
    from addax import backup_service, config

    settings = config.load(
        None, environ={"ADDAX_GENERAL_DATA_DIR": str(data_dir), "ADDAX_BACKUP_TARGET": str(data_dir.parent / "backups")}
    )
    made = await backup_service.back_up(settings, dsn=dsn)
    backed_up = time.perf_counter()
    restored_dir = data_dir.parent / f"restored-{data_dir.name}"
    restored = await backup_service.restore(settings, made.info.name, restored_dir)
    restore_s = time.perf_counter() - backed_up
    peak_kb = next(
        int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:")
    )
    target = data_dir.parent / "backups"
    print(
        json.dumps(
            {
                "backup_s": made.seconds,
                "backup_mb": sum(p.stat().st_size for p in target.rglob("*") if p.is_file()) / 2**20,
                "dump_mb": (target / made.info.name / "database.dump").stat().st_size / 2**20,
                "objects": restored.objects.count,
                "restore_s": restore_s,
                "backup_restore_peak_rss_mb": peak_kb / 1024,
            }
        )
    )


async def serve(home: Path, sizes: list[int], *, backup: bool) -> list[dict[str, float]]:
    results = []
    async with Supervisor(stop_timeout=30) as supervisor:
        postgres = EmbeddedPostgres(data_dir=home / "servers")
        await supervisor.start(postgres)
        for size in sizes:
            admin = await asyncpg.connect(postgres.dsn)
            await admin.execute(f"CREATE DATABASE bench_{size}")  # a number of ours, not input
            await admin.close()
            dsn = postgres.dsn.replace("/addax?", f"/bench_{size}?")
            began = time.perf_counter()
            project = await fill(dsn, size)
            print(f"{size} images filled in {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
            done = await asyncio.to_thread(
                subprocess.run,
                [sys.executable, "-m", "bench.export", "--child", dsn, str(project), str(home / f"{size}.zip")],
                capture_output=True,
                text=True,
                check=True,
            )
            result = json.loads(done.stdout.strip().splitlines()[-1])
            if backup:
                data_dir = home / f"data-{size}"
                await asyncio.to_thread(write_originals, dsn, data_dir / "objects")
                done = await asyncio.to_thread(
                    subprocess.run,
                    [sys.executable, "-m", "bench.export", "--backup-child", dsn, str(data_dir)],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                result |= json.loads(done.stdout.strip().splitlines()[-1])
                shutil.rmtree(data_dir.parent / f"restored-{data_dir.name}", ignore_errors=True)
            results.append({"images": size, **result})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--no-backup", action="store_true", help="export only")
    parser.add_argument("--child", nargs=3, metavar=("DSN", "PROJECT", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--backup-child", nargs=2, metavar=("DSN", "DATA_DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        asyncio.run(child(args.child[0], int(args.child[1]), Path(args.child[2])))
        return
    if args.backup_child:
        asyncio.run(backup_child(args.backup_child[0], Path(args.backup_child[1])))
        return
    home = world_readable_tempdir("addax-bench-export-")
    try:
        results = asyncio.run(serve(home, args.images, backup=not args.no_backup))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"{'images':>8} {'media':>8} {'observ.':>8} {'seconds':>8} {'rows/s':>8} {'zip MB':>7} {'peak RSS MB':>11}")
    for row in results:
        rows = row["media"] + row["observations"]
        print(
            f"{row['images']:>8} {row['media']:>8} {row['observations']:>8} {row['seconds']:>8.1f}"
            f" {rows / row['seconds']:>8.0f} {row['zip_bytes'] / 2**20:>7.1f} {row['peak_rss_mb']:>11.1f}"
        )
    if len(results) > 1:
        print(
            f"peak RSS grew {results[-1]['peak_rss_mb'] - results[0]['peak_rss_mb']:.1f} MB"
            f" from {results[0]['images']} to {results[-1]['images']} images (goal: under 50)"
        )
    if not args.no_backup:
        print()
        print(
            f"{'images':>8} {'backup s':>9} {'backup MB':>10} {'dump MB':>8} {'objects':>8}"
            f" {'restore s':>10} {'peak RSS MB':>11}"
        )
        for row in results:
            print(
                f"{row['images']:>8} {row['backup_s']:>9.1f} {row['backup_mb']:>10.1f} {row['dump_mb']:>8.1f}"
                f" {row['objects']:>8} {row['restore_s']:>10.1f} {row['backup_restore_peak_rss_mb']:>11.1f}"
            )


if __name__ == "__main__":
    main()
