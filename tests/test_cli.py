"""The operator's command line, run as users run it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from messagecenter.cli import main
from tests.live_server import free_port


@pytest.fixture
def sqlite_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("MESSAGECENTER_DATABASE_URL", url)
    monkeypatch.setenv("MESSAGECENTER_SECRET_KEY", "cli-test")
    return url


def test_business_create_prints_the_owner_password_and_an_api_key(
    sqlite_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "business", "create", "--name", "Glow Spa", "--country", "GB",
            "--timezone", "Europe/London", "--business-phone", "020 7946 0000",
            "--allowance", "250", "--policy", "allow_overage", "--overage-price", "0.04",
            "--owner-email", "Owner@Glow.example", "--sms-number", "auto",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert re.search(r"Owner login:\s+owner@glow\.example / \S{8,}", out)
    key = re.search(r"API key:\s+(mc_\S+)", out)
    assert key is not None
    assert re.search(r"SMS number:\s+\+447400123\d{3}", out)  # a UK mobile, not the landline


def test_business_create_refuses_an_unserved_country(
    sqlite_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "business", "create", "--name", "Salon", "--country", "FR",
            "--timezone", "Europe/Paris", "--business-phone", "+33142685300",
            "--allowance", "100", "--owner-email", "a@b.example",
        ]
    )  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "United States, Canada, Australia" in err and "FR" in err


def test_demo_runs_twice_without_harm(sqlite_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    first = capsys.readouterr().out
    assert "Demo business created." in first
    assert main(["demo"]) == 0
    second = capsys.readouterr().out
    assert "Demo business already there." in second
    number = re.search(r"SMS number \(simulated\): (\+\d+)", first)
    assert number is not None and number.group(1) in second


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    for command in (["serve"], ["worker"], ["db", "upgrade"], ["demo"], ["business", "create"]):
        with pytest.raises(SystemExit) as exit_info:
            main([*command, "--help"])
        assert exit_info.value.code == 0
        assert "usage: messagecenter" in capsys.readouterr().out


def test_worker_refuses_sqlite(sqlite_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["worker"]) == 2
    assert "PostgreSQL" in capsys.readouterr().err


def test_serve_migrates_and_answers_health_checks(tmp_path: Path) -> None:
    """`messagecenter serve` on a fresh SQLite file: migrates, serves, stops on SIGTERM."""
    port = free_port()
    env = {
        **os.environ,
        "MESSAGECENTER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.db'}",
        "MESSAGECENTER_PUBLIC_URL": f"http://127.0.0.1:{port}",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "messagecenter.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                reply = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        assert reply.status_code == 200
        assert reply.json() == {"status": "ok", "database": "ok"}
        assert (tmp_path / ".messagecenter-secret").exists()  # generated once, beside the file
    finally:
        process.terminate()
        process.wait(timeout=15)
