"""Trying a rule on a past photo of its project: would it alert, and if not, why; optionally a [test] copy."""

from __future__ import annotations

from nicegui import ui

from addax.store import browse, rule_changes
from addax.store.alerts import StoredRule
from addax.store.rule_changes import RuleRefused
from addax.ui.context import UiServices
from addax.ui.media import media_url
from addax.ui.session import Viewer, current_viewer

RECENT_PHOTOS = 12


class TryRule:
    def __init__(self, services: UiServices, viewer: Viewer) -> None:
        self.services, self.viewer = services, viewer
        self.dialog = ui.dialog()

    async def open(self, rule: StoredRule) -> None:
        now = await current_viewer(self.services.pool, self.viewer)
        if now is None or not now.can_see(rule.project_id):
            ui.notify("You are no longer in this rule's project, so it cannot be tried.", type="warning")
            return
        photos = await browse.images(self.services.pool, projects=[rule.project_id], stage="done", limit=RECENT_PHOTOS)
        chosen: dict[str, int | None] = {"image": None}
        self.dialog.clear()
        with self.dialog, ui.card().classes("w-full q-pa-md").style("max-width: 44rem"):
            ui.label(f"Try “{rule.body.name}” on a recent photo").classes("text-h6")
            if self.services.try_rule is None:
                ui.label("No notifier runs in this process, so rules cannot be tried here.")
                ui.button("Close", on_click=self.dialog.close).props("flat")
                self.dialog.open()
                return
            if not photos:
                ui.label("The project has no processed photos yet.")
            grid = ui.grid().classes("w-full grid-cols-3 sm:grid-cols-4 gap-2")
            tiles: dict[int, ui.image] = {}

            def pick(image_id: int) -> None:
                chosen["image"] = image_id
                for other, tile in tiles.items():
                    tile.classes(
                        remove="ring-4 ring-orange-500", add="" if other != image_id else "ring-4 ring-orange-500"
                    )
                result.set_text("")

            with grid:
                for photo in photos:
                    taken = photo["taken_at"] or photo["received_at"]
                    tile = ui.image(media_url(photo["id"], "thumbnail")).classes("cursor-pointer rounded-borders")
                    tile.props(f"ratio=1.333 alt='photo {photo['id']}'").tooltip(f"{taken:%Y-%m-%d %H:%M}")
                    tile.on("click", lambda _, image_id=photo["id"]: pick(image_id))
                    tiles[photo["id"]] = tile
            send = ui.checkbox("Also send me a [test] copy")
            result = ui.label("").classes("text-body1")
            with ui.row().classes("justify-end w-full q-gutter-sm"):
                ui.button("Close", on_click=self.dialog.close).props("flat")
                ui.button("Try it", on_click=lambda: self._try(rule.id, chosen["image"], send.value, result))
        self.dialog.open()

    async def _try(self, rule_id: int, image_id: int | None, send: bool, result: ui.label) -> None:
        if image_id is None:
            result.set_text("Pick a photo first.")
            return
        assert self.services.try_rule is not None
        now = await current_viewer(self.services.pool, self.viewer)
        if now is None:
            ui.navigate.to("/login")
            return
        try:
            rule = await rule_changes.triable_rule(self.services.pool, now.user, rule_id)
            answer = await self.services.try_rule(rule, image_id, send=send)
        except RuleRefused as refused:
            result.set_text(refused.message)
            return
        except (LookupError, ValueError) as error:  # not a photo of the project; a rule that runs on a timetable
            result.set_text(str(error))
            return
        if not answer["matches"]:
            result.set_text(f"Would not alert, because {answer.get('reason', 'it does not match')}.")
            result.classes(replace="text-body1 text-grey-9")
            return
        sent = answer.get("sent")
        sent = sent if isinstance(sent, list) else []
        copy = f" A [test] copy is on its way ({len(sent)} message(s))." if sent else ""
        if send and not sent:
            copy = " No [test] copy was sent: none of the rule's channels reaches you (link Telegram or set up mail)."
        result.set_text(f"Would alert: “{answer.get('subject', '')}”.{copy}")
        result.classes(replace="text-body1 text-positive")
