"""``/api/alert-rules``, ``/api/notifications`` and ``/api/me/telegram`` over a real database: who may make,
see and change which rule, and a 400 that names the field of a bad body."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import partial

import pytest
from aiohttp.test_utils import TestClient

from addax.actors.telegram_bot import LINKED, TelegramBot, Webhook
from addax.alerting import webhook_update
from addax.channels.telegram import TelegramChannel
from addax.domain.secrets import hash_password, new_token, token_digest
from addax.store import accounts, telegram
from tests.api.conftest import Backend
from tests.telegram_standin import TelegramStandIn

PEOPLE_AT_THE_GATE = {
    "name": "people at the gate",
    "labels": ["person"],
    "species": [],
    "min_score": 0.5,
    "sites": [],
    "channels": ["email", "telegram"],
}


async def login_as(backend: Backend, email: str, *, role: accounts.Role, project: str | None) -> dict[str, str]:
    user_id = await accounts.add_user(backend.pool, email, hash_password("pw"), role=role, project=project, by="t")
    token = new_token()
    await accounts.issue_api_token(backend.pool, user_id, token_digest(token), ttl=timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def team(backend: Backend, unique: str) -> dict[str, dict[str, str]]:
    """A project 'wolves-<unique>' with an admin and two viewers, and another project with its own viewer."""
    project = f"wolves-{unique}"
    await accounts.add_project(backend.pool, project, by="t")
    await accounts.add_project(backend.pool, f"other-{unique}", by="t")
    return {
        "admin": await login_as(backend, f"admin-{unique}@x.org", role=accounts.Role.PROJECT_ADMIN, project=project),
        "ranger": await login_as(backend, f"ranger-{unique}@x.org", role=accounts.Role.VIEWER, project=project),
        "guide": await login_as(backend, f"guide-{unique}@x.org", role=accounts.Role.VIEWER, project=project),
        "stranger": await login_as(
            backend, f"stranger-{unique}@x.org", role=accounts.Role.VIEWER, project=f"other-{unique}"
        ),
    }


async def test_a_user_makes_reads_changes_and_deletes_a_rule_of_the_contract_shape(
    make_api: Callable, team: dict[str, dict[str, str]], unique: str
) -> None:
    api: TestClient = await make_api()
    made = await api.post(
        "/api/alert-rules", json={"project": f"wolves-{unique}", **PEOPLE_AT_THE_GATE}, headers=team["ranger"]
    )
    assert made.status == 201, await made.text()
    rule = await made.json()
    assert {key: rule[key] for key in PEOPLE_AT_THE_GATE} == PEOPLE_AT_THE_GATE
    assert (rule["project"], rule["kind"], rule["enabled"]) == (f"wolves-{unique}", "detection", True)

    listed = await (await api.get("/api/alert-rules", headers=team["ranger"])).json()
    assert [found["id"] for found in listed["rules"]] == [rule["id"]]

    changed = await api.patch(
        f"/api/alert-rules/{rule['id']}", json={"min_score": 0.8, "hours": [20, 6]}, headers=team["ranger"]
    )
    assert changed.status == 200, await changed.text()
    after = await changed.json()
    assert (after["min_score"], after["hours"], after["labels"]) == (0.8, [20, 6], ["person"])

    gone = await api.delete(f"/api/alert-rules/{rule['id']}", headers=team["ranger"])
    assert gone.status == 204
    assert (await (await api.get("/api/alert-rules", headers=team["ranger"])).json())["rules"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"min_score": 1.5}, "min_score"),
        ({"labels": ["unicorn"]}, "labels[0]"),
        ({"channels": []}, "channels"),
        ({"channels": ["email", "pigeon"]}, "channels[1]"),
        ({"name": ""}, "name"),
        ({"hours": [25, 3]}, "hours"),
        ({"zones": [{"camera": 1, "polygon": [[0, 0], [1, 1]]}]}, "zones[0].polygon"),
        ({"kind": "horoscope"}, "kind"),
        ({"min_score": True}, "min_score"),
        ({"wings": 2}, "wings"),
    ],
)
async def test_a_bad_rule_body_gets_a_400_naming_the_field(
    make_api: Callable, team: dict[str, dict[str, str]], unique: str, change: dict, field: str
) -> None:
    api: TestClient = await make_api()
    response = await api.post(
        "/api/alert-rules", json={"project": f"wolves-{unique}", **PEOPLE_AT_THE_GATE, **change}, headers=team["ranger"]
    )
    assert response.status == 400
    body = await response.json()
    assert body["field"] == field and body["error"].startswith(field), body


async def test_not_json_and_unknown_projects_are_refused_without_telling_which_projects_exist(
    make_api: Callable, team: dict[str, dict[str, str]], unique: str
) -> None:
    api: TestClient = await make_api()
    response = await api.post("/api/alert-rules", data=b"{not json", headers=team["ranger"])
    assert response.status == 400
    missing = await api.post(
        "/api/alert-rules", json={"project": "nowhere", **PEOPLE_AT_THE_GATE}, headers=team["ranger"]
    )
    elsewhere = await api.post(
        "/api/alert-rules", json={"project": f"other-{unique}", **PEOPLE_AT_THE_GATE}, headers=team["ranger"]
    )
    assert missing.status == elsewhere.status == 403
    assert (await missing.json())["field"] == (await elsewhere.json())["field"] == "project"
    past = await api.post(
        "/api/alert-rules",
        json={"project": f"wolves-{unique}", "name": "late", "kind": "reminder", "on": "2020-01-01", "message": "x"},
        headers=team["admin"],
    )
    assert past.status == 400 and (await past.json())["field"] == "on"


async def test_rules_stay_inside_their_owner_and_project(
    make_api: Callable, team: dict[str, dict[str, str]], unique: str
) -> None:
    api: TestClient = await make_api()
    project = f"wolves-{unique}"
    ranger_rule = await (
        await api.post("/api/alert-rules", json={"project": project, **PEOPLE_AT_THE_GATE}, headers=team["ranger"])
    ).json()
    theft = await api.post(
        "/api/alert-rules",
        json={"project": project, "name": "my cameras", "kind": "theft_watch", "sensitivity": "high"},
        headers=team["ranger"],
    )
    assert theft.status == 201, await theft.text()

    # Another project's user may not write into this project, nor see or touch its rules.
    intruder = await api.post(
        "/api/alert-rules", json={"project": project, **PEOPLE_AT_THE_GATE}, headers=team["stranger"]
    )
    assert intruder.status == 403
    assert (await (await api.get("/api/alert-rules", headers=team["stranger"])).json())["rules"] == []
    for method in ("patch", "delete"):
        response = await getattr(api, method)(
            f"/api/alert-rules/{ranger_rule['id']}", json={"min_score": 0.1}, headers=team["stranger"]
        )
        assert response.status == 404
    # A colleague of the same project cannot change it either.
    response = await api.patch(f"/api/alert-rules/{ranger_rule['id']}", json={"min_score": 0.1}, headers=team["guide"])
    assert response.status == 404

    # The project admin sees the project's rules, but not a user's private theft watch.
    seen = await (await api.get("/api/alert-rules", headers=team["admin"])).json()
    assert [(rule["id"], rule["kind"]) for rule in seen["rules"]] == [(ranger_rule["id"], "detection")]
    assert seen["rules"][0]["owner"] == f"ranger-{unique}@x.org"
    # And a rule cannot move to another project.
    moved = await api.patch(
        f"/api/alert-rules/{ranger_rule['id']}", json={"project": f"other-{unique}"}, headers=team["ranger"]
    )
    assert moved.status == 400


async def test_only_a_project_admin_sets_a_reminder_for_the_team(
    make_api: Callable, team: dict[str, dict[str, str]], unique: str
) -> None:
    api: TestClient = await make_api()
    reminder = {
        "project": f"wolves-{unique}",
        "name": "batteries",
        "kind": "reminder",
        "on": "2026-12-24",
        "message": "swap batteries at North gate",
    }
    assert (await api.post("/api/alert-rules", json=reminder, headers=team["ranger"])).status == 403
    made = await api.post("/api/alert-rules", json=reminder, headers=team["admin"])
    assert made.status == 201, await made.text()
    assert (await made.json())["on"] == "2026-12-24"


async def test_the_notification_log_is_mine_unless_a_server_admin_asks_for_all(
    make_api: Callable, backend: Backend, team: dict[str, dict[str, str]], bearer: dict[str, str], unique: str
) -> None:
    api: TestClient = await make_api()
    ranger = await accounts.find_user(backend.pool, f"ranger-{unique}@x.org")
    guide = await accounts.find_user(backend.pool, f"guide-{unique}@x.org")
    assert ranger is not None and guide is not None
    for user, number in ((ranger, 1), (ranger, 2), (guide, 3)):
        await backend.pool.execute(
            """INSERT INTO notifications (delivery_key, user_id, channel, recipient, kind, subject, payload, status)
               VALUES ($1, $2, 'email', $3, 'status', $4, '{}', 'sent')""",
            f"test:{unique}:{number}",
            user.id,
            user.email,
            f"message {number}",
        )
    mine = await (await api.get("/api/notifications", headers=team["ranger"])).json()
    assert [row["subject"] for row in mine["notifications"]] == ["message 2", "message 1"], "newest first"
    paged = await (await api.get("/api/notifications?limit=1", headers=team["ranger"])).json()
    assert [row["subject"] for row in paged["notifications"]] == ["message 2"]
    rest = await (
        await api.get(f"/api/notifications?limit=1&before={paged['next_before']}", headers=team["ranger"])
    ).json()
    assert [row["subject"] for row in rest["notifications"]] == ["message 1"]
    assert (await api.get("/api/notifications?all=1", headers=team["ranger"])).status == 403
    everyone = await (await api.get("/api/notifications?all=1", headers=bearer)).json()
    assert {"message 1", "message 2", "message 3"} <= {row["subject"] for row in everyone["notifications"]}


async def test_telegram_link_without_a_bot_is_a_clear_409(make_api: Callable, team: dict[str, dict[str, str]]) -> None:
    api: TestClient = await make_api()
    response = await api.get("/api/me/telegram", headers=team["ranger"])
    assert response.status == 409
    assert "telegram.bot_token" in (await response.json())["error"]


async def test_telegram_deep_link_is_one_time_and_shows_when_linked(
    make_api: Callable, backend: Backend, team: dict[str, dict[str, str]], telegram_api: TelegramStandIn, unique: str
) -> None:
    channel = TelegramChannel(telegram_api.settings())
    try:
        api: TestClient = await make_api(telegram_username=channel.username)
        first = await (await api.get("/api/me/telegram", headers=team["ranger"])).json()
        assert first["linked"] is False and first["bot"] == telegram_api.username
        link = first["link"]
        assert link.startswith(f"https://t.me/{telegram_api.username}?start=")
        token = link.split("start=", 1)[1]
        assert 20 <= len(token) <= 64 and token.replace("-", "").replace("_", "").isalnum(), "fits Telegram's start"
        second = await (await api.get("/api/me/telegram", headers=team["ranger"])).json()
        assert second["link"] != link, "a fresh token each time"

        email = await telegram.link(backend.pool, token_digest(token), chat_id=99, username="ranger")
        assert email == f"ranger-{unique}@x.org"
        assert await telegram.link(backend.pool, token_digest(token), chat_id=98, username="x") is None, "one-time"
        linked = await (await api.get("/api/me/telegram", headers=team["ranger"])).json()
        assert (linked["linked"], linked["chat_username"]) == (True, "ranger")

        assert (await api.delete("/api/me/telegram", headers=team["ranger"])).status == 204
        assert (await (await api.get("/api/me/telegram", headers=team["ranger"])).json())["linked"] is False
    finally:
        await channel.close()


async def test_telegram_unreachable_is_a_503_not_a_traceback(
    make_api: Callable, team: dict[str, dict[str, str]], telegram_api: TelegramStandIn
) -> None:
    channel = TelegramChannel(telegram_api.settings(bot_token="123:wrong"))
    try:
        api: TestClient = await make_api(telegram_username=channel.username)
        response = await api.get("/api/me/telegram", headers=team["ranger"])
        assert response.status == 503
        body = await response.json()
        assert "telegram.bot_token" in body["error"] and "123:wrong" not in body["error"]
    finally:
        await channel.close()


async def test_with_a_webhook_telegram_posts_updates_that_link_a_chat(
    make_api: Callable, backend: Backend, telegram_api: TelegramStandIn, unique: str
) -> None:
    channel = TelegramChannel(telegram_api.settings())
    hook = Webhook(url="https://addax.example.org/api/telegram/webhook", secret="s3cret-value")
    bot = TelegramBot(pool=backend.pool, channel=channel, poll_timeout_s=1, webhook=hook)
    await backend.supervisor.start(bot)
    (registered,) = await telegram_api.wait_for_calls("setWebhook", 1)
    assert (registered.params["url"], registered.params["secret_token"]) == (hook.url, hook.secret)
    assert telegram_api.calls_of("getUpdates") == [], "no polling while a webhook is set"

    user_id = await accounts.add_user(
        backend.pool, f"hook-{unique}@x.org", hash_password("pw"), role=accounts.Role.SERVER_ADMIN, project=None, by="t"
    )
    await telegram.add_link_token(backend.pool, user_id, token_digest("via-hook"), valid_for=timedelta(hours=1))
    api: TestClient = await make_api(telegram_update=partial(webhook_update, bot))
    update = {
        "update_id": 7,
        "message": {
            "message_id": 1,
            "date": 1_700_000_000,
            "chat": {"id": 31337, "type": "private"},
            "from": {"id": 31337, "is_bot": False, "first_name": "R", "username": "warden"},
            "text": "/start via-hook",
        },
    }
    forged = await api.post("/api/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": "x"})
    assert forged.status == 403
    assert await telegram.link_of(backend.pool, user_id) is None
    garbage = await api.post(
        "/api/telegram/webhook", data=b"[1, 2", headers={"X-Telegram-Bot-Api-Secret-Token": hook.secret}
    )
    assert garbage.status == 400
    posted = await api.post(
        "/api/telegram/webhook", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": hook.secret}
    )
    assert posted.status == 200
    link = await telegram.link_of(backend.pool, user_id)
    assert link is not None and (link.chat_id, link.username) == (31337, "warden")
    (answer,) = await telegram_api.wait_for_calls("sendMessage", 1)
    assert answer.params["text"] == LINKED.format(email=f"hook-{unique}@x.org")


async def test_alert_sent_reaches_only_the_user_it_was_sent_to(
    make_api: Callable, backend: Backend, team: dict[str, dict[str, str]], unique: str
) -> None:
    api: TestClient = await make_api()
    ranger = await accounts.find_user(backend.pool, f"ranger-{unique}@x.org")
    assert ranger is not None
    project_id = await accounts.project_id(backend.pool, f"wolves-{unique}")
    sockets = {
        who: await api.ws_connect(f"/api/ws?token={team[who]['Authorization'].split()[1]}")
        for who in ("ranger", "guide")
    }
    # The guide is in the same project: a theft watch's alert to the ranger is not theirs to see.
    backend.events.publish("alert.sent", {"id": 1, "user_id": ranger.id, "project_id": project_id})
    backend.events.publish("camera.updated", {"id": 2, "project_id": project_id})  # the project's: both see it
    first = await sockets["ranger"].receive_json(timeout=10)
    assert (first["type"], first["data"]["user_id"]) == ("alert.sent", ranger.id)
    seen_by_guide = await sockets["guide"].receive_json(timeout=10)
    assert seen_by_guide["type"] == "camera.updated", "the ranger's alert was not sent to the guide"
    for socket in sockets.values():
        await socket.close()


async def test_a_rule_names_only_sites_and_cameras_of_its_own_project(
    make_api: Callable, backend: Backend, team: dict[str, dict[str, str]], unique: str
) -> None:
    api: TestClient = await make_api()
    own = await accounts.project_id(backend.pool, f"wolves-{unique}")
    other = await accounts.project_id(backend.pool, f"other-{unique}")
    site = {
        project: await backend.pool.fetchval(
            "INSERT INTO sites (project_id, name) VALUES ($1, 'gate') RETURNING id", project
        )
        for project in (own, other)
    }
    camera = await backend.pool.fetchval(
        "INSERT INTO cameras (project_id, identity, identity_kind, name) VALUES ($1, 'x', 'serial', 'x') RETURNING id",
        other,
    )
    body = {"project": f"wolves-{unique}", **PEOPLE_AT_THE_GATE}
    foreign_site = await api.post(
        "/api/alert-rules", json={**body, "sites": [site[own], site[other]]}, headers=team["ranger"]
    )
    assert foreign_site.status == 400
    assert (await foreign_site.json())["error"] == f"sites: no site {site[other]} in this project"
    zone = {"camera": camera, "polygon": [[0, 0], [1, 0], [1, 1]]}
    foreign_camera = await api.post("/api/alert-rules", json={**body, "zones": [zone]}, headers=team["ranger"])
    assert foreign_camera.status == 400 and (await foreign_camera.json())["field"] == "zones[0].camera"
    fine = await api.post("/api/alert-rules", json={**body, "sites": [site[own]]}, headers=team["ranger"])
    assert fine.status == 201


async def test_trying_a_rule_needs_an_image_id_and_a_notifier(
    make_api: Callable, team: dict[str, dict[str, str]], unique: str
) -> None:
    api: TestClient = await make_api()
    made = await api.post(
        "/api/alert-rules", json={"project": f"wolves-{unique}", **PEOPLE_AT_THE_GATE}, headers=team["ranger"]
    )
    rule_id = (await made.json())["id"]
    bad = await api.post(f"/api/alert-rules/{rule_id}/test", json={"image_id": "x"}, headers=team["ranger"])
    assert bad.status == 400 and (await bad.json())["field"] == "image_id"
    nobody = await api.post(f"/api/alert-rules/{rule_id}/test", json={"image_id": 1}, headers=team["ranger"])
    assert nobody.status == 409
    foreign = await api.post(f"/api/alert-rules/{rule_id}/test", json={"image_id": 1}, headers=team["guide"])
    assert foreign.status == 404, "only the owner tries their rule"


async def test_undelivered_notifications_are_dead_letters_for_their_user_and_admins_only(
    make_api: Callable, backend: Backend, team: dict[str, dict[str, str]], unique: str
) -> None:
    api: TestClient = await make_api()
    project_id = await accounts.project_id(backend.pool, f"wolves-{unique}")
    ranger = await accounts.find_user(backend.pool, f"ranger-{unique}@x.org")
    assert ranger is not None
    letters = {}
    for kind in ("detection", "theft_watch"):
        rule = await (
            await api.post(
                "/api/alert-rules",
                json={"project": f"wolves-{unique}", "name": kind, "kind": kind, "channels": ["email"]},
                headers=team["ranger"],
            )
        ).json()
        notification = await backend.pool.fetchval(
            """INSERT INTO notifications (delivery_key, rule_id, user_id, project_id, channel, recipient, kind,
                   subject, payload, status)
               VALUES ($1, $2, $3, $4, 'email', $5, 'detection', $1, '{}', 'failed') RETURNING id""",
            f"{kind}-{unique}",
            rule["id"],
            ranger.id,
            project_id,
            ranger.email,
        )
        letters[kind] = await backend.pool.fetchval(
            "INSERT INTO dead_letters (notification_id, stage, error, attempts) VALUES ($1, 'notify', 'x', 5)"
            " RETURNING id",
            notification,
        )

    async def seen_by(who: str) -> set[int]:
        body = await (await api.get("/api/dead-letters", headers=team[who])).json()
        return {letter["id"] for letter in body["dead_letters"]}

    assert await seen_by("ranger") == {letters["detection"], letters["theft_watch"]}
    assert await seen_by("admin") == {letters["detection"]}, "a theft watch stays private"
    assert await seen_by("guide") == set(), "not a colleague's"
    assert await seen_by("stranger") == set()
    refused = await api.post(f"/api/dead-letters/{letters['theft_watch']}/retry", headers=team["guide"])
    assert refused.status == 404
