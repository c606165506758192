"""Where the dashboard goes after signing in: a path of this site only, whatever ?next= says."""

from __future__ import annotations

import pytest

from addax.ui.session import local_path


@pytest.mark.parametrize(
    "target",
    ["/", "/gallery?site=3&species=Canis+lupus&since=2026-11-28", "/images/5#boxes", "/%2F%2Fevil.example"],
)
def test_a_path_of_this_site_is_kept(target: str) -> None:
    assert local_path(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",  # browsers strip tabs and newlines: this would become //evil.example
        "/\n/evil.example",
        "/\r/evil.example",
        "/ /evil.example",
        "gallery",
        "javascript:alert(1)",
    ],
)
def test_anything_else_goes_to_the_overview(target: str | None) -> None:
    assert local_path(target) == "/"
