"""No Docker engine runs here, so the compose file is checked against the project by reading it."""

from pathlib import Path

import yaml

from exchange.pipeline.deploy import DAG_FILE_REPARSE_S, SCHEDULER_IDLE_SLEEP_S
from exchange.pipeline.pools import DB_POOL, DB_POOL_SLOTS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
AIRFLOW_SERVICES = ("airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")


def test_services_of_a_real_deployment_are_present():
    assert {"postgres", "airflow-init", *AIRFLOW_SERVICES} <= set(COMPOSE["services"])


def test_airflow_services_run_the_airflow_3_commands():
    commands = {name: COMPOSE["services"][name]["command"] for name in AIRFLOW_SERVICES}
    # `airflow scheduler` with dbt imported first (tests/test_preload.py)
    assert commands["airflow-scheduler"] == ["python", "-m", "exchange.pipeline.preload", "scheduler"]
    assert commands["airflow-dag-processor"] == ["airflow", "dag-processor"]
    assert commands["airflow-triggerer"] == ["airflow", "triggerer"]
    assert commands["airflow-api-server"][:2] == ["airflow", "api-server"]


def test_every_airflow_service_shares_the_data_volume_and_finds_the_project():
    for name in AIRFLOW_SERVICES:
        service = COMPOSE["services"][name]
        env = service["environment"]
        assert "exchange-data:/srv/exchange" in service["volumes"]
        assert env["EXCHANGE_HOME"] == "/srv/exchange"
        assert Path(env["AIRFLOW__CORE__DAGS_FOLDER"]).name == "dags"
        assert env["EXCHANGE_DB_URL"].startswith("postgresql://")


def test_secrets_come_from_the_env_file_and_the_example_names_them_all():
    example = (ROOT / "deploy" / "exchange.env.example").read_text()
    text = (ROOT / "docker-compose.yml").read_text()
    for var in ("POSTGRES_PASSWORD", "EXCHANGE_DB_PASSWORD", "AIRFLOW_DB_PASSWORD"):
        assert f"${{{var}}}" in text and f"{var}=" in example
    # tasks authenticate to the api-server with the JWT secret: one value for every Airflow container
    shared = {"AIRFLOW__API_AUTH__JWT_SECRET": "AIRFLOW_JWT_SECRET", "AIRFLOW__CORE__FERNET_KEY": "AIRFLOW_FERNET_KEY",
              "AIRFLOW__API__SECRET_KEY": "AIRFLOW_API_SECRET_KEY"}
    for name in AIRFLOW_SERVICES:
        env = COMPOSE["services"][name]["environment"]
        for setting, var in shared.items():
            assert env[setting].startswith(f"${{{var}:?"), (name, setting)
    assert all(f"\n{var}=" in example for var in shared.values())
    assert "EXCHANGE_PSEUDONYM_KEY=" in example
    assert "deploy/exchange.env" in (ROOT / ".gitignore").read_text()


def test_image_installs_this_project_and_copies_what_the_dags_need():
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for part in ("pip install --no-cache-dir -e .", "COPY dags", "COPY dbt_project", "COPY expectations", "COPY plugins", "COPY tools"):
        assert part in dockerfile
    for mount in COMPOSE["services"]["postgres"]["volumes"]:
        source = mount.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).exists()


def test_portal_serves_the_api_on_the_shared_volume_after_the_migrations():
    from exchange.cli.main import main

    portal = COMPOSE["services"]["portal"]
    assert portal["command"][:2] == ["exchange", "serve"] and "serve" in main.commands
    port = portal["command"][portal["command"].index("--port") + 1]
    assert f"{port}:{port}" in portal["ports"] and portal["command"][portal["command"].index("--host") + 1] == "0.0.0.0"
    assert "exchange-data:/srv/exchange" in portal["volumes"]
    assert portal["environment"]["EXCHANGE_HOME"] == "/srv/exchange"
    assert portal["environment"]["EXCHANGE_DB_URL"] == COMPOSE["services"]["airflow-scheduler"]["environment"]["EXCHANGE_DB_URL"]
    assert portal["env_file"] == "deploy/exchange.env"  # the pseudonym key: the same borrower keys as the pipeline
    assert portal["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    assert "/v1/health" in " ".join(portal["healthcheck"]["test"])


def test_the_exchange_database_owner_may_create_the_access_roles():
    init = (ROOT / "deploy" / "init-databases.sh").read_text()
    assert "create role exchange login createrole" in init


def test_the_init_creates_the_pool_the_dags_name_with_the_slots_of_exchange_airflow_up():
    command = COMPOSE["services"]["airflow-init"]["command"][-1]
    assert f"airflow pools set {DB_POOL} {DB_POOL_SLOTS} " in command


def test_the_scheduler_sleeps_after_an_idle_loop_as_long_as_under_exchange_airflow_up():
    assert COMPOSE["services"]["airflow-scheduler"]["environment"]["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"] \
        == SCHEDULER_IDLE_SLEEP_S


def test_the_dag_processor_parses_unchanged_files_as_often_as_under_exchange_airflow_up():
    assert COMPOSE["services"]["airflow-dag-processor"]["environment"][
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL"] == DAG_FILE_REPARSE_S
