"""The README stays true: every command is documented, and the tour's output is what you get."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from newsletter.cli.main import cli

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix}{name}", command))
        if isinstance(command, click.Group):
            found += commands(command, f"{prefix}{name} ")
    return found


def test_every_command_has_help_and_is_in_the_readme() -> None:
    block = README.split("## Commands", 1)[1].split("```")[1]
    for name, command in commands(cli):
        assert command.help and command.help.strip(), f"'{name}' has no help text"
        if not isinstance(command, click.Group):
            assert f"newsletter {name}" in block, f"'newsletter {name}' is missing from the README"


def test_every_command_accepts_dash_h() -> None:
    for name, _ in commands(cli):
        result = CliRunner().invoke(cli, [*name.split(), "-h"])
        assert result.exit_code == 0 and "Usage:" in result.output, name


def transcript(section: str) -> list[tuple[str, list[str]]]:
    """($ command, the output lines shown under it) from the code blocks of a README section."""
    text = README.split(f"## {section}", 1)[1].split("\n## ", 1)[0]
    steps: list[tuple[str, list[str]]] = []
    for block in re.findall(r"```\n(.*?)```", text, re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:].split("  #")[0].strip(), []))
            elif steps and line.strip():
                steps[-1][1].append(line)
    return steps


def matches(shown: list[str], actual: list[str]) -> bool:
    """Each shown line is in the output, in order; '…' stands for what the README leaves out."""
    position = 0
    for line in shown:
        if line.strip() == "…":
            continue
        pattern = re.escape(line).replace("…", ".*")
        while position < len(actual) and not re.fullmatch(pattern, actual[position]):
            position += 1
        if position == len(actual):
            return False
        position += 1
    return True


@pytest.mark.slow
def test_the_readme_demo_and_tour_print_what_the_readme_shows(tmp_path: Path, monkeypatch) -> None:
    """`make demo` from the checkout, then the tour inside demo-instance/, as a new user would."""
    monkeypatch.chdir(tmp_path)
    setup = dict(transcript("Set-up: two commands"))
    make_demo = re.search(r"^demo:.*\n\t\$\(BIN\)/(newsletter .*)$", MAKEFILE, re.M)
    assert make_demo, "the Makefile's demo target runs newsletter"
    args = make_demo.group(1).replace("$(DEMO_DIR)", "demo-instance").split()[1:]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0
    assert matches(setup["make demo"], result.output.splitlines()), result.output
    tour = transcript("A tour")
    assert len(tour) >= 6
    # The shell set-up the tour starts with: the venv `make demo` made, the demo's folder.
    assert [c for c, _ in tour if not c.startswith("newsletter ")] == [
        ". .venv/bin/activate",
        "cd demo-instance",
    ]
    monkeypatch.chdir(tmp_path / "demo-instance")
    for command, shown in tour:
        args = command.split()
        if args[0] != "newsletter":
            continue
        run = CliRunner().invoke(cli, args[1:], catch_exceptions=False)
        assert run.exit_code == 0, (command, run.output)
        assert matches(shown, run.stdout.splitlines()), (command, shown, run.stdout)
