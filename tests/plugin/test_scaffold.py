"""``peek.plugin.scaffold``: the project ``peek plugin new`` writes, checked file by file,
then built as a wheel, installed into a fresh directory and run as a third party would."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

import peek
from peek.plugin.manifest import parse_manifest
from peek.plugin.scaffold import MAX_NAME_LENGTH, ScaffoldError, scaffold_plugin

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = "peek_plugin_weather"
SUBPROCESS_TIMEOUT = 60.0
BOOT_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
POLL_INTERVAL = 0.1


def files_below(project: Path) -> set[str]:
    return {p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()}


def manifest_of(project: Path, package: str = PLUGIN) -> str:
    return (project / package / "plugin.toml").read_text(encoding="utf-8")


# -- the generated tree ---------------------------------------------------


def test_scaffold_writes_the_house_layout_for_the_chosen_services(tmp_path: Path) -> None:
    project = scaffold_plugin("weather", ["server", "client"], tmp_path)

    assert project == tmp_path / "peek-plugin-weather"
    assert files_below(project) == {
        "pyproject.toml",
        "README.md",
        "peek_plugin_weather/__init__.py",
        "peek_plugin_weather/plugin.toml",
        "peek_plugin_weather/server/__init__.py",
        "peek_plugin_weather/client/__init__.py",
        "peek_plugin_weather/tuples/__init__.py",
        "peek_plugin_weather/_private/__init__.py",
        "peek_plugin_weather/_private/server.py",
        "peek_plugin_weather/_private/client.py",
        "tests/test_weather.py",
    }


def test_prefixed_name_gives_the_same_project_as_the_short_one(tmp_path: Path) -> None:
    short = scaffold_plugin("weather_station", ["server"], tmp_path / "a")
    prefixed = scaffold_plugin("peek_plugin_weather_station", ["server"], tmp_path / "b")

    assert short.name == prefixed.name == "peek-plugin-weather-station"
    for name in files_below(short):
        assert (short / name).read_text() == (prefixed / name).read_text(), name


def test_manifest_is_valid_and_names_one_hook_per_service_in_service_order(
    tmp_path: Path,
) -> None:
    project = scaffold_plugin("weather", ["worker", "client", "server", "client"], tmp_path)

    manifest = parse_manifest(PLUGIN, "0.1.0", manifest_of(project))
    assert manifest.title == "Weather"
    assert manifest.hooks == {
        "server": "peek_plugin_weather._private.server:ServerHook",
        "client": "peek_plugin_weather._private.client:ClientHook",
        "worker": "peek_plugin_weather._private.worker:WorkerHook",
    }
    assert manifest.requires == {}
    assert manifest.peek.contains(peek.__version__, prereleases=True)


def test_worker_has_a_hook_but_no_public_api_package(tmp_path: Path) -> None:
    project = scaffold_plugin("tasks", ["worker"], tmp_path)

    assert "peek_plugin_tasks/_private/worker.py" in files_below(project)
    assert not (project / "peek_plugin_tasks" / "worker").exists()


@pytest.mark.parametrize(
    ("running", "peek_range", "dependency"),
    [
        ("0.1.0", ">=0.1,<1", "peek-platform>=0.1"),
        ("1.4.2", ">=1.4,<2", "peek-platform>=1.4"),
        ("2.0.0rc1", ">=2.0.dev0,<3", "peek-platform>=2.0.dev0"),
    ],
)
def test_supported_peek_versions_run_from_this_minor_up_to_the_next_major(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, running: str, peek_range: str, dependency: str
) -> None:
    monkeypatch.setattr(peek, "__version__", running)
    project = scaffold_plugin("weather", ["server"], tmp_path)

    manifest = parse_manifest(PLUGIN, "0.1.0", manifest_of(project))
    assert manifest.peek == SpecifierSet(peek_range)
    assert manifest.peek.contains(Version(running), prereleases=True)
    assert not manifest.peek.contains(Version(f"{Version(running).major + 1}.0"))
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["dependencies"] == [dependency]


def test_pyproject_declares_the_distribution_entry_point_and_package_data(
    tmp_path: Path,
) -> None:
    project = scaffold_plugin("weather_station", ["server"], tmp_path)

    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["build-system"]["build-backend"] == "setuptools.build_meta"
    meta = pyproject["project"]
    assert (meta["name"], meta["version"]) == ("peek-plugin-weather-station", "0.1.0")
    assert meta["entry-points"]["peek.plugins"] == {
        "peek_plugin_weather_station": "peek_plugin_weather_station"
    }
    assert "test" in meta["optional-dependencies"]
    package_data = pyproject["tool"]["setuptools"]["package-data"]
    assert package_data == {"peek_plugin_weather_station": ["plugin.toml"]}


def test_readme_says_how_to_install_and_test_and_names_every_file(tmp_path: Path) -> None:
    project = scaffold_plugin("weather", ["server", "agent"], tmp_path)

    readme = (project / "README.md").read_text()
    assert "pip install" in readme
    assert "pytest" in readme
    for name in files_below(project) - {"README.md"}:
        assert f"`{name}`" in readme, name


def test_an_existing_empty_directory_is_used(tmp_path: Path) -> None:
    (tmp_path / "peek-plugin-weather").mkdir()

    project = scaffold_plugin("weather", ["server"], tmp_path)

    assert (project / "peek_plugin_weather" / "plugin.toml").is_file()


def test_generated_code_passes_ruff_and_mypy_under_the_project_settings(
    tmp_path: Path,
) -> None:
    # The longest name allowed, on every service: no generated line may overflow.
    short = "w" * (MAX_NAME_LENGTH - 8) + "_station"
    project = scaffold_plugin(short, ["server", "client", "agent", "worker"], tmp_path)
    config = str(ROOT / "pyproject.toml")

    for command in (["check"], ["format", "--check"]):
        ruff = run_python(["-m", "ruff", *command, "--config", config, str(project)], cwd=ROOT)
        assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    mypy = run_python(
        [
            "-m",
            "mypy",
            "--config-file",
            config,
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            str(project / f"peek_plugin_{short}"),
            str(project / "tests" / f"test_{short}.py"),
        ],
        cwd=ROOT,
        env={**os.environ, "MYPYPATH": str(project)},
    )
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr


# -- refusals -------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Weather",
        "weather-station",
        "1weather",
        "weather_",
        "weather__station",
        "wea ther",
        "peek_plugin_",
        "peek_plugin_Weather",
        "w" * (MAX_NAME_LENGTH + 1),
    ],
)
def test_bad_names_are_refused_with_the_rule(tmp_path: Path, name: str) -> None:
    with pytest.raises(ScaffoldError) as caught:
        scaffold_plugin(name, ["server"], tmp_path)

    assert caught.value.name == name
    assert str(caught.value).startswith(f"cannot create plugin {name!r}: ")
    assert "lowercase" in str(caught.value) or str(MAX_NAME_LENGTH) in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_unknown_service_is_refused_naming_it_and_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(
        ScaffoldError,
        match=r"unknown service 'database' \(known: server, "
        r"client, agent, worker\)",
    ):
        scaffold_plugin("weather", ["server", "database"], tmp_path)

    assert list(tmp_path.iterdir()) == []


def test_no_service_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScaffoldError, match="at least one service"):
        scaffold_plugin("weather", [], tmp_path)


def test_an_existing_project_is_refused_and_left_alone(tmp_path: Path) -> None:
    existing = tmp_path / "peek-plugin-weather"
    existing.mkdir()
    (existing / "notes.txt").write_text("mine\n")

    with pytest.raises(ScaffoldError, match="already exists") as caught:
        scaffold_plugin("weather", ["server"], tmp_path)

    assert caught.value.path == existing
    assert files_below(existing) == {"notes.txt"}


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "peek-plugin-weather").write_text("")

    with pytest.raises(ScaffoldError, match="not an empty directory"):
        scaffold_plugin("weather", ["server"], tmp_path)


# -- end to end: a wheel, installed elsewhere, found and run ---------------


@dataclass(frozen=True)
class Installed:
    project: Path
    target: Path
    neutral: Path

    def env(self, **extra: str) -> dict[str, str]:
        """The caller's environment without Peek or pytest settings, plus the install dir."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PEEK", "PYTEST"))}
        env["PYTHONPATH"] = str(self.target)
        env.update(extra)
        return env


def run_python(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        check=False,
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """``peek plugin new weather`` built as a wheel and installed into its own directory."""
    base = tmp_path_factory.mktemp("third-party")
    project = scaffold_plugin("weather", ["server", "client"], base / "src")
    dist, target, neutral = base / "dist", base / "target", base / "neutral"
    neutral.mkdir()
    built = run_python(
        [
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-index",
            "--no-build-isolation",
            "-w",
            str(dist),
            str(project),
        ],
        cwd=neutral,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    [wheel] = dist.glob("peek_plugin_weather-0.1.0-*.whl")
    done = run_python(
        ["-m", "pip", "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)],
        cwd=neutral,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (target / PLUGIN / "plugin.toml").is_file()
    return Installed(project, target, neutral)


def test_installed_wheel_shows_up_in_plugin_list_with_its_version(installed: Installed) -> None:
    listed = run_python(
        ["-m", "peek", "plugin", "list", "--json"], cwd=installed.neutral, env=installed.env()
    )

    assert listed.returncode == 0, listed.stderr
    plugins = {p["name"]: p for p in json.loads(listed.stdout)["plugins"]}
    weather = plugins[PLUGIN]
    assert weather["error"] is None
    assert (weather["version"], weather["title"]) == ("0.1.0", "Weather")
    assert weather["services"] == ["server", "client"]


def test_installed_wheel_passes_its_own_generated_tests(installed: Installed) -> None:
    tests = run_python(
        ["-m", "pytest", "-p", "no:cacheprovider", str(installed.project / "tests")],
        cwd=installed.neutral,
        env=installed.env(),
    )

    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def server_process(
    installed: Installed, tmp_path: Path
) -> Iterator[tuple[subprocess.Popen[str], int, Path]]:
    data_dir = tmp_path / "data"
    admin_port = free_port()
    env = installed.env(
        PEEK__DATA_DIR=str(data_dir),
        PEEK__SERVER__ADMIN_PORT=str(admin_port),
        PEEK__SERVER__EXCHANGE_PORT=str(free_port()),
        PEEK__PLUGINS__ENABLED=json.dumps([PLUGIN]),
    )
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "peek", "server"],
        cwd=installed.neutral,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield proc, admin_port, data_dir
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(STOP_TIMEOUT)
        log.close()


def get_json(url: str, token: str | None = None) -> object:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as r:
        return json.load(r)


def wait_until_healthy(proc: subprocess.Popen[str], url: str, log: Path) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"peek server exited {proc.returncode}:\n{log.read_text()}"
        try:
            get_json(url)
            return
        except (urllib.error.URLError, OSError):
            time.sleep(POLL_INTERVAL)
    raise AssertionError(f"{url} did not answer within {BOOT_TIMEOUT} s:\n{log.read_text()}")


def test_installed_wheel_starts_on_a_real_server_that_exits_0_on_sigterm(
    server_process: tuple[subprocess.Popen[str], int, Path], tmp_path: Path
) -> None:
    proc, admin_port, data_dir = server_process
    log = tmp_path / "server.log"
    admin = f"http://127.0.0.1:{admin_port}"
    wait_until_healthy(proc, f"{admin}/healthz", log)

    token = (data_dir / "server" / "admin.token").read_text().strip()
    status = get_json(f"{admin}/api/status", token)
    assert isinstance(status, dict)
    [server] = [s for s in status["services"] if s["kind"] == "server"]
    states = {p["name"]: (p["state"], p["version"], p["error"]) for p in server["plugins"]}
    assert states == {PLUGIN: ("started", "0.1.0", None)}, log.read_text()

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(STOP_TIMEOUT) == 0, log.read_text()
    assert f"{PLUGIN} stopped on the server" in log.read_text()
