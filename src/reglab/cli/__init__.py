"""The ``reglab`` command line: a thin layer that parses, calls the library, and reports.

One module per command (``study``, ``tune``, ``claims``, ``report``, ``datasets``); ``options`` holds the
options two commands share, ``progress`` draws the lab's progress events. Only this package
prints or exits: a ``ConfigError`` (or a usage error) prints one line on stderr and exits with
code 2, without a traceback; Ctrl-C exits with 130 after the study has stored what it finished.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from ..errors import ConfigError, did_you_mean
from . import claims as _claims
from . import datasets as _datasets
from . import report as _report
from . import study as _study
from . import tune as _tune

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="reglab")
def cli() -> None:
    """reglab: measure which regularization closes your model's generalization gap."""


cli.add_command(_study.study)
cli.add_command(_tune.tune)
cli.add_command(_claims.claims)
cli.add_command(_report.report)
cli.add_command(_datasets.datasets)


class SuggestingChoice(click.Choice):
    """``click.Choice`` whose error also suggests the closest choice (reglab's one helper)."""

    def get_invalid_choice_message(self, value: object, ctx: click.Context | None) -> str:
        message = super().get_invalid_choice_message(value, ctx)
        return message + did_you_mean(value, [str(c) for c in self.choices])


def _suggest_choices(command: click.Command) -> None:
    """Give every ``click.Choice`` option of ``command`` (and its subcommands) suggestions."""
    for param in command.params:
        kind = param.type
        if isinstance(kind, click.Choice) and not isinstance(kind, SuggestingChoice):
            param.type = SuggestingChoice(kind.choices, case_sensitive=kind.case_sensitive)
    for sub in getattr(command, "commands", {}).values():
        _suggest_choices(sub)


_suggest_choices(cli)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 1 cells failed, 2 bad input, 130 interrupted)."""
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None, prog_name="reglab", standalone_mode=False
        )
    except ConfigError as exc:
        click.echo(f"reglab: error: {exc}", err=True)
        return 2
    except click.UsageError as exc:
        command = exc.ctx.command_path if exc.ctx is not None else "reglab"
        click.echo(f"{command}: error: {exc.format_message()}", err=True)
        return 2
    except click.Abort:
        click.echo("reglab: interrupted.", err=True)
        return 130
    except click.ClickException as exc:
        click.echo(f"reglab: error: {exc.format_message()}", err=True)
        return exc.exit_code
    except KeyboardInterrupt:
        click.echo("reglab: interrupted.", err=True)
        return 130
    return int(result) if isinstance(result, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
