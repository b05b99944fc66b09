"""Settings parsing: defaults, each variable's validation, and masking of credentials."""

from pathlib import Path

import pytest

from config import ConfigError, load_settings, mask_url, parse_settings


def test_parse_settings_defaults():
    settings = parse_settings({})

    assert settings.database_url == "sqlite:///regiojet-watch.sqlite3"
    assert settings.redis_url is None
    assert settings.queue_path == Path("regiojet-watch-queue.sqlite3")
    assert settings.regiojet_api_url == "http://127.0.0.1:8765/restapi"
    assert settings.regiojet_lang == "cs"
    assert settings.regiojet_currency == "CZK"
    assert settings.smtp_host is None
    assert settings.smtp_security == "starttls"
    assert settings.smtp_port == 587
    assert settings.check_interval_seconds == 20
    assert settings.sends_email is False


@pytest.mark.parametrize("url", ["postgres://u:p@db.internal:5432/app", "postgresql://u@127.0.0.1/app"])
def test_parse_settings_accepts_both_postgres_schemes(url):
    settings = parse_settings({"DATABASE_URL": url})

    assert settings.uses_postgres
    assert settings.sqlite_path is None


def test_parse_settings_queue_file_beside_sqlite_database():
    settings = parse_settings({"DATABASE_URL": "sqlite:////var/data/watch.db"})

    assert settings.queue_path == Path("/var/data/regiojet-watch-queue.sqlite3")


@pytest.mark.parametrize(
    "variables, expected",
    [
        ({"DATABASE_URL": "mysql://x@h/db"}, "DATABASE_URL 'mysql://x@h/db' is not supported"),
        ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL 'http://127.0.0.1:6379' is not a Redis URL"),
        ({"REGIOJET_API_URL": "ftp://x"}, "REGIOJET_API_URL 'ftp://x' is not an http(s) URL"),
        ({"REGIOJET_LANG": "fr"}, "REGIOJET_LANG 'fr' is invalid; expected one of: cs, sk, en"),
        ({"REGIOJET_CURRENCY": "USD"}, "REGIOJET_CURRENCY 'USD' is invalid; expected one of: CZK, EUR"),
        ({"SMTP_SECURITY": "tls"}, "SMTP_SECURITY 'tls' is invalid; expected one of: starttls, ssl, none"),
        ({"SMTP_PORT": "abc"}, "SMTP_PORT 'abc' is not a whole number"),
        ({"SMTP_PORT": "70000"}, "SMTP_PORT '70000' is out of range"),
        ({"CHECK_INTERVAL_SECONDS": "1"}, "CHECK_INTERVAL_SECONDS '1' is out of range; expected a whole number of at least 5"),
        ({"CHECK_INTERVAL_SECONDS": "20s"}, "CHECK_INTERVAL_SECONDS '20s' is not a whole number"),
        ({"SMTP_HOST": "smtp.example.com"}, "EMAIL_FROM is missing"),
        ({"EMAIL_FROM": "not-an-address"}, "EMAIL_FROM 'not-an-address' is not an email address"),
        ({"EMAIL_FROM": "a@b.cz\r\nBcc: x@y.cz"}, "is not an email address"),
    ],
)
def test_parse_settings_rejects_bad_value(variables, expected):
    with pytest.raises(ConfigError) as raised:
        parse_settings(variables)

    assert expected in str(raised.value)


def test_parse_settings_smtp_port_follows_security():
    assert parse_settings({"SMTP_SECURITY": "ssl"}).smtp_port == 465
    assert parse_settings({"SMTP_SECURITY": "none"}).smtp_port == 25
    assert parse_settings({"SMTP_SECURITY": "ssl", "SMTP_PORT": "2465"}).smtp_port == 2465


def test_parse_settings_email_from_smtp_user():
    settings = parse_settings({"SMTP_HOST": "smtp.example.com", "SMTP_USER": "alerts@example.com"})

    assert settings.email_from == "alerts@example.com"


def test_load_settings_environment_wins_over_env_file(tmp_path):
    env_file = tmp_path / ".env"
    env_file.write_text("CHECK_INTERVAL_SECONDS=30\nREGIOJET_LANG=en\n")

    settings = load_settings({"CHECK_INTERVAL_SECONDS": "40"}, env_file=env_file)

    assert settings.check_interval_seconds == 40
    assert settings.regiojet_lang == "en"


def test_mask_url_hides_password():
    assert mask_url("postgresql://app:s3cret@db:5432/app") == "postgresql://app:***@db:5432/app"
    assert mask_url("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert mask_url("redis://cache:6379/0") == "redis://cache:6379/0"


def test_settings_describe_never_contains_secrets():
    settings = parse_settings(
        {
            "DATABASE_URL": "postgresql://app:dbsecret@db/app",
            "REDIS_URL": "redis://:redissecret@cache:6379/0",
            "SMTP_HOST": "smtp.example.com",
            "SMTP_USER": "alerts@example.com",
            "SMTP_PASSWORD": "smtpsecret",
        }
    )

    text = repr(settings.describe())

    for secret in ("dbsecret", "redissecret", "smtpsecret"):
        assert secret not in text
