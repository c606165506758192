import asyncio

from addax.runtime import Actor


class Broken(Actor[None]):
    """Alive, but not doing its job."""

    def is_healthy(self) -> bool:
        return False


class Queue(Actor[str]):
    mailbox_capacity = 5

    async def handle(self, message: str) -> None:
        await asyncio.Event().wait()  # never finishes: messages pile up


async def test_health_lists_actors_and_turns_503_when_one_is_unhealthy(make_api, supervisor) -> None:
    client = await make_api()
    ok = await client.get("/api/health")
    body = await ok.json()
    assert ok.status == 200 and body["status"] == "ok"
    assert body["actors"]["database"]["alive"] is True

    await supervisor.start(Broken(name="broken"))
    degraded = await client.get("/api/health")
    assert degraded.status == 503
    assert (await degraded.json())["status"] == "degraded"


async def test_metrics_show_restarts_mailboxes_and_request_durations(make_api, supervisor) -> None:
    client = await make_api()
    queue = Queue(name="inbox")
    await supervisor.start(queue)
    for n in range(3):
        await queue.send(str(n))
    await client.get("/api/health")
    text = await (await client.get("/metrics")).text()
    assert 'addax_actor_restarts{actor="database"} 0.0' in text
    assert 'addax_mailbox_depth{actor="inbox"} 2.0' in text  # one taken by the stuck handler
    assert 'addax_mailbox_capacity{actor="inbox"} 5.0' in text
    assert 'addax_http_request_duration_seconds_count{method="GET",route="/api/health",status="200"}' in text
