"""``plugin.toml`` validation: every problem is a ManifestError that names it."""

from __future__ import annotations

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from peek.plugin import ManifestError, PluginError
from peek.plugin.manifest import parse_manifest

from .fakes import manifest_text

NAME = "peek_plugin_fake"
HOOKS = {"server": "peek_plugin_fake._private.server:ServerHook"}


def parse(text: str, *, name: str = NAME, version: str = "1.0"):
    return parse_manifest(name, version, text)


def problem_of(text: str, *, name: str = NAME, version: str = "1.0") -> str:
    with pytest.raises(ManifestError) as caught:
        parse(text, name=name, version=version)
    assert caught.value.plugin == name
    assert isinstance(caught.value, PluginError)
    assert caught.value.problem in str(caught.value)
    return caught.value.problem


def test_valid_manifest_is_parsed_into_typed_fields() -> None:
    text = manifest_text(
        title="  Fake plugin ",
        peek=">=0.1,<1",
        hooks={"client": "a.b:C", "server": "a.b:S"},
        requires={"peek_plugin_user": ">=0.1", "inbox": "~=2.0"},
        provides={"user_directory": "1.2"},
    )

    manifest = parse(text, version="1.4.0")

    assert manifest.name == NAME
    assert manifest.api == "fake"
    assert manifest.version == Version("1.4.0")
    assert manifest.title == "Fake plugin"
    assert manifest.services == ("server", "client")
    assert manifest.requires == {"user": SpecifierSet(">=0.1"), "inbox": SpecifierSet("~=2.0")}
    assert manifest.peek == SpecifierSet(">=0.1,<1")
    assert manifest.provided_apis() == {"fake": Version("1.4.0"), "user_directory": Version("1.2")}


@pytest.mark.parametrize(
    "name",
    ["peek_plugin_", "plugin_fake", "peek-plugin-fake", "peek_plugin_Fake", "peek_plugin_1fake"],
)
def test_invalid_plugin_name_is_rejected(name: str) -> None:
    assert "plugin names must match" in problem_of(manifest_text(hooks=HOOKS), name=name)


def test_invalid_toml_is_rejected() -> None:
    assert "is not valid TOML" in problem_of('title = "unterminated\n')


def test_distribution_version_must_be_pep440() -> None:
    assert "'latest' is not a PEP 440 version" in problem_of(
        manifest_text(hooks=HOOKS), version="latest"
    )


def test_unknown_top_level_keys_are_rejected_by_name() -> None:
    text = 'colour = "blue"\nauthor = "x"\n' + manifest_text(hooks=HOOKS)

    assert problem_of(text) == "unknown keys in plugin.toml: author, colour"


@pytest.mark.parametrize("title", ['""', '"   "', "3"])
def test_title_must_be_a_non_empty_string(title: str) -> None:
    text = manifest_text(hooks=HOOKS).replace('title = "Fake"', f"title = {title}")

    assert problem_of(text) == "'title' must be a non-empty string"


def test_at_least_one_service_hook_is_required() -> None:
    assert problem_of(manifest_text(hooks={})) == "[hooks] must name at least one service"


def test_hooks_must_be_a_table() -> None:
    text = 'title = "Fake"\nhooks = "server"\n'

    assert problem_of(text) == "[hooks] must be a table"


def test_hook_for_unknown_service_is_rejected() -> None:
    problem = problem_of(manifest_text(hooks={"desktop": "a.b:C"}))

    assert "unknown service 'desktop'" in problem
    assert "server, client, agent, worker" in problem


@pytest.mark.parametrize(
    "ref",
    ["peek_plugin_fake.server", "peek_plugin_fake.server:", ":ServerHook", "a b:C", "a.b:C.D"],
)
def test_hook_reference_must_be_module_colon_class(ref: str) -> None:
    problem = problem_of(manifest_text(hooks={"server": ref}))

    assert problem == "hooks.server must look like 'package.module:Class'"


def test_hook_reference_must_be_a_string() -> None:
    text = 'title = "Fake"\n[hooks]\nserver = 3\n'

    assert problem_of(text) == "hooks.server must look like 'package.module:Class'"


@pytest.mark.parametrize("spec", ["1.0", ">=one", "=>1", ">=1;<2"])
def test_requirement_version_range_must_be_pep440(spec: str) -> None:
    problem = problem_of(manifest_text(hooks=HOOKS, requires={"user": spec}))

    assert problem == f"requires.user: {spec!r} is not a PEP 440 version range"


def test_requirement_version_range_must_be_a_string() -> None:
    text = manifest_text(hooks=HOOKS) + "\n[requires]\nuser = 1\n"

    assert problem_of(text) == "requires.user must be a version range string like '>=1.0,<2'"


def test_peek_version_range_must_be_pep440() -> None:
    problem = problem_of(manifest_text(hooks=HOOKS, peek="0.1+"))

    assert problem == "peek: '0.1+' is not a PEP 440 version range"


def test_invalid_requirement_api_name_is_rejected() -> None:
    problem = problem_of(manifest_text(hooks=HOOKS, requires={"User-Dir": ">=1"}))

    assert problem == "requires.User-Dir: not a valid API name"


def test_provided_api_version_must_be_a_version() -> None:
    problem = problem_of(manifest_text(hooks=HOOKS, provides={"user": ">=1.0"}))

    assert problem == "provides.user: '>=1.0' is not a version"


@pytest.mark.parametrize("key", ["fake", "peek_plugin_fake"])
def test_plugin_cannot_require_itself(key: str) -> None:
    problem = problem_of(manifest_text(hooks=HOOKS, requires={key: ">=0"}))

    assert problem == "a plugin cannot require itself"
