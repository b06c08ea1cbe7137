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
    assert process.stdout is not None
    assert b"warning" not in process.stdout.read()  # on loopback the simulator is not exposed


# ---------------------------------------------------------------------------- bad input


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error"), err
    return lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("MESSAGECENTER_DATABASE_URL", "not a url", "not a database URL"),
        ("MESSAGECENTER_DATABASE_URL", "mysql://shop@127.0.0.1/mc", "SQLite or PostgreSQL"),
        ("MESSAGECENTER_DATABASE_URL", "sqlite:///{tmp}/a-file/mc.db", "directory"),
        ("MESSAGECENTER_DATABASE_URL", "postgresql://mc:sekrit@127.0.0.1:{port}/m", "cannot reach"),
        ("MESSAGECENTER_CARRIER", "bogus", "'simulator' or 'twilio'"),
        ("MESSAGECENTER_SIMULATOR_FAILURE_RATE", "2", "less than or equal to 1"),
        ("MESSAGECENTER_PUBLIC_URL", "not a url", "http(s) URL"),
        ("MESSAGECENTER_PUBLIC_URL", "https://sms.example.com:99999", "not a web address"),
        ("MESSAGECENTER_CONTENT_RULES_FILE", "{tmp}/no-rules.toml", "No such file"),
        ("MESSAGECENTER_CONTENT_RULES_FILE", "{tmp}/a-file", "content rules file"),
        ("MESSAGECENTER_OPERATOR_TOKEN", "short", "at least 24 random characters"),
    ],
)
def test_a_bad_setting_says_which_in_one_line(
    sqlite_env: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    says: str,
) -> None:
    (tmp_path / "a-file").write_text("not a directory")  # root may write anywhere else
    monkeypatch.setenv(variable, value.format(tmp=tmp_path, port=free_port()))

    assert main(["db", "upgrade"]) == 2

    line = _one_error_line(capsys.readouterr().err)
    assert variable in line and says in line
    assert "sekrit" not in line  # a database password is never shown


def test_twilio_without_credentials_is_refused_by_each_command_that_needs_it(
    sqlite_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MESSAGECENTER_CARRIER", "twilio")
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    monkeypatch.delenv("TWILIO_AUTH_TOKEN", raising=False)
    for command in (
        ["serve"],
        ["demo"],
        ["business", "create", *BUSINESS, "--owner-email", "t@glow.example"],
    ):
        assert main(command) == 1, command
        line = _one_error_line(capsys.readouterr().err)
        assert "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN" in line, command


BUSINESS = [
    "--name", "Glow", "--country", "US", "--timezone", "America/New_York",
    "--business-phone", "+12125550100", "--allowance", "100",
]  # fmt: skip


@pytest.mark.parametrize(
    ("option", "says"),
    [
        (["--overage-price", "NaN"], "a number such as 0.05"),
        (["--overage-price", "1e30"], "at most 999999.9999"),
        (["--overage-price", "0.00001"], "4 decimal places"),
        (["--allowance", "99999999999"], "at most 2147483647"),
    ],
)
def test_a_price_or_allowance_the_plan_cannot_hold_is_refused(
    sqlite_env: str, capsys: pytest.CaptureFixture[str], option: list[str], says: str
) -> None:
    code = main(["business", "create", *BUSINESS, "--owner-email", "p@glow.example", *option])
    assert code == 2
    assert says in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    ("option", "says"),
    [
        (["--port", "99999"], "--port"),
        (["--port", "0"], "--port"),
        (["--workers", "0"], "--workers"),
    ],
)
def test_serve_refuses_a_port_or_worker_count_that_cannot_be(
    sqlite_env: str, capsys: pytest.CaptureFixture[str], option: list[str], says: str
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", *option])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"error: argument {says}" in err and "Traceback" not in err


def test_number_suggest_says_when_twilio_cannot_be_reached(
    sqlite_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["business", "create", *BUSINESS, "--owner-email", "n@glow.example"]) == 0
    capsys.readouterr()
    monkeypatch.setenv("MESSAGECENTER_CARRIER", "twilio")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "token")
    monkeypatch.setenv("MESSAGECENTER_TWILIO_API_URL", f"http://127.0.0.1:{free_port()}")

    assert main(["number", "suggest", "--business", "1"]) == 1

    assert "Twilio could not be reached" in _one_error_line(capsys.readouterr().err)


def test_serve_warns_when_the_simulator_listens_beyond_loopback(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "MESSAGECENTER_DATABASE_URL": f"sqlite:///{tmp_path / 'open.db'}",
        "MESSAGECENTER_CARRIER": "simulator",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "messagecenter.cli",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()  # said before anything else is done
    finally:
        process.terminate()
        process.wait(timeout=15)
    assert first.startswith("warning: the simulated carrier is listening beyond this machine")
    assert "(0.0.0.0)" in first


def test_serve_no_worker_says_what_it_stops_and_refuses_sqlite(
    sqlite_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--no-worker" in help_text and "--no-dispatcher" not in help_text
    assert "inbound-queue processing" in help_text  # not only the outbox, as it once said
    assert main(["serve", "--no-worker"]) == 2
    assert "on SQLite the background worker must run inside `serve`" in capsys.readouterr().err


# ---------------------------------------------------------------------------- business plan


def _create_glow(capsys: pytest.CaptureFixture[str], *options: str) -> None:
    code = main(["business", "create", *BUSINESS, "--owner-email", "p@glow.example", *options])
    assert code == 0
    capsys.readouterr()


def test_business_create_takes_a_currency_and_a_spending_cap(
    sqlite_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _create_glow(capsys, "--policy", "allow_overage", "--currency", "cad", "--spending-cap", "12.5")
    assert main(["business", "plan", "--business", "1"]) == 0
    out = capsys.readouterr().out
    assert "Currency:      CAD (Canadian dollars)" in out
    assert "allow overage at CA$0.00 a unit" in out
    assert "No changes recorded." in out


def test_business_plan_changes_the_plan_at_once_and_records_who(
    sqlite_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _create_glow(capsys)
    code = main(
        [
            "business", "plan", "--business", "1", "--allowance", "500",
            "--policy", "allow_overage", "--overage-price", "0.04", "--spending-cap", "20",
            "--by", "alice@ops", "--note", "ticket 7",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("Plan changed.\n")
    assert "Allowance:     500 messages a month" in out
    assert "allow overage at $0.04 a unit" in out
    assert "Spending cap:  $20.00 a month: sends stop at 1000 units" in out
    assert "Currency:      USD (US dollars)" in out
    assert re.search(
        r"alice@ops via cli: monthly_allowance 100 -> 500, overage_policy hard_stop -> "
        r"allow_overage, overage_price_per_unit \$0\.00 -> \$0\.04, monthly_spending_cap "
        r"none -> \$20\.00  \(ticket 7\)",
        out,
    )

    assert main(["business", "plan", "--business", "1", "--no-spending-cap", "--by", "bob"]) == 0
    out = capsys.readouterr().out
    assert "Spending cap:  none" in out
    newest = out.split("Changes, newest first:\n")[1].splitlines()[0]
    assert "bob via cli: monthly_spending_cap $20.00 -> none" in newest


def test_business_plan_without_by_changes_nothing(
    sqlite_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _create_glow(capsys)
    assert main(["business", "plan", "--business", "1", "--allowance", "5"]) == 2
    assert "--by alice@ops" in _one_error_line(capsys.readouterr().err)
    main(["business", "plan", "--business", "1"])
    out = capsys.readouterr().out
    assert "Allowance:     100 messages a month" in out
    assert "No changes recorded." in out


@pytest.mark.parametrize(
    ("option", "says"),
    [
        (["--currency", "XYZ"], "error (currency): 'XYZ' is not an ISO 4217 currency code"),
        (["--overage-price", "abc"], "error (overage_price_per_unit): give a number"),
        (["--spending-cap", "-1"], "error (monthly_spending_cap): The monthly spending cap"),
        (["--allowance", "-1"], "error (monthly_allowance): The allowance cannot be negative"),
    ],
)
def test_business_plan_refuses_bad_terms_naming_them_and_changes_nothing(
    sqlite_env: str, capsys: pytest.CaptureFixture[str], option: list[str], says: str
) -> None:
    _create_glow(capsys)
    code = main(["business", "plan", "--business", "1", "--allowance", "7", *option, "--by", "a"])
    assert code == 2
    assert _one_error_line(capsys.readouterr().err).startswith(says)
    main(["business", "plan", "--business", "1"])
    out = capsys.readouterr().out
    assert "Allowance:     100 messages a month" in out
    assert "No changes recorded." in out


def test_business_plan_of_a_missing_business_says_so(
    sqlite_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["business", "plan", "--business", "99"]) == 2
    assert "there is no business 99" in capsys.readouterr().err


def _glow_owner_password(capsys: pytest.CaptureFixture[str]) -> str:
    """A business by the CLI; its owner's first password."""
    assert main(
        [
            "business", "create", "--name", "Glow Spa", "--country", "US",
            "--timezone", "America/New_York", "--business-phone", "+12125550100",
            "--allowance", "250", "--owner-email", "owner@glow.example",
        ]
    ) == 0  # fmt: skip
    found = re.search(r"Owner login:\s+owner@glow\.example / (\S+)", capsys.readouterr().out)
    assert found is not None
    return found.group(1)


def _password_works(url: str, email: str, password: str) -> bool:
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from messagecenter.staff.service import check_sign_in, staff_by_email

    engine = create_engine(url)
    try:
        with Session(engine) as session:
            return check_sign_in(staff_by_email(session, email), password)
    finally:
        engine.dispose()


def test_staff_reset_password_gives_the_owner_a_new_one(
    sqlite_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _glow_owner_password(capsys)
    assert main(["staff", "reset-password", "--business", "1"]) == 0
    found = re.search(r"owner@glow\.example can now sign in with the password (\S+)",
                      capsys.readouterr().out)  # fmt: skip
    assert found is not None
    assert _password_works(sqlite_env, "owner@glow.example", found.group(1))
    assert not _password_works(sqlite_env, "owner@glow.example", first)

    assert main(["staff", "reset-password", "--email", "OWNER@glow.example"]) == 0
    again = re.search(r"the password (\S+)", capsys.readouterr().out)
    assert again is not None and _password_works(sqlite_env, "owner@glow.example", again[1])


def test_staff_reset_password_of_nobody_says_so_and_changes_nothing(
    sqlite_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _glow_owner_password(capsys)
    assert main(["staff", "reset-password", "--email", "nobody@glow.example"]) == 2
    assert "no login has the email nobody@glow.example" in capsys.readouterr().err
    assert main(["staff", "reset-password", "--business", "7"]) == 2
    assert "business 7 has no active owner" in capsys.readouterr().err
    assert _password_works(sqlite_env, "owner@glow.example", first)
