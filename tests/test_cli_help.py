"""Every command documents itself: one-line help, an Example block and -h."""

import pytest
from click.testing import CliRunner

from cli import cli

COMMANDS = sorted(cli.commands)


def test_help_lists_every_command():
    result = CliRunner().invoke(cli, ["--help"])

    for name in ["stations", "connections", "watch", "list", "cancel", "check", "run", "status"]:
        assert f"  {name} " in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_help_of_command_has_example(name):
    result = CliRunner().invoke(cli, [name, "--help"])

    assert result.exit_code == 0
    assert "Example:" in result.output
    assert f"regiojet-watch {name}" in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_help_short_option_h(name):
    result = CliRunner().invoke(cli, [name, "-h"])

    assert result.exit_code == 0
    assert result.output.startswith("Usage: ")


@pytest.mark.parametrize("name", [n for n in COMMANDS if n not in ("run", "cancel")])
def test_help_offers_json_where_data_is_printed(name):
    result = CliRunner().invoke(cli, [name, "--help"])

    assert "--json" in result.output
