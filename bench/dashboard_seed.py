"""Fill one project of the dashboard's small world (tests/ui/seed.py) with many done photos, fast, in SQL.

Every row is what the pipeline would have left: stage 'done', original, thumbnail and annotated keys that exist in
the object store (a few hundred distinct JPEGs, reused by key), events of three photos 10 s apart, and the
summary columns of migration 008 (labels, taxa, best_score, verified) written as its trigger would. Of the
events 60 % show an animal (one box, three ranked species: roe deer 25 %, wild boar 20 %, red fox 10 %, wolf
5 % of all photos), 5 % a person (a box, no species), 35 % nothing; one photo in 19 is verified. Photos
alternate between the world's two cameras of project "wolves" in runs of seven events, over the last year,
the newest with the highest ids (as they arrive).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg

from addax.store.object_fs import FilesystemObjectStore
from tests.ui.seed import SPECIES, World, picture

# One event's subject, by event number % 20.
SUBJECTS = ["roe deer", "wild boar", "roe deer", "red fox", "roe deer", "wild boar", "wolf", "roe deer"]
SUBJECTS += ["wild boar", "red fox", "roe deer", "wild boar", "person"] + ["blank"] * 7
KINDS = ["roe deer", "wild boar", "red fox", "wolf", "person", "blank"]
DAYS = 365


@dataclass(frozen=True, slots=True)
class Filled:
    photos: int
    events: int
    seconds: float
    #: a photo of roe deer at the first camera, for the image page
    sample_image: int
    newest_id: int


async def write_objects(objects: FilesystemObjectStore, per_kind: int) -> None:
    """``per_kind`` originals, thumbnails and annotated copies of each kind, under bench/<kind>/<n>/."""
    for kind_number, kind in enumerate(KINDS):
        for number in range(per_kind):
            seed = kind_number * per_kind + number
            base = f"bench/{kind_number}/{number}"
            await objects.put_bytes(f"{base}/original.jpg", picture(kind, seed))
            await objects.put_bytes(f"{base}/thumbnail.jpg", picture(kind, seed, size=(320, 240)))
            await objects.put_bytes(f"{base}/annotated.jpg", picture(kind, seed, box=True))


PLAN = """
CREATE TEMP TABLE event_plan ON COMMIT DROP AS
SELECT e,
       nextval(pg_get_serial_sequence('events', 'id')) AS event_id,
       subject,
       array_position($5::text[], subject) - 1 AS kind,
       CASE WHEN (e / 7) % 2 = 0 THEN $2::bigint ELSE $3::bigint END AS camera_id,
       now() - make_interval(secs => ($4 - 1 - e) * ($6 * 86400.0 / greatest($4, 1))) - interval '1 hour'
           AS started_at,
       least(3, $1 - 3 * e) AS photos
  FROM generate_series(0, ($1 - 1) / 3) e,
       LATERAL (SELECT ($7::text[])[1 + e % 20] AS subject) s;
CREATE TEMP TABLE photo_plan ON COMMIT DROP AS
SELECT n, n / 3 AS e, n % 3 AS shot, nextval(pg_get_serial_sequence('images', 'id')) AS image_id,
       0.55 + (n % 45) / 100.0 AS score, n % 19 = 1 AS verified
  FROM generate_series(0, $1 - 1) n;
"""

SPECIES_OF = """(SELECT taxon FROM (VALUES {}) AS names (common, taxon) WHERE common = ev.subject)""".format(
    ", ".join(f"('{common}', '{taxon}')" for common, taxon in SPECIES.items())
)

FILL = f"""
INSERT INTO events (id, project_id, camera_id, started_at, ended_at, image_count, label, taxon, common_name,
                    score, max_count)
OVERRIDING SYSTEM VALUE
SELECT event_id, $1, camera_id, started_at, started_at + (photos - 1) * interval '10 s', photos,
       CASE subject WHEN 'blank' THEN NULL WHEN 'person' THEN 'person' ELSE 'animal' END::detection_label,
       CASE WHEN subject NOT IN ('blank', 'person') THEN {SPECIES_OF} END,
       CASE WHEN subject NOT IN ('blank', 'person') THEN subject END,
       CASE WHEN subject <> 'blank' THEN 0.99 END,
       CASE WHEN subject <> 'blank' THEN 1 ELSE 0 END
  FROM event_plan ev;

INSERT INTO images (id, project_id, camera_id, deployment_id, site_id, stage, sha256, original_name, source,
                    size_bytes, width, height, taken_at, utc_offset_minutes, exif, original_key, thumbnail_key,
                    annotated_key, received_at, processed_at, realtime, event_id, labels, taxa, best_score,
                    verified)
OVERRIDING SYSTEM VALUE
SELECT p.image_id, $1, ev.camera_id, d.id, d.site_id, 'done', sha256(('bench-' || p.n)::bytea),
       'IMG_' || lpad(p.n::text, 6, '0') || '.JPG', 'ftp', 61000, 640, 480, taken, 60,
       jsonb_build_object('Make', 'Browning', 'Model', 'BTC-8E',
                          'DateTimeOriginal', to_char(taken, 'YYYY:MM:DD HH24:MI:SS')),
       key || '/original.jpg', key || '/thumbnail.jpg', key || '/annotated.jpg',
       taken + interval '20 s', taken + interval '25 s', false, ev.event_id,
       CASE ev.subject WHEN 'blank' THEN '{{}}' WHEN 'person' THEN '{{person}}' ELSE '{{animal}}' END::text[],
       CASE WHEN ev.subject IN ('blank', 'person') THEN '{{}}' ELSE ARRAY[{SPECIES_OF}] END::text[],
       CASE WHEN ev.subject <> 'blank' THEN p.score END,
       p.verified
  FROM photo_plan p
  JOIN event_plan ev USING (e)
  JOIN deployments d ON d.camera_id = ev.camera_id,
       LATERAL (SELECT ev.started_at + p.shot * interval '10 s' AS taken,
                       'bench/' || ev.kind || '/' || (p.n % $2) AS key) k;

INSERT INTO detections (image_id, index, label, score, bbox, model)
SELECT p.image_id, 0, CASE ev.subject WHEN 'person' THEN 'person' ELSE 'animal' END::detection_label, p.score,
       ARRAY[0.2 + (p.n % 4) / 10.0, 0.4, 0.25, 0.25]::real[], 'mdv5a'
  FROM photo_plan p JOIN event_plan ev USING (e)
 WHERE ev.subject <> 'blank';

INSERT INTO classifications (detection_id, taxon, common_name, score, model, rank)
SELECT dt.id, names.taxon, names.common, ranked.score, 'deepfaune', ranked.rank
  FROM photo_plan p
  JOIN event_plan ev USING (e)
  JOIN detections dt ON dt.image_id = p.image_id,
       LATERAL (VALUES (1, ev.subject, 0.88),
                       (2, CASE ev.subject WHEN 'red fox' THEN 'wolf' ELSE 'red fox' END, 0.07),
                       (3, CASE ev.subject WHEN 'wild boar' THEN 'roe deer' ELSE 'wild boar' END, 0.03))
               AS ranked (rank, common, score)
  JOIN (VALUES {", ".join(f"('{common}', '{taxon}')" for common, taxon in SPECIES.items())}) AS names (common, taxon)
    ON names.common = ranked.common
 WHERE ev.subject NOT IN ('blank', 'person');

INSERT INTO verifications (image_id, boxes, blank, verified_by, verified_at)
SELECT p.image_id,
       CASE WHEN ev.subject = 'blank' THEN '[]'::jsonb
            ELSE jsonb_build_array(jsonb_build_object(
                     'detection', 0, 'label', CASE ev.subject WHEN 'person' THEN 'person' ELSE 'animal' END,
                     'taxon', {SPECIES_OF}, 'common_name', CASE WHEN ev.subject <> 'person' THEN ev.subject END,
                     'count', 1, 'bbox', jsonb_build_array(0.2, 0.4, 0.25, 0.25))) END,
       ev.subject = 'blank', $3, ev.started_at + interval '2 days'
  FROM photo_plan p JOIN event_plan ev USING (e)
 WHERE p.verified;

UPDATE cameras c SET last_seen_at = (SELECT max(received_at) FROM images i WHERE i.camera_id = c.id)
 WHERE project_id = $1;
"""


async def fill(dsn: str, objects: FilesystemObjectStore, world: World, count: int, per_kind: int = 50) -> Filled:
    """Add ``count`` done photos to project "wolves" of ``world``, then ANALYZE."""
    started = time.monotonic()
    await write_objects(objects, per_kind)
    connection = await asyncpg.connect(dsn)
    try:
        async with connection.transaction():
            await connection.execute(
                _bind(
                    PLAN,
                    count,
                    world.cameras["gate-cam"],
                    world.cameras["meadow-cam"],
                    (count + 2) // 3,
                    KINDS,
                    DAYS,
                    SUBJECTS,
                )
            )
            await connection.execute(_bind(FILL, world.wolves, per_kind, world.users["annotator@example.org"]))
        await connection.execute("ANALYZE")
        sample = await connection.fetchval(
            """SELECT id FROM images WHERE project_id = $1 AND camera_id = $2 AND taxa = '{Capreolus capreolus}'
               ORDER BY id DESC LIMIT 1""",
            world.wolves,
            world.cameras["gate-cam"],
        )
        events = await connection.fetchval("SELECT count(*) FROM events WHERE project_id = $1", world.wolves)
        photos = await connection.fetchval("SELECT count(*) FROM images WHERE project_id = $1", world.wolves)
        newest = await connection.fetchval("SELECT max(id) FROM images WHERE project_id = $1", world.wolves)
    finally:
        await connection.close()
    seconds = time.monotonic() - started
    return Filled(photos=photos, events=events, seconds=seconds, sample_image=sample, newest_id=newest)


def _bind(script: str, *values: object) -> str:
    """A multi-statement script can't take parameters over the extended protocol: inline them as literals
    (ours: integers and lists of known words)."""
    for number in range(len(values), 0, -1):
        script = script.replace(f"${number}", _literal(values[number - 1]))
    return script


def _literal(value: object) -> str:
    if isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, list):
        return "ARRAY[" + ", ".join("'" + str(item).replace("'", "''") + "'" for item in value) + "]"
    raise TypeError(f"no literal for {value!r}")
