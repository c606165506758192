"""``PATCH|DELETE /api/images/{id}/verification``: annotators and admins verify, viewers and strangers may not."""

from __future__ import annotations

from datetime import timedelta

from addax.domain.secrets import hash_password, new_token, token_digest
from addax.store import accounts
from tests.store.test_verifications import roe_deer_photo, summary


async def headers_of(pool, email: str, role: accounts.Role, project: str) -> dict[str, str]:
    user_id = await accounts.add_user(pool, email, hash_password("p"), role=role, project=project, by="t")
    token = new_token()
    await accounts.issue_api_token(pool, user_id, token_digest(token), ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


async def test_an_annotator_corrects_a_photo_and_clears_it_again(make_api, backend, unique) -> None:
    pool = backend.pool
    project_id = await accounts.add_project(pool, f"v-{unique}", by="t")
    image_id = await roe_deer_photo(pool, project_id, f"{unique}.jpg")
    as_annotator = await headers_of(pool, f"a-{unique}@x", accounts.Role.ANNOTATOR, f"v-{unique}")
    client = await make_api()

    body = {"species": "Cervus elaphus", "common_name": "red deer", "count": 2, "notes": "antlers"}
    response = await client.patch(f"/api/images/{image_id}/verification", json=body, headers=as_annotator)
    assert response.status == 200, await response.text()
    saved = await response.json()
    assert saved["boxes"][0]["taxon"] == "Cervus elaphus" and saved["verified_by_email"] == f"a-{unique}@x"
    assert await summary(pool, image_id) == (True, ["animal"], ["Cervus elaphus"])

    detail = await (await client.get(f"/api/images/{image_id}", headers=as_annotator)).json()
    assert detail["verification"]["notes"] == "antlers" and detail["verification"]["individuals"] == 2
    assert detail["taxa"] == ["Cervus elaphus"] and detail["verified"] is True

    confirmed = await client.patch(f"/api/images/{image_id}/verification", json={"confirm": True}, headers=as_annotator)
    assert confirmed.status == 200 and (await confirmed.json())["boxes"][0]["detection"] == 0
    assert await summary(pool, image_id) == (True, ["animal"], ["Capreolus capreolus"])

    cleared = await client.delete(f"/api/images/{image_id}/verification", headers=as_annotator)
    assert cleared.status == 200 and (await cleared.json()) == {"cleared": True}
    assert await summary(pool, image_id) == (False, ["animal"], ["Capreolus capreolus"])
    detail = await (await client.get(f"/api/images/{image_id}", headers=as_annotator)).json()
    assert detail["verification"] is None


async def test_viewers_strangers_missing_photos_and_bad_fields_are_refused(make_api, backend, unique) -> None:
    pool = backend.pool
    project_id = await accounts.add_project(pool, f"v-{unique}", by="t")
    await accounts.add_project(pool, f"w-{unique}", by="t")
    image_id = await roe_deer_photo(pool, project_id, f"{unique}.jpg")
    as_viewer = await headers_of(pool, f"v-{unique}@x", accounts.Role.VIEWER, f"v-{unique}")
    as_stranger = await headers_of(pool, f"s-{unique}@x", accounts.Role.PROJECT_ADMIN, f"w-{unique}")
    as_admin = await headers_of(pool, f"a-{unique}@x", accounts.Role.PROJECT_ADMIN, f"v-{unique}")
    client = await make_api()
    path = f"/api/images/{image_id}/verification"

    for headers in (as_viewer, as_stranger):
        for method in (client.patch, client.delete):
            response = await method(path, json={"confirm": True}, headers=headers)
            assert response.status == 403, await response.text()
    refused = await client.patch(path, json={"confirm": True}, headers=as_viewer)
    assert "annotator" in (await refused.json())["error"]
    assert (await client.patch(path, json={"confirm": True})).status == 401

    missing = await client.patch("/api/images/999999999/verification", json={"confirm": True}, headers=as_admin)
    assert missing.status == 404
    assert (await client.delete("/api/images/999999999/verification", headers=as_admin)).status == 404

    for body, field in (
        ({"boxes": [{"detection": 5}]}, "boxes[0].detection"),
        ({"boxes": [{"detection": None, "bbox": [0.5, 0.5, 0.9, 0.1]}]}, "boxes[0].bbox"),
        ({"species": "Cervus elaphus", "count": "two"}, "count"),
        ([1, 2], "body"),
    ):
        response = await client.patch(path, json=body, headers=as_admin)
        answer = await response.json()
        assert response.status == 400 and answer["field"] == field and answer["error"].startswith(f"{field}: ")
    not_json = await client.patch(path, data=b"{nope", headers=as_admin)
    assert not_json.status == 400 and (await not_json.json())["field"] == "body"

    assert await summary(pool, image_id) == (False, ["animal"], ["Capreolus capreolus"])
    assert await pool.fetchval("SELECT count(*) FROM verifications WHERE image_id = $1", image_id) == 0
    assert (await client.patch(path, json={"blank": True}, headers=as_admin)).status == 200
    assert await summary(pool, image_id) == (True, [], [])
