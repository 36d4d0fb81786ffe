"""``[ui]`` in plugin.toml: pages for the web apps, validated before anything is served."""

from __future__ import annotations

from typing import Any

import pytest

from peek.plugin import ManifestError
from peek.plugin.manifest import manifest_from_data

NAME = "peek_plugin_fake"
PAGE = {
    "route": "tasks",
    "title": "Tasks",
    "icon": "checklist",
    "apps": ["mobile"],
    "module": "{app}/tasks.js",
}


def manifest(ui: Any) -> Any:
    return manifest_from_data(
        NAME, "1.0", {"title": "Fake", "hooks": {"server": "a.b:C"}, "ui": ui}
    )


def problem(ui: Any) -> str:
    with pytest.raises(ManifestError) as caught:
        manifest(ui)
    return caught.value.problem


def test_pages_and_ui_api_are_parsed() -> None:
    parsed = manifest({"api": "shared/api.js", "pages": [PAGE]})
    (page,) = parsed.ui_pages
    assert (page.route, page.title, page.icon, page.apps) == (
        "tasks",
        "Tasks",
        "checklist",
        ("mobile",),
    )
    assert page.module_for("mobile") == "mobile/tasks.js"
    assert parsed.ui_api == "shared/api.js"


def test_a_plugin_without_ui_has_no_pages() -> None:
    parsed = manifest_from_data(NAME, "1.0", {"title": "Fake", "hooks": {"server": "a.b:C"}})
    assert parsed.ui_pages == () and parsed.ui_api is None


@pytest.mark.parametrize(
    "module",
    ["../x.js", "/abs/x.js", "a/../../x.js", "a\\x.js", "x.css", "./x.js", "a//x.js", ""],
)
def test_module_paths_must_stay_inside_ui_dist(module: str) -> None:
    assert "module must be a relative path" in problem({"pages": [{**PAGE, "module": module}]})


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"route": "Bad Route"}, ".route must match"),
        ({"title": " "}, ".title must be a non-empty string"),
        ({"apps": []}, ".apps must be a list of admin, desktop, mobile"),
        ({"apps": ["tv"]}, ".apps must be a list of admin, desktop, mobile"),
        ({"apps": ["mobile", "mobile"]}, ".apps must be a list"),
        ({"icon": "no spaces"}, ".icon must match"),
        ({"colour": "red"}, "unknown keys colour"),
    ],
)
def test_bad_pages_are_refused_naming_the_key(change: dict[str, Any], expected: str) -> None:
    assert expected in problem({"pages": [{**PAGE, **change}]})


def test_a_route_is_declared_once_per_app() -> None:
    assert "route 'tasks' twice in the mobile app" in problem({"pages": [PAGE, PAGE]})


def test_ui_must_be_a_table_of_known_keys() -> None:
    assert problem("pages") == "[ui] must be a table"
    assert problem({"widgets": []}) == "unknown keys in [ui]: widgets"
    assert problem({"api": "../api.js"}) == "ui.api must be a relative path to a .js module"
