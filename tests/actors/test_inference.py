"""A model engine that its supervisor restarts serves again (its batch thread is not shut down by a restart)."""

from __future__ import annotations

import asyncio

from addax.actors.inference import ModelEngine
from addax.runtime import Supervisor
from addax.runtime.supervisor import RestartBudget
from tests.waiting import eventually


class CrashesOnce(ModelEngine[str, int, int]):
    crashed = False

    async def run(self) -> None:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("a slip in the engine's loop")
        await super().run()


async def test_an_engine_restarted_by_its_supervisor_still_runs_batches() -> None:
    engine = CrashesOnce(
        name="m", load=lambda: "model", infer=lambda model, batch: [i * 2 for i in batch], missing="none",
        describe=str, batch_size=4, batch_wait_s=0.0,
    )  # fmt: skip
    async with Supervisor(budget=RestartBudget(backoff_initial=0.05)) as supervisor:
        await supervisor.start(engine)
        await eventually(lambda: engine.restarts == 1 and engine.alive, what="the engine restarted")
        result = await asyncio.wait_for(engine.submit(21), 2)
        assert result.value == 42


async def test_a_model_whose_description_fails_is_a_load_problem_not_a_crash() -> None:
    def describe(model: str) -> str:
        raise KeyError("label")

    engine: ModelEngine[str, int, int] = ModelEngine(
        name="m", load=lambda: "model", infer=lambda model, batch: batch, missing="none",
        describe=describe, batch_size=4, batch_wait_s=0.0,
    )  # fmt: skip
    async with Supervisor() as supervisor:
        await supervisor.start(engine)
        assert engine.model is None and engine.broken and "label" in (engine.detail() or "")
        assert engine.restarts == 0
