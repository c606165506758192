"""Verifications on the real database: the photo's summary follows the person, and comes back from the model."""

from __future__ import annotations

import asyncpg

from addax.domain.secrets import hash_password
from addax.domain.verification import parse_verification
from addax.store import accounts, browse, verifications


async def roe_deer_photo(pool: asyncpg.Pool, project_id: int, name: str) -> int:
    """A done photo with a roe deer (0.9) and a faint person (0.2) that the project's 0.5 threshold ignores."""
    image_id = await pool.fetchval(
        """INSERT INTO images (project_id, sha256, original_name, source, size_bytes, original_key, stage)
           VALUES ($1, sha256(convert_to($2, 'UTF8')), $2, 'http', 1, $2, 'classified') RETURNING id""",
        project_id,
        name,
    )
    for index, label, score, taxon, common_name in (
        (0, "animal", 0.9, "Capreolus capreolus", "roe deer"),
        (1, "person", 0.2, None, None),
    ):
        detection_id = await pool.fetchval(
            """INSERT INTO detections (image_id, index, label, score, bbox, model)
               VALUES ($1, $2, $3, $4, '{0.1,0.2,0.3,0.4}', 'md') RETURNING id""",
            image_id,
            index,
            label,
            score,
        )
        if taxon:
            for rank, (other, other_name, other_score) in enumerate(
                [(taxon, common_name, 0.8), ("Cervus elaphus", "red deer", 0.1)], start=1
            ):
                await pool.execute(
                    """INSERT INTO classifications (detection_id, taxon, common_name, score, model, rank)
                       VALUES ($1, $2, $3, $4, 'deepfaune', $5)""",
                    detection_id,
                    other,
                    other_name,
                    other_score,
                    rank,
                )
    await pool.execute("UPDATE images SET stage = 'done' WHERE id = $1", image_id)
    return int(image_id)


async def annotator(pool: asyncpg.Pool, project: str, unique: str) -> accounts.User:
    email = f"annotator-{unique}@example.org"
    await accounts.add_user(pool, email, hash_password("p"), role=accounts.Role.ANNOTATOR, project=project, by="t")
    user = await accounts.find_user(pool, email)
    assert user is not None
    return user


async def summary(pool: asyncpg.Pool, image_id: int) -> tuple[bool, list[str], list[str]]:
    row = await pool.fetchrow("SELECT verified, labels, taxa FROM images WHERE id = $1", image_id)
    return row["verified"], list(row["labels"]), list(row["taxa"])


async def test_a_correction_becomes_the_photos_species_and_clearing_it_brings_the_models_back(
    pool: asyncpg.Pool, unique: str
) -> None:
    project_id = await accounts.add_project(pool, f"verify-{unique}", by="t")
    image_id = await roe_deer_photo(pool, project_id, f"{unique}.jpg")
    assert await summary(pool, image_id) == (False, ["animal"], ["Capreolus capreolus"])
    user = await annotator(pool, f"verify-{unique}", unique)

    subject = await verifications.subject(pool, image_id)
    assert subject is not None and subject.project_id == project_id and subject.threshold == 0.5
    assert [(box.index, box.taxon) for box in subject.boxes] == [(0, "Capreolus capreolus"), (1, None)]
    body = {"boxes": [{"detection": 0, "taxon": "Cervus elaphus", "common_name": "red deer"}], "notes": "antlers"}
    saved = await verifications.save(pool, image_id, parse_verification(body, subject.boxes), by=user)
    assert saved["verified_by_email"] == user.email and saved["notes"] == "antlers"
    assert saved["boxes"][0]["taxon"] == "Cervus elaphus" and saved["boxes"][0]["bbox"] == [
        0.10000000149011612,
        0.20000000298023224,
        0.30000001192092896,
        0.4000000059604645,
    ]
    assert await summary(pool, image_id) == (True, ["animal"], ["Cervus elaphus"])
    detail = await browse.image(pool, image_id)
    assert detail is not None and detail["verification"]["boxes"] == saved["boxes"] and detail["verified"]

    # the photo being summarised again (a reprocess finishing) does not undo the person's word
    await pool.execute("UPDATE images SET stage = 'done' WHERE id = $1", image_id)
    assert await summary(pool, image_id) == (True, ["animal"], ["Cervus elaphus"])

    blank = parse_verification({"blank": True}, subject.boxes)
    await verifications.save(pool, image_id, blank, by=user)
    assert await summary(pool, image_id) == (True, [], [])
    assert await pool.fetchval("SELECT count(*) FROM verifications WHERE image_id = $1", image_id) == 1

    assert await verifications.clear(pool, image_id, by=user)
    assert await summary(pool, image_id) == (False, ["animal"], ["Capreolus capreolus"])
    assert await verifications.get(pool, image_id) is None
    assert not await verifications.clear(pool, image_id, by=user)
    audited = await pool.fetch("SELECT action, actor FROM audit_log WHERE target = $1 ORDER BY id", f"image:{image_id}")
    assert [row["action"] for row in audited] == ["image.verify", "image.verify", "image.unverify", "image.unverify"]
    assert {row["actor"] for row in audited} == {user.email}


async def test_the_species_known_in_a_project_include_the_models_and_the_peoples(
    pool: asyncpg.Pool, unique: str
) -> None:
    project_id = await accounts.add_project(pool, f"known-{unique}", by="t")
    other_id = await accounts.add_project(pool, f"other-{unique}", by="t")
    image_id = await roe_deer_photo(pool, project_id, f"{unique}-a.jpg")
    await roe_deer_photo(pool, other_id, f"{unique}-b.jpg")
    user = await annotator(pool, f"known-{unique}", unique)
    subject = await verifications.subject(pool, image_id)
    assert subject is not None
    body = {"taxon": "Lutra lutra", "common_name": "otter"}
    await verifications.save(pool, image_id, parse_verification(body, subject.boxes), by=user)
    assert await verifications.known_species(pool, project_id) == [
        ("Lutra lutra", "otter"),
        ("Cervus elaphus", "red deer"),
        ("Capreolus capreolus", "roe deer"),
    ]
    assert ("Lutra lutra", "otter") not in await verifications.known_species(pool, other_id)
    assert await verifications.subject(pool, 10**12) is None
