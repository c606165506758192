"""The admin page's "Users" and "Projects" tabs: members and invitations, roles, disabling users, projects."""

from __future__ import annotations

import asyncio
from typing import Any

from nicegui import ui

from addax.domain.secrets import MAX_EMAIL_CHARS, hash_password, new_password
from addax.store import accounts, projects
from addax.ui.context import UiServices
from addax.ui.pages.admin_common import (
    ASSIGNABLE_ROLES,
    admin_of,
    empty,
    fresh,
    project_choices,
    section,
    server_admin,
    show_once,
    when,
)
from addax.ui.session import Viewer


async def users_tab(services: UiServices, viewer: Viewer) -> None:
    @ui.refreshable
    async def listing() -> None:
        now = await fresh(services, viewer)
        if now is None:
            return
        found = (
            await accounts.users(services.pool)
            if now.is_server_admin
            else await accounts.members(services.pool, projects=now.administered)
        )
        if not found:
            empty("No users yet.")
        with ui.list().props("bordered separator").classes("w-full rounded-borders"):
            for user in found:
                _user_row(services, now, user, listing.refresh)

    _invite_form(services, viewer, lambda: listing.refresh())
    section("Users" if viewer.is_server_admin else "Members of your projects")
    await listing()


def _invite_form(services: UiServices, viewer: Viewer, changed: Any) -> None:
    async def invite() -> None:
        address = email.value.strip()
        if not address or "@" not in address or len(address) > MAX_EMAIL_CHARS:
            ui.notify("Give the new member's e-mail address.", type="warning")
            return
        if project.value is None or role.value not in ASSIGNABLE_ROLES:
            ui.notify("Choose a project and a role.", type="warning")
            return
        now = await admin_of(services, viewer, project.value)
        if now is None:
            return
        chosen = accounts.Role(role.value)
        existing = await accounts.find_user(services.pool, address)
        if existing is not None:
            await accounts.set_membership(services.pool, existing.id, project.value, chosen, by=now.user.email)
            ui.notify(f"{existing.email} is now {ASSIGNABLE_ROLES[chosen.value]} of {now.project_names[project.value]}")
        else:
            password = new_password()
            password_hash = await asyncio.to_thread(hash_password, password)  # argon2: not on the event loop
            try:
                await accounts.add_user(
                    services.pool,
                    address,
                    password_hash,
                    role=chosen,
                    project=now.project_names[project.value],
                    by=now.user.email,
                )
            except accounts.AccountError as refused:
                ui.notify(str(refused), type="negative")
                return
            show_once(
                f"{address} invited",
                password,
                "Their password, shown only now: give it to them; they change it after signing in.",
            )
        email.value = ""
        changed()

    choices = project_choices(viewer)
    section("Add a member")
    with ui.row().classes("w-full items-end gap-x-3 gap-y-1"):
        email = ui.input("E-mail").props("dense outlined autocomplete=off").classes("col-12 col-sm-4")
        project = ui.select(choices, label="Project", value=next(iter(choices), None))
        project.props("dense outlined").classes("col-12 col-sm-3")
        role = ui.select(ASSIGNABLE_ROLES, label="Role", value=accounts.Role.VIEWER.value)
        role.props("dense outlined").classes("col-12 col-sm-2")
        ui.button("Add member", icon="person_add", on_click=invite)


def _user_row(services: UiServices, viewer: Viewer, user: dict[str, Any], changed: Any) -> None:
    user_id = int(user["id"])

    async def set_disabled(disabled: bool) -> None:
        now = await server_admin(services, viewer)
        if now is None:
            return
        if disabled and user_id == now.user.id:
            ui.notify("You cannot disable your own account; ask another server admin.", type="warning")
            return
        if disabled:
            await accounts.disable_user(services.pool, user_id, by=now.user.email)
        else:
            await accounts.enable_user(services.pool, user_id, by=now.user.email)
        changed()

    with ui.item().classes("w-full"), ui.column().classes("w-full gap-1"):
        with ui.row().classes("items-center gap-x-3 gap-y-1"):
            ui.label(user["email"]).classes("text-weight-medium")
            if user["server_admin"]:
                ui.badge("server admin", color="primary")
            if user["disabled"]:
                ui.badge("disabled", color="negative")
            ui.label(f"since {when(user['created_at'])}").classes("text-caption text-grey-7")
            if viewer.is_server_admin and user_id != viewer.user.id:
                if user["disabled"]:
                    ui.button("Enable", on_click=lambda: set_disabled(False)).props("flat dense color=positive")
                else:
                    ui.button("Disable", on_click=lambda: set_disabled(True)).props("flat dense color=negative")
        for membership in user["projects"]:
            if viewer.admin_of(membership["project_id"]):
                _membership_row(services, viewer, user, int(membership["project_id"]), membership["role"], changed)


def _membership_row(
    services: UiServices, viewer: Viewer, user: dict[str, Any], project_id: int, role: str, changed: Any
) -> None:
    async def change_role(new_role: str) -> None:
        now = await admin_of(services, viewer, project_id)
        if now is None or new_role == role:
            return
        await accounts.set_membership(
            services.pool, int(user["id"]), project_id, accounts.Role(new_role), by=now.user.email
        )
        ui.notify(f"{user['email']}: {ASSIGNABLE_ROLES[new_role]} of {now.project_names[project_id]}")
        changed()

    async def remove() -> None:
        now = await admin_of(services, viewer, project_id)
        if now is None:
            return
        await accounts.remove_membership(services.pool, int(user["id"]), project_id, by=now.user.email)
        ui.notify(f"{user['email']} removed from {now.project_names[project_id]}")
        changed()

    with ui.row().classes("items-center gap-x-3 gap-y-1 q-pl-md"):
        ui.label(viewer.project_names.get(project_id, str(project_id))).classes("text-body2")
        # The e-mail is data: set as a value, never parsed as a props string.
        role_menu = ui.select(ASSIGNABLE_ROLES, value=role, on_change=lambda event: change_role(event.value))
        role_menu.props("dense borderless").props["aria-label"] = f"Role of {user['email']} in project {project_id}"
        remove_button = ui.button(icon="person_remove", on_click=remove).props("flat dense round color=negative")
        remove_button.props["aria-label"] = f"Remove {user['email']} from project {project_id}"
        remove_button.tooltip("Remove from the project")


async def projects_tab(services: UiServices, viewer: Viewer) -> None:
    @ui.refreshable
    async def listing() -> None:
        now = await fresh(services, viewer)
        if now is None:
            return
        found = await projects.settings(services.pool, projects=now.administered)
        if not found:
            empty("No projects yet.")
        with ui.row().classes("w-full gap-4"):
            for project in found:
                _project_card(project)

    async def create() -> None:
        name = new_name.value.strip()
        now = await server_admin(services, viewer)
        if now is None:
            return
        try:
            await accounts.add_project(services.pool, name, by=now.user.email)
        except accounts.AccountError as refused:
            ui.notify(str(refused), type="negative")
            return
        ui.notify(f"Project {name} created; reload the page to choose it in the other tabs.")
        new_name.value = ""
        listing.refresh()

    if viewer.is_server_admin:
        section("New project")
        with ui.row().classes("items-end gap-x-3 gap-y-1"):
            new_name = ui.input("Project name").props("dense outlined")
            ui.button("Create project", icon="add", on_click=create)
    section("Projects")
    ui.label("Settings are changed with `addax project set`.").classes("text-caption text-grey-7")
    await listing()


def _project_card(project: dict[str, Any]) -> None:
    with ui.card().classes("w-full sm:w-72 gap-1").props("flat bordered"):
        ui.label(project["name"]).classes("text-subtitle1 text-weight-medium")
        for label, value in [
            ("Time zone", project["timezone"]),
            ("Detection threshold", f"{project['detection_threshold']:.2f}"),
            ("Sequence gap", f"{project['sequence_gap_s']} s"),
            ("Site radius", f"{project['site_radius_m']:.0f} m"),
            ("Cameras must be registered", "yes" if project["require_camera_registration"] else "no"),
            ("Photos need a time", "yes" if project["require_timestamp"] else "no"),
        ]:
            with ui.row().classes("w-full justify-between no-wrap"):
                ui.label(label).classes("text-grey-7")
                ui.label(str(value))
