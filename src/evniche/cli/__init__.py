"""The ``evniche`` command line: ``check``, ``run``, ``export``, ``kb`` and ``scenarios``."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from ..errors import EvnicheError, Interrupted

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


#: exit status after Ctrl-C (128 + SIGINT, as shells report it)
INTERRUPTED = 130


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors print one clear line on stderr and exit with status 2;
    Ctrl-C prints one line (what was kept, where a command says) and exits with 130."""
    try:
        _register()
        # the command is invoked directly: typer's own main() would swallow a Ctrl-C
        # (KeyboardInterrupt → status 130, silently) and with it what a command says
        command = typer.main.get_command(app)
        with command.make_context("evniche", sys.argv[1:] if argv is None else list(argv)) \
                as ctx:
            code = command.invoke(ctx)
    except KeyboardInterrupt as exc:
        err_console.print(str(exc) if isinstance(exc, Interrupted) else "interrupted",
                          markup=False, highlight=False, soft_wrap=True)
        return INTERRUPTED
    except (EvnicheError, FileNotFoundError) as exc:
        # the message may quote user text with brackets: never read it as markup
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:  # click's own Ctrl-C (at a prompt)
        err_console.print("interrupted", markup=False, highlight=False)
        return INTERRUPTED
    except Exception as exc:  # usage errors of the command-line parser
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):
            exc.show()
            return exc.exit_code
        raise
    return code if isinstance(code, int) else 0


def run() -> None:
    """Console-script entry point (a Ctrl-C that reaches it prints no traceback either)."""
    try:
        code = main()
    except KeyboardInterrupt:
        code = INTERRUPTED
    sys.exit(code)


if __name__ == "__main__":
    run()
