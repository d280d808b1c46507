"""Every command explains itself: a summary in its listing, -h as --help, bad usage exit 2."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from newsletter.cli.main import cli


def commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found += commands(command, (*prefix, name))
    return found


ALL = commands(cli)
GROUPS = [(), *((name,) for name, c in cli.commands.items() if isinstance(c, click.Group))]


def command_at(path: tuple[str, ...]) -> click.Command:
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def invoke(*args: str) -> click.testing.Result:
    return CliRunner().invoke(cli, list(args), prog_name="newsletter")


def test_the_cli_has_all_its_commands() -> None:
    leaves = [path for path in ALL if not isinstance(command_at(path), click.Group)]
    assert len(leaves) == 53
    assert {path[0] for path in ALL if len(path) == 1} == {
        "content",
        "subscribers",
        "issue",
        "inbox",
        "onboarding",
        "status",
        "log",
        "tick",
        "serve",
        "demo",
        "staff",
        "console",
        "doctor",
    }


@pytest.mark.parametrize("group", GROUPS, ids=lambda path: " ".join(path) or "newsletter")
def test_every_command_has_a_one_line_summary_in_its_groups_listing(group: tuple[str, ...]) -> None:
    result = invoke(*group, "-h")
    assert result.exit_code == 0, result.output
    listing = result.output.split("\nCommands:\n", 1)[1]
    summaries = dict(
        re.fullmatch(r"  (\S+)\s+(.*)", line).groups()  # type: ignore[union-attr]
        for line in listing.splitlines()
        if line.strip()
    )
    node = command_at(group)
    assert isinstance(node, click.Group)
    assert set(summaries) == set(node.commands)
    for name, summary in summaries.items():
        assert len(summary) > 10, f"{name}: no summary"


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_every_command_accepts_dash_h_as_help(path: tuple[str, ...]) -> None:
    short, long = invoke(*path, "-h"), invoke(*path, "--help")
    assert short.exit_code == long.exit_code == 0
    assert short.output == long.output
    assert short.output.startswith(f"Usage: newsletter {' '.join(path)} ")
    command = command_at(path)
    assert command.help is not None
    first_line = command.help.strip().splitlines()[0]
    assert first_line and first_line in " ".join(short.output.split())  # help is rewrapped


@pytest.mark.parametrize("path", ALL, ids=" ".join)
def test_an_unknown_option_is_bad_usage_exit_2(path: tuple[str, ...]) -> None:
    result = invoke(*path, "--no-such-option")
    assert result.exit_code == 2
    assert re.search(r"Error: No such option:? '?--no-such-option", result.output), result.output
