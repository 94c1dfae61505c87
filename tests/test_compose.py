"""docker-compose.yml, Dockerfile and .dockerignore agree with the CLI and the settings.

There is no Docker engine in CI, so these tests read the files and check them against the
real code: the command through `frontdoor.cli.parser()`, the environment through
`Settings.from_env`, the entry point through pyproject.toml's [project.scripts].
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import time
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
import yaml

from frontdoor.cli import parser
from frontdoor.settings import Settings
from support.slowloris import dribble, request, wait_for_port

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


def nginx_directives(text: str) -> dict[str, list[str]]:
    """{directive: [its arguments, one string per occurrence]} of an nginx config, blocks flattened
    (enough for a config that sets each value once, as deploy/nginx.conf does)."""
    body = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    found: dict[str, list[str]] = {}
    quoted_or_plain = r"""(?:'[^']*'|"[^"]*"|[^;{}'"])*?"""
    for name, args in re.findall(rf"(?:^|[;{{}}])\s*([a-z_]+)\s+({quoted_or_plain})\s*;", body, re.M):
        found.setdefault(name, []).append(args)
    return found


def nginx_seconds(value: str) -> float:
    match = re.fullmatch(r"([0-9]+)(ms|s|m)?", value)
    assert match, value
    return int(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[match.group(2)]


def nginx_upstream(conf: dict[str, list[str]]) -> str:
    """Where the proxy sends requests: proxy_pass, through the `set` variable it names if it does."""
    (target,) = conf["proxy_pass"]
    if target.startswith("$"):
        values = [args.split(None, 1)[1] for args in conf.get("set", []) if args.split()[0] == target]
        assert len(values) == 1, f"{target} is set {len(values)} times"
        target = values[0]
    return target


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
def proxy(services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return services["proxy"]


@pytest.fixture
def nginx_conf(repo_root: Path, proxy: dict[str, Any]) -> dict[str, list[str]]:
    """The directives of the config file the proxy service mounts as nginx's own."""
    source = volume_mounts(proxy).get("/etc/nginx/nginx.conf", "")
    assert source.startswith("./"), f"the proxy must mount a file of this repo at /etc/nginx/nginx.conf, got {source!r}"
    return nginx_directives((repo_root / source).read_text())


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


def test_the_three_services_exist(services: dict[str, dict[str, Any]]) -> None:
    assert {"redis", "app", "proxy"} <= set(services), sorted(services)


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


def test_app_command_is_serve_on_all_interfaces_and_only_the_proxy_reaches_it(app: dict[str, Any], serve_args: argparse.Namespace,
                                                                              nginx_conf: dict[str, list[str]]) -> None:
    assert serve_args.command == "serve"
    assert serve_args.host == "0.0.0.0", "inside a container 127.0.0.1 is unreachable from the proxy"
    published = container_ports(app)
    assert serve_args.port not in published, "the bare server is not meant to face the internet: publish the proxy's port"
    upstream = urlparse(nginx_upstream(nginx_conf))
    assert (upstream.hostname, upstream.port) == ("app", serve_args.port), upstream


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


# ---- the proxy in front (deploy/nginx.conf) --------------------------------------------------


def test_the_proxy_is_nginx_publishing_8080_and_reaching_the_app(proxy: dict[str, Any], nginx_conf: dict[str, list[str]]) -> None:
    assert re.fullmatch(r"(docker\.io/)?(library/)?nginx:1\.[0-9]+(\.[0-9]+)?(-alpine)?", proxy["image"]), proxy["image"]
    assert container_ports(proxy) == {8080: 8080}
    assert nginx_conf["listen"] == ["8080"]
    assert "app" in (proxy.get("depends_on") or {})


def test_the_proxy_bounds_slow_clients_and_their_connections(nginx_conf: dict[str, list[str]]) -> None:
    # A slowloris holds a connection for at most the header timeout; a slow body for the body timeout.
    for directive, most in (("client_header_timeout", 15), ("client_body_timeout", 30), ("send_timeout", 30),
                            ("keepalive_timeout", 75)):
        assert directive in nginx_conf, f"{directive} unset: nginx's default is 60 s"
        assert nginx_seconds(nginx_conf[directive][0]) <= most, (directive, nginx_conf[directive])
    zone = nginx_conf["limit_conn_zone"][0].split()
    assert zone[0] == "$binary_remote_addr", zone  # per client address, not per proxy
    name = zone[1].removeprefix("zone=").split(":")[0]
    assert [args.split()[0] for args in nginx_conf["limit_conn"]] == [name]
    assert 6 <= int(nginx_conf["limit_conn"][0].split()[1]) <= 100  # a browser opens six
    assert nginx_conf["limit_conn_status"] == ["429"]


def test_the_proxy_logs_no_addresses_and_answers_its_refusals_as_json(nginx_conf: dict[str, list[str]]) -> None:
    assert nginx_conf["access_log"] == ["off"]
    level = nginx_conf["error_log"][0].split()[-1]
    assert level in ("crit", "alert", "emerg"), "nginx's error lines at error level and below name the client"
    pages = {code for args in nginx_conf["error_page"] for code in args.split()[:-2]}
    assert {"413", "429", "502", "503", "504"} <= pages, pages
    returns = [json.loads(args.split(None, 1)[1].strip("'")) for args in nginx_conf["return"]]
    assert returns and all(set(body) == {"error", "message"} for body in returns), returns


def test_the_app_trusts_the_address_the_proxy_puts_in_x_forwarded_for(app: dict[str, Any], nginx_conf: dict[str, list[str]]) -> None:
    headers = dict(args.split(None, 1) for args in nginx_conf["proxy_set_header"])
    # Replaced with the address nginx saw, not appended to what the client sent.
    assert headers.get("X-Forwarded-For") == "$remote_addr", headers
    assert Settings.from_env(environment(app, {})).web.trust_forwarded_for is True
    # Longer than the app's own deadline, so the app's 503 with its reason comes through.
    deadline = Settings.from_env(environment(app, {})).request_timeout_s
    assert nginx_seconds(nginx_conf["proxy_read_timeout"][0]) > deadline


def _docker_compose() -> list[str] | None:
    """`docker compose` (or `docker-compose`) where a Docker engine answers; None elsewhere."""
    for argv in (["docker", "compose"], ["docker-compose"]):
        if shutil.which(argv[0]) is None:
            continue
        try:
            version = subprocess.run([*argv, "version"], capture_output=True, timeout=30)
            engine = subprocess.run(["docker", "info"], capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if version.returncode == 0 and engine.returncode == 0:
            return argv
    return None


def test_compose_up_behind_the_proxy_cuts_a_slowloris_off(repo_root: Path, tmp_path: Path) -> None:
    """The whole set-up for real: built, started, a normal request and a slowloris through 8080."""
    compose = _docker_compose()
    if compose is None:
        pytest.skip("no Docker engine here (`docker info` fails or compose is missing): the compose set-up is "
                    "checked from its files above and nginx's config by tests/test_slowloris.py")
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", 8080)) == 0:
            pytest.skip("port 8080 is taken on this host: docker-compose.yml publishes the proxy there")
    project = [*compose, "--project-directory", str(repo_root), "-p", f"frontdoor-test-{tmp_path.name[-8:].lower()}"]
    env = {**os.environ, "FRONTDOOR_SECRET_KEY": "0123456789abcdef" * 4}
    subprocess.run([*project, "up", "-d", "--build"], check=True, env=env, timeout=900)
    try:
        wait_for_port(8080, timeout_s=120)
        for _ in range(120):  # nginx answers 503 (in JSON) until the app is up behind it
            with contextlib.suppress(OSError):
                if request(8080, "GET", "/healthz")[0] == 200:
                    break
            time.sleep(1)
        status, body = request(8080, "POST", "/api/v1/reports", {"category": "csam", "urls": ["https://example.com/page"]})
        assert status == 201, body
        header_timeout = nginx_seconds(nginx_directives((repo_root / "deploy/nginx.conf").read_text())["client_header_timeout"][0])
        held = dribble(8080, give_up_s=header_timeout + 20)
        assert header_timeout - 1 <= held <= header_timeout + 5, held
    finally:
        subprocess.run([*project, "down", "-v"], env=env, timeout=300)


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
    assert set(container_ports(app)) == {smtp_port}  # HTTP goes through the proxy


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
