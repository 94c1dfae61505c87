"""docker-compose.yml, Dockerfile and .dockerignore agree with the CLI and the settings.

There is no Docker engine in CI, so these tests read the files and check them against the
real code: the command through `frontdoor.cli.parser()`, the environment through
`Settings.from_env`, the entry point through pyproject.toml's [project.scripts].
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from frontdoor.cli import parser
from frontdoor.settings import Settings

# Values an operator could put in .env, valid for Settings.from_env.
OPERATOR_ENV = {
    "FRONTDOOR_SECRET_KEY": "0123456789abcdef" * 4,
    "FRONTDOOR_HOTLINE_COUNTRY": "GB",
    "FRONTDOOR_LOG_LEVEL": "DEBUG",
}


# ---- helpers ---------------------------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}|\$(?P<bare>[A-Za-z_][A-Za-z0-9_]*)")


def interpolate(value: str, shell: Mapping[str, str]) -> str:
    """Compose's variable substitution: ${VAR}, $VAR, ${VAR:-default}, ${VAR-default},
    ${VAR:?error}, ${VAR?error} and $$."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("name") or match.group("bare")
        op, arg = match.group("op"), match.group("arg") or ""
        present = name in shell
        empty = not shell.get(name)
        if op in (":-", "-"):
            return arg if (empty if op == ":-" else not present) else shell[name]
        if op in (":?", "?"):
            if empty if op == ":?" else not present:
                raise AssertionError(f"${{{name}}} is required: {arg}")
            return shell[name]
        return shell.get(name, "")

    return _INTERPOLATION.sub(sub, value)


def as_argv(command: Any) -> list[str]:
    if isinstance(command, str):
        return shlex.split(command)
    assert isinstance(command, list) and all(isinstance(a, (str, int)) for a in command), command
    return [str(a) for a in command]


def environment(service: dict[str, Any], shell: Mapping[str, str]) -> dict[str, str]:
    """A service's environment as the container would see it, given the operator's shell/.env."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = [item.split("=", 1) if "=" in item else [item, shell.get(item, "")] for item in raw]
        raw = dict(pairs)
    return {key: interpolate("" if value is None else str(value), shell) for key, value in raw.items()}


def container_ports(service: dict[str, Any]) -> dict[int, int]:
    """{container port: host port} for every TCP port a service publishes."""
    published: dict[int, int] = {}
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            if entry.get("protocol", "tcp") == "tcp":
                published[int(entry["target"])] = int(entry.get("published") or entry["target"])
            continue
        spec, _, protocol = str(entry).partition("/")
        if protocol not in ("", "tcp"):
            continue
        parts = spec.rsplit(":", 2)
        if len(parts) == 1:
            continue  # a bare container port gets an ephemeral host port: nothing fixed to check
        published[int(parts[-1])] = int(parts[-2])
    return published


def volume_mounts(service: dict[str, Any]) -> dict[str, str]:
    """{target: source} for a service's volumes (short or long syntax)."""
    mounts: dict[str, str] = {}
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            mounts[entry["target"]] = entry.get("source", "")
        else:
            source, _, rest = str(entry).partition(":")
            if rest:
                mounts[rest.split(":")[0]] = source
            else:
                mounts[source] = ""  # anonymous volume
    return mounts


def parse_cli(argv: list[str]) -> argparse.Namespace:
    try:
        return parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"the frontdoor CLI rejects {argv!r}")


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of every line of a Dockerfile, continuation lines joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # comment lines inside a continuation are dropped by Docker
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append((keyword.upper(), args.strip()))
    assert not pending, "the Dockerfile ends inside a line continuation"
    return instructions


def dockerfile_final_stage(path: Path) -> list[tuple[str, str]]:
    """The instructions of the Dockerfile's last stage: the image that runs."""
    instructions = dockerfile_instructions(path)
    froms = [i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM"]
    assert froms, "the Dockerfile has no FROM"
    return instructions[froms[-1]:]


def exec_form(instructions: list[tuple[str, str]], keyword: str) -> list[str]:
    found = [args for kw, args in instructions if kw == keyword]
    assert found, f"the final stage has no {keyword}"
    value = found[-1]
    # Exec form only: shell form would run under /bin/sh, which does not pass SIGTERM on.
    assert value.startswith("["), f"{keyword} must use the exec (JSON) form, got {value!r}"
    parsed = json.loads(value)
    assert isinstance(parsed, list) and all(isinstance(a, str) for a in parsed)
    return parsed


def dockerfile_env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, args in instructions:
        if keyword != "ENV":
            continue
        tokens = shlex.split(args)
        if tokens and "=" not in tokens[0]:  # legacy `ENV KEY value`
            env[tokens[0]] = " ".join(tokens[1:])
        else:
            for token in tokens:
                key, _, value = token.partition("=")
                env[key] = value
    return env


# ---- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def compose(repo_root: Path) -> dict[str, Any]:
    data = yaml.safe_load((repo_root / "docker-compose.yml").read_text())
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


@pytest.fixture
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


@pytest.fixture
def app(services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return services["app"]


@pytest.fixture
def redis_service(services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return services["redis"]


@pytest.fixture
def stage(repo_root: Path, app: dict[str, Any]) -> list[tuple[str, str]]:
    build = app["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    return dockerfile_final_stage(repo_root / context / dockerfile)


@pytest.fixture
def serve_args(app: dict[str, Any]) -> argparse.Namespace:
    return parse_cli(as_argv(app["command"]))


# ---- docker-compose.yml ----------------------------------------------------------------------


def test_both_services_exist(services: dict[str, dict[str, Any]]) -> None:
    assert {"redis", "app"} <= set(services), sorted(services)


def test_redis_is_redis_7_with_aof_everysec(redis_service: dict[str, Any]) -> None:
    assert re.fullmatch(r"(docker\.io/)?(library/)?redis:7([.-][\w.-]*)?", redis_service["image"]), redis_service["image"]
    argv = as_argv(redis_service["command"])
    assert argv[0] == "redis-server", argv
    options = {argv[i]: argv[i + 1] for i in range(1, len(argv) - 1) if argv[i].startswith("--")}
    assert options.get("--appendonly") == "yes", argv
    assert options.get("--appendfsync") == "everysec", argv


def test_redis_data_is_on_a_declared_named_volume(compose: dict[str, Any], redis_service: dict[str, Any]) -> None:
    # /data is the redis image's working directory: the AOF lands there and nowhere else.
    source = volume_mounts(redis_service).get("/data")
    assert source, "redis must mount a volume at /data"
    assert not source.startswith((".", "/", "~")), f"redis /data should be a named volume, not the bind mount {source!r}"
    assert source in (compose.get("volumes") or {}), f"volume {source!r} is not declared under top-level volumes"


def test_redis_is_healthchecked_with_ping_and_not_published(redis_service: dict[str, Any]) -> None:
    test = redis_service["healthcheck"]["test"]
    argv = as_argv(test)
    if argv[0] in ("CMD", "CMD-SHELL"):
        argv = argv[1:] if argv[0] == "CMD" else shlex.split(argv[1])
    assert argv[:1] == ["redis-cli"] and "ping" in [a.lower() for a in argv], test
    # This Redis has no password: it must not be reachable from the host's interfaces.
    assert not redis_service.get("ports"), redis_service.get("ports")


def test_app_builds_from_the_repo_dockerfile(repo_root: Path, app: dict[str, Any]) -> None:
    build = app["build"]
    context = build if isinstance(build, str) else build.get("context")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    assert context in (".", "./"), build
    assert (repo_root / context / dockerfile).is_file()


def test_app_command_is_serve_on_all_interfaces_and_the_published_port(app: dict[str, Any], serve_args: argparse.Namespace) -> None:
    assert serve_args.command == "serve"
    assert serve_args.host == "0.0.0.0", "inside a container 127.0.0.1 is unreachable from the published port"
    published = container_ports(app)
    assert serve_args.port in published, f"serve listens on {serve_args.port}, compose publishes container ports {sorted(published)}"


def test_app_waits_for_a_healthy_redis(app: dict[str, Any], redis_service: dict[str, Any]) -> None:
    depends = app["depends_on"]
    assert isinstance(depends, dict), "use the long form of depends_on so the condition is service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert "healthcheck" in redis_service, "service_healthy needs a healthcheck on redis"


class _Recording(dict[str, str]):
    """An environment that records which names Settings.from_env looks up."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)


@pytest.mark.parametrize("shell", [{}, OPERATOR_ENV], ids=["defaults", "operator-env"])
def test_app_environment_is_valid_for_settings(app: dict[str, Any], services: dict[str, dict[str, Any]],
                                               shell: dict[str, str]) -> None:
    env = environment(app, shell)
    recording = _Recording(env)
    settings = Settings.from_env(recording)  # raises ConfigError on any invalid value

    unknown = {name for name in env if name.startswith("FRONTDOOR_")} - recording.read
    assert not unknown, f"Settings.from_env never reads {sorted(unknown)} (typo?); it reads {sorted(recording.read)}"

    assert settings.redis_url is not None, "without FRONTDOOR_REDIS_URL the app would start its own embedded Redis"
    url = urlparse(settings.redis_url)
    assert url.scheme == "redis"
    assert url.hostname in services and services[url.hostname].get("image", "").startswith("redis"), url.hostname
    assert url.hostname == "redis"
    assert url.port in (None, 6379), "the redis image listens on 6379"

    # The data directory (the generated secret key when none is set) is on a named volume.
    assert str(settings.data_dir) in volume_mounts(app), f"{settings.data_dir} is not a volume: secret.key would die with the container"
    for name, value in shell.items():
        if name in env:
            assert env[name] == value, f"{name} from the operator's environment does not reach the container"


# ---- Dockerfile ------------------------------------------------------------------------------


def test_dockerfile_base_and_user(stage: list[tuple[str, str]]) -> None:
    assert stage[0][1].split()[0] == "python:3.11-slim", stage[0]
    users = [args for keyword, args in stage if keyword == "USER"]
    assert users, "the image must not run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users[-1]


def test_dockerfile_entrypoint_is_the_project_script(repo_root: Path, stage: list[tuple[str, str]]) -> None:
    scripts = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["scripts"]
    entrypoint = exec_form(stage, "ENTRYPOINT")
    assert entrypoint == ["frontdoor"]
    assert scripts.get(entrypoint[0]) == "frontdoor.cli:main", scripts


def test_dockerfile_cmd_and_expose_match_compose(stage: list[tuple[str, str]], app: dict[str, Any],
                                                 serve_args: argparse.Namespace) -> None:
    cmd = parse_cli(exec_form(stage, "CMD"))
    assert (cmd.command, cmd.host, cmd.port) == ("serve", "0.0.0.0", serve_args.port)
    exposed = {int(port.split("/")[0]) for keyword, args in stage if keyword == "EXPOSE" for port in args.split()}
    # HTTP where serve listens, and SMTP on the e-mail channel's port (FRONTDOOR_SMTP_PORT, 2525 by default).
    smtp_port = Settings.from_env({}).email.port
    assert exposed == {serve_args.port, smtp_port}, exposed
    assert set(container_ports(app)) == exposed


def test_dockerfile_data_dir_is_a_volume(stage: list[tuple[str, str]], app: dict[str, Any]) -> None:
    env = dockerfile_env(stage)
    assert env.get("FRONTDOOR_DATA_DIR") == "/data", env
    assert Settings.from_env(env).data_dir == Path("/data")
    volumes = [args for keyword, args in stage if keyword == "VOLUME"]
    declared = {v for args in volumes for v in (json.loads(args) if args.startswith("[") else args.split())}
    assert "/data" in declared, volumes
    assert "/data" in volume_mounts(app)


def test_dockerfile_healthcheck_hits_healthz_with_urllib(stage: list[tuple[str, str]]) -> None:
    from aiohttp import web

    from frontdoor.api.public import add_routes

    checks = [args for keyword, args in stage if keyword == "HEALTHCHECK"]
    assert checks, "no HEALTHCHECK"
    options, _, command = checks[-1].partition("CMD ")
    argv = json.loads(command) if command.startswith("[") else shlex.split(command)
    assert argv[:2] == ["python", "-c"], argv
    compile(argv[2], "<healthcheck>", "exec")  # the probe is valid Python
    assert "urllib.request" in argv[2]
    urls = re.findall(r"https?://[^'\"\s]+", argv[2])
    assert len(urls) == 1, urls
    url = urlparse(urls[0])
    exposed = {int(port.split("/")[0]) for keyword, args in stage if keyword == "EXPOSE" for port in args.split()}
    assert url.port in exposed, f"the health check probes port {url.port}, the image exposes {exposed}"

    app = web.Application()
    add_routes(app)
    paths = {resource.canonical for resource in app.router.resources()}
    assert url.path in paths, f"{url.path} is not a route of the app"
    assert url.path == "/healthz"


def test_dockerfile_installs_without_dev_extras(repo_root: Path) -> None:
    # Every stage: the wheels built in the build stage are what the runtime stage installs.
    runs = [args for keyword, args in dockerfile_instructions(repo_root / "Dockerfile") if keyword == "RUN"]
    pip = [run for run in runs if re.search(r"\bpip (install|wheel)\b", run)]
    assert pip, "the project is not installed with pip"
    extras = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for run in pip:
        requested = re.findall(r"(?:\.|hotline-frontdoor)\[([^\]]*)\]", run)
        dev = {name.strip() for group in requested for name in group.split(",")} & set(extras)
        assert not dev, f"the image installs the extras {sorted(dev)}: {run}"


# ---- .dockerignore ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", [".venv", ".git", "data", ".env", "data/secret.key", "frontdoor/__pycache__",
                                  ".pytest_cache", ".mypy_cache", ".hypothesis", "test-artifacts"])
def test_dockerignore_keeps_out(repo_root: Path, path: str) -> None:
    patterns = [line.strip().rstrip("/") for line in (repo_root / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.strip().startswith("#")]
    assert not any(p.startswith("!") for p in patterns), "a re-include could bring secrets back in"

    def ignored(candidate: str) -> bool:
        parts = candidate.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        for pattern in patterns:
            regex = re.escape(pattern.lstrip("/")).replace(r"\*\*/", "(.*/)?").replace(r"\*", "[^/]*")
            if any(re.fullmatch(regex, prefix) for prefix in prefixes):
                return True
        return False

    assert ignored(path), f"{path} would be sent to the Docker build context"


def test_dockerignore_keeps_the_package_in(repo_root: Path) -> None:
    patterns = {line.strip().rstrip("/") for line in (repo_root / ".dockerignore").read_text().splitlines()}
    for needed in ("frontdoor", "pyproject.toml", "*", "**"):
        assert needed not in patterns, f"{needed} is ignored: the image could not be built"
