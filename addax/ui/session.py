"""Who is looking at a page: the signed-in user and their projects, checked on every page load.

A session (NiceGUI's per-browser user storage) holds the user's id and a stamp of their password hash. Every
page load and, while a page is open, a timer every ``session_check_s`` seconds re-read the user: a user who
was disabled, deleted or given a new password is signed out and sent to /login. A page that needs a login
answers a plain GET without a session with an HTTP redirect to /login?next=<page and its query>.

Every page decides what to show from the ``Viewer``: which projects it may read, where it may verify photos and
where it administers. Pages check each id they are given against it, not only the menu.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import asyncpg
from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import app as nicegui_app

from addax.domain.secrets import password_stamp
from addax.store import accounts

Session = MutableMapping[str, Any]

ADMIN_ROLES = accounts.ADMIN_ROLES
VERIFYING_ROLES = accounts.VERIFYING_ROLES


class NotFound(Exception):
    """The page's subject does not exist or is not the viewer's to see (one answer for both: names don't leak)."""


@dataclass(frozen=True, slots=True)
class Viewer:
    user: accounts.User
    roles: dict[int, accounts.Role]  # project id -> role there
    project_names: dict[int, str]  # the projects the user may see, by id

    @property
    def projects(self) -> list[int]:
        return sorted(self.roles)

    @property
    def is_server_admin(self) -> bool:
        return self.user.is_server_admin

    @property
    def administered(self) -> list[int]:
        return sorted(project for project, role in self.roles.items() if role in ADMIN_ROLES)

    def can_see(self, project_id: int | None) -> bool:
        return project_id is not None and project_id in self.roles

    def admin_of(self, project_id: int | None) -> bool:
        return project_id is not None and self.roles.get(project_id) in ADMIN_ROLES

    def can_verify(self, project_id: int | None) -> bool:
        return project_id is not None and self.roles.get(project_id) in VERIFYING_ROLES

    def check(self, project_id: int | None) -> None:
        """Raise NotFound unless the viewer may see this project's things."""
        if not self.can_see(project_id):
            raise NotFound


async def signed_in(pool: asyncpg.Pool, session: Session) -> accounts.User | None:
    """The session's user while they exist, are enabled and keep the password they signed in with."""
    user_id = session.get("user_id")
    user = await accounts.user_by_id(pool, user_id) if isinstance(user_id, int) else None
    if user is None or user.disabled or session.get("password_stamp") != password_stamp(user.password_hash):
        if session:
            session.clear()
        return None
    return user


async def viewer_of(pool: asyncpg.Pool, user: accounts.User) -> Viewer:
    roles = await accounts.project_roles(pool, user)
    names = await accounts.project_names(pool, list(roles))
    return Viewer(user=user, roles=roles, project_names=names)


def begin_session(session: Session, user: accounts.User) -> None:
    session.update(
        user_id=user.id,
        email=user.email,
        server_admin=user.is_server_admin,
        password_stamp=password_stamp(user.password_hash),
    )


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/login" if target == "/" else f"/login?next={quote(target, safe='')}", status_code=303)


# One slash, then printable ASCII only: no "//host", no backslash, and no tab or newline, which browsers strip
# (so "/\t/evil.example" would become "//evil.example").
LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x7e]*")


def local_path(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never //elsewhere or a full URL)."""
    if target and LOCAL_PATH.fullmatch(target) and "\\" not in target:
        return target
    return "/"


async def current_viewer(pool: asyncpg.Pool, viewer: Viewer) -> Viewer | None:
    """For a button or timer of an open page: the page's user as they are now, with their roles re-read; None
    once the session ended (signed out, disabled, deleted, a new password), whatever the page still shows."""
    try:
        session = nicegui_app.storage.user
    except RuntimeError:  # no page context: nobody to vouch for
        return None
    user = await signed_in(pool, session)
    if user is None or user.id != viewer.user.id:
        return None
    return await viewer_of(pool, user)


async def verifying_projects(pool: asyncpg.Pool, viewer: Viewer) -> list[int]:
    """The projects where the viewer may verify photos and record field work now (none once signed out)."""
    now = await current_viewer(pool, viewer)
    return [] if now is None else [project for project in now.projects if now.can_verify(project)]
