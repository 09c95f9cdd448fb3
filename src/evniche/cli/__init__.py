"""The ``evniche`` command line: ``check``, ``run``, ``export``, ``kb`` and ``scenarios``."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from ..errors import EvnicheError

app = typer.Typer(
    name="evniche",
    help="Simulate extracellular-vesicle communication in the bone-marrow niche.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)


def _register() -> None:
    from . import kb, model_commands

    app.add_typer(kb.app, name="kb", help="Query the cited knowledge base of both reviews.")
    model_commands.register(app)
    try:
        from . import scenarios
    except ImportError:  # the scenario catalog is optional until it exists
        return
    app.add_typer(scenarios.app, name="scenarios", help="Run the review findings as checks.")


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors print one clear line on stderr and exit with status 2."""
    _register()
    try:
        # without standalone mode click returns the code of a typer.Exit instead of raising
        code = app(args=argv, standalone_mode=False)
    except (EvnicheError, FileNotFoundError) as exc:
        # the message may quote user text with brackets: never read it as markup
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        return 1
    except Exception as exc:  # usage errors of the command-line parser
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            return exc.exit_code
        raise
    return code if isinstance(code, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
