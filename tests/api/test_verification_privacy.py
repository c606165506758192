"""A person that someone marks on a photo, where the detector saw none, is private from then on: the original
for the project's admins only, and the blurred copies blurred whole."""

from __future__ import annotations

from datetime import timedelta

from addax.domain.secrets import new_token, token_digest
from addax.store import accounts
from tests.ui.seed import seed_world


async def _token(backend, user_id: int) -> dict[str, str]:
    token = new_token()
    await accounts.issue_api_token(backend.pool, user_id, token_digest(token), ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


async def test_a_person_added_by_a_verification_blurs_the_photo_for_viewers(make_api, backend, fresh_dsn) -> None:
    world = await seed_world(fresh_dsn, backend.objects)
    client = await make_api()
    annotator = await _token(backend, world.users["annotator@example.org"])
    viewer = await _token(backend, world.users["viewer@example.org"])
    photo = world.photo("meadow-cam", 3, "red fox")
    assert (await client.get(f"/api/images/{photo}/file?variant=original", headers=viewer)).status == 200
    stored_thumbnail = await backend.objects.read(
        await backend.pool.fetchval("SELECT thumbnail_key FROM images WHERE id = $1", photo)
    )

    missed_person = {"detection": None, "label": "person", "bbox": [0.05, 0.1, 0.1, 0.3]}
    fox = {"detection": 0, "label": "animal", "taxon": "Vulpes vulpes", "common_name": "red fox"}
    saved = await client.patch(
        f"/api/images/{photo}/verification", json={"boxes": [fox, missed_person]}, headers=annotator
    )
    assert saved.status == 200, await saved.text()
    assert await backend.pool.fetchval("SELECT people_unblurred FROM images WHERE id = $1", photo) is True

    refused = await client.get(f"/api/images/{photo}/file?variant=original", headers=viewer)
    assert refused.status == 403
    thumbnail = await client.get(f"/api/images/{photo}/file?variant=thumbnail", headers=viewer)
    assert thumbnail.status == 200 and thumbnail.content_type == "image/jpeg"
    assert await thumbnail.read() != stored_thumbnail  # blurred again on the way out

    # Clearing the verification does not make the photo public again: fail closed.
    assert (await client.delete(f"/api/images/{photo}/verification", headers=annotator)).status == 200
    assert (await client.get(f"/api/images/{photo}/file?variant=original", headers=viewer)).status == 403


async def test_a_second_person_beside_a_detected_one_blurs_the_copies_too(make_api, backend, fresh_dsn) -> None:
    world = await seed_world(fresh_dsn, backend.objects)
    client = await make_api()
    annotator = await _token(backend, world.users["annotator@example.org"])
    photo = world.photo("gate-cam", 1, "person")  # the detector found one person (0.93): blurred in the copies

    confirmed = await client.patch(f"/api/images/{photo}/verification", json={"confirm": True}, headers=annotator)
    assert confirmed.status == 200, await confirmed.text()
    assert await backend.pool.fetchval("SELECT people_unblurred FROM images WHERE id = $1", photo) is False

    second = {"detection": None, "label": "person", "bbox": [0.7, 0.1, 0.1, 0.3]}
    first = {"detection": 0, "label": "person"}
    saved = await client.patch(f"/api/images/{photo}/verification", json={"boxes": [first, second]}, headers=annotator)
    assert saved.status == 200, await saved.text()
    assert await backend.pool.fetchval("SELECT people_unblurred FROM images WHERE id = $1", photo) is True
    # a retry of the pipeline's work does not forget it
    await backend.pool.execute("UPDATE images SET blur_all = false WHERE id = $1", photo)
    assert await backend.pool.fetchval("SELECT people_unblurred FROM images WHERE id = $1", photo) is True


async def test_a_member_who_left_cannot_try_a_rule_on_the_projects_photos(make_api, backend, fresh_dsn) -> None:
    world = await seed_world(fresh_dsn, backend.objects)
    client = await make_api()
    viewer_id = world.users["viewer@example.org"]
    viewer = await _token(backend, viewer_id)
    created = await client.post(
        "/api/alert-rules", json={"project": "wolves", "name": "wolves", "species": ["Canis lupus"]}, headers=viewer
    )
    assert created.status == 201, await created.text()
    rule_id = (await created.json())["id"]
    wolf = world.photo("gate-cam", 2, "wolf")
    await backend.pool.execute("DELETE FROM memberships WHERE user_id = $1", viewer_id)
    tried = await client.post(f"/api/alert-rules/{rule_id}/test", json={"image_id": wolf}, headers=viewer)
    assert tried.status == 403 and "no longer in this rule's project" in (await tried.json())["error"]
