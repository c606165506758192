"""``GET /api/images`` filters by what a photo shows (species, label, verified), as the gallery does."""

from __future__ import annotations

from datetime import timedelta

from addax.domain.secrets import new_token, token_digest
from addax.store import accounts
from tests.ui.seed import seed_world


async def test_species_label_and_verified_filters(make_api, backend, fresh_dsn) -> None:
    world = await seed_world(fresh_dsn, backend.objects)
    token = new_token()
    user = await accounts.user_by_id(backend.pool, world.users["viewer@example.org"])
    assert user is not None
    await accounts.issue_api_token(backend.pool, user.id, token_digest(token), ttl=timedelta(hours=1))
    client = await make_api()
    headers = {"Authorization": f"Bearer {token}"}

    async def ids(query: str) -> set[int]:
        response = await client.get(f"/api/images?limit=500&{query}", headers=headers)
        assert response.status == 200, await response.text()
        return {image["id"] for image in (await response.json())["images"]}

    wolves = {photo for key, photos in world.bursts.items() for photo in photos if key[0] != "river-cam"}
    assert await ids("") == wolves  # never the otters' photos
    wolf = {photo for key, photos in world.bursts.items() if key[2] == "wolf" for photo in photos}
    assert await ids("species=Canis%20lupus") == wolf and len(wolf) == 6
    assert await ids("label=person") == set(world.bursts[("gate-cam", 1, "person")])
    assert await ids("verified=true") == set()
    assert await ids("verified=false") == wolves
    refused = await client.get("/api/images?verified=perhaps", headers=headers)
    assert refused.status == 400 and "verified" in (await refused.json())["error"]
