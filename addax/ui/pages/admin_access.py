"""The admin page's "Upload access" tab: FTPS upload accounts and device tokens (secrets shown once)."""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui import ui

from addax.domain.secrets import hash_password, new_password, new_token, token_digest
from addax.store import accounts, browse
from addax.ui.context import UiServices
from addax.ui.pages.admin_common import admin_of, empty, fresh, project_choices, section, show_once, when
from addax.ui.session import Viewer


async def access_tab(services: UiServices, viewer: Viewer) -> None:
    @ui.refreshable
    async def upload_accounts() -> None:
        now = await fresh(services, viewer)
        if now is None:
            return
        found = await accounts.upload_accounts(services.pool, projects=now.administered)
        if not found:
            empty("No upload accounts yet.")
        with ui.list().props("bordered separator").classes("w-full rounded-borders"):
            for account in found:
                _upload_account_row(services, now, account, upload_accounts.refresh)

    @ui.refreshable
    async def device_tokens() -> None:
        now = await fresh(services, viewer)
        if now is None:
            return
        found = await accounts.device_tokens(services.pool, projects=now.administered)
        if not found:
            empty("No device tokens yet.")
        with ui.list().props("bordered separator").classes("w-full rounded-borders"):
            for token in found:
                _device_token_row(services, now, token, device_tokens.refresh)

    section("Upload accounts (FTPS)")
    _new_form(services, viewer, "New upload account", "Add upload account", _add_upload_account, upload_accounts)
    await upload_accounts()
    section("Device tokens (HTTP uploads)")
    _new_form(services, viewer, "New device token", "Add device token", _add_device_token, device_tokens)
    await device_tokens()


def _new_form(services: UiServices, viewer: Viewer, what: str, action: str, add: Any, listing: Any) -> None:
    async def submit() -> None:
        if not name.value.strip() or project.value is None:
            ui.notify("Give a name and choose a project.", type="warning")
            return
        now = await admin_of(services, viewer, project.value)
        if now is None:
            return
        try:
            await add(services, now, name.value.strip(), project.value)
        except accounts.AccountError as refused:
            ui.notify(str(refused), type="negative")
            return
        name.value = ""
        listing.refresh()

    choices = project_choices(viewer)
    with ui.row().classes("w-full items-end gap-x-3 gap-y-1"):
        name = ui.input(f"{what}: name").props("dense outlined autocomplete=off").classes("col-12 col-sm-4")
        project = ui.select(choices, label="Project", value=next(iter(choices), None))
        project.props("dense outlined").classes("col-12 col-sm-3")
        ui.button(action, icon="add", on_click=submit)


async def _add_upload_account(services: UiServices, viewer: Viewer, name: str, project_id: int) -> None:
    password = new_password()
    password_hash = await asyncio.to_thread(hash_password, password)  # argon2: not on the event loop
    project = viewer.project_names[project_id]
    await accounts.add_upload_account(services.pool, name, password_hash, project=project, by=viewer.user.email)
    show_once(
        f"Upload account {name}",
        password,
        f"The FTPS password of {name} ({project}), shown only now: set it in the camera.",
    )


async def _add_device_token(services: UiServices, viewer: Viewer, name: str, project_id: int) -> None:
    token = new_token()
    project = viewer.project_names[project_id]
    await accounts.add_device_token(services.pool, name, token_digest(token), project=project, by=viewer.user.email)
    show_once(
        f"Device token {name}",
        token,
        f"The token of {name} ({project}), shown only now: the device sends it as X-API-Token.",
    )


def _upload_account_row(services: UiServices, viewer: Viewer, account: dict[str, Any], changed: Any) -> None:
    async def set_disabled(disabled: bool) -> None:
        project_id = await browse.project_of(services.pool, browse.Owned.UPLOAD_ACCOUNT, int(account["id"]))
        now = await admin_of(services, viewer, project_id)
        if now is None:
            return
        change = accounts.disable_upload_account if disabled else accounts.enable_upload_account
        await change(services.pool, int(account["id"]), by=now.user.email)
        changed()

    with ui.item().classes("w-full"), ui.row().classes("w-full items-center gap-x-3 gap-y-1"):
        ui.label(account["name"]).classes("text-weight-medium")
        ui.label(viewer.project_names.get(account["project_id"], "")).classes("text-grey-8")
        if account["disabled"]:
            ui.badge("disabled", color="negative")
        ui.label(f"since {when(account['created_at'])}").classes("text-caption text-grey-7")
        ui.space()
        if account["disabled"]:
            ui.button("Enable", on_click=lambda: set_disabled(False)).props("flat dense color=positive")
        else:
            ui.button("Disable", on_click=lambda: set_disabled(True)).props("flat dense color=negative")


def _device_token_row(services: UiServices, viewer: Viewer, token: dict[str, Any], changed: Any) -> None:
    async def revoke() -> None:
        project_id = await browse.project_of(services.pool, browse.Owned.DEVICE_TOKEN, int(token["id"]))
        now = await admin_of(services, viewer, project_id)
        if now is None:
            return
        await accounts.revoke_device_token(services.pool, int(token["id"]), by=now.user.email)
        confirm.close()
        ui.notify(f"Device token {token['name']} revoked for good")
        changed()

    with ui.dialog() as confirm, ui.card():
        ui.label(f"Revoke {token['name']} for good? The device needs a new token afterwards.")
        with ui.row().classes("w-full justify-end"):
            ui.button("Cancel", on_click=confirm.close).props("flat")
            ui.button("Revoke", on_click=revoke).props("color=negative")

    with ui.item().classes("w-full"), ui.row().classes("w-full items-center gap-x-3 gap-y-1"):
        ui.label(token["name"]).classes("text-weight-medium")
        ui.label(viewer.project_names.get(token["project_id"], "")).classes("text-grey-8")
        if token["revoked"]:
            ui.badge("revoked", color="negative")
        ui.label(f"last used {when(token['last_used_at'])}").classes("text-caption text-grey-7")
        ui.space()
        if not token["revoked"]:
            ui.button("Revoke", on_click=confirm.open).props("flat dense color=negative")
