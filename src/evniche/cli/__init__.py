"""The ``evniche`` command line: ``check``, ``run``, ``export``, ``import``, ``sensitivity``,
``calibrate``, ``cohort``, ``kb``, ``observations``, ``risks``, ``thrombogram``, ``lab``,
``dashboard`` and ``scenarios``."""

from __future__ import annotations

import sys

from ..errors import EvnicheError, Interrupted

#: exit status after Ctrl-C (128 + SIGINT, as shells report it)
INTERRUPTED = 130


def _app():
    """The typer application with every command. typer, rich and the commands are imported
    here, so that a Ctrl-C while they load is handled by :func:`main` too."""
    import typer

    from . import (
        calibrate,
        cohort,
        dashboard,
        interop,
        kb,
        lab,
        model_commands,
        observations,
        risks,
        sensitivity,
    )

    app = typer.Typer(
        name="evniche",
        help="Simulate extracellular-vesicle communication in the bone-marrow niche.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    app.add_typer(kb.app, name="kb", help="Query the cited knowledge base of both reviews.")
    model_commands.register(app)
    interop.register(app)
    calibrate.register(app)
    app.add_typer(observations.app, name="observations",
                  help="Published observations as data: list, check, compare with a model.")
    sensitivity.register(app)
    lab.register(app)
    risks.register(app)
    dashboard.register(app)
    cohort.register(app)
    try:
        from . import scenarios
    except ImportError:  # the scenario catalog is optional until it exists
        return app
    app.add_typer(scenarios.app, name="scenarios", help="Run the review findings as checks.")
    return app


def _say(line: str) -> None:
    """One line on stderr, as written (user text may hold brackets: no markup)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _unraisable(info) -> None:
    """A Ctrl-C that lands in a finalizer or weakref callback, where Python can only print
    it ("Exception ignored … Traceback") and go on, is delivered again to the main thread,
    so it interrupts the command as any other Ctrl-C does."""
    if info.exc_type is not None and issubclass(info.exc_type, KeyboardInterrupt):
        import _thread
        import threading

        # from another thread, a moment later: raised now, it would land in this hook
        threading.Timer(0.05, _thread.interrupt_main).start()
        return
    sys.__unraisablehook__(info)


#: names Python gives the ASCII encoding of a C/POSIX locale
_ASCII = {"ascii", "ansi_x3.4-1968", "646", "us-ascii"}


def _utf8_streams() -> None:
    """Write stdout and stderr as UTF-8 where the locale says ASCII (a C/POSIX locale with
    Python's UTF-8 mode turned off), as Python's own UTF-8 mode would: the tables and
    messages hold µ, ≥, –, and an ASCII stream would stop the command with a
    UnicodeEncodeError instead."""
    for stream in (sys.stdout, sys.stderr):
        encoding = str(getattr(stream, "encoding", "") or "").lower()
        if encoding in _ASCII and hasattr(stream, "reconfigure"):
            stream.reconfigure(encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Entry point: user errors print one clear line on stderr and exit with status 2;
    Ctrl-C prints one line (what was kept, where a command says) and exits with 130."""
    sys.unraisablehook = _unraisable
    _utf8_streams()
    try:
        import typer

        # the command is invoked directly: typer's own main() would swallow a Ctrl-C
        # (KeyboardInterrupt → status 130, silently) and with it what a command says
        command = typer.main.get_command(_app())
        with command.make_context("evniche", sys.argv[1:] if argv is None else list(argv)) \
                as ctx:
            code = command.invoke(ctx)
    except KeyboardInterrupt as exc:
        _say(str(exc) if isinstance(exc, Interrupted) else "interrupted")
        return INTERRUPTED
    except (EvnicheError, FileNotFoundError) as exc:
        _say(f"error: {exc}")
        return 2
    except BrokenPipeError:  # the reader went away (`evniche … --help | head`): stop quietly
        _silence_stdout()
        return 1
    except Exception as exc:
        import typer

        if isinstance(exc, typer.Exit):
            return exc.exit_code
        if isinstance(exc, typer.Abort):  # click's own Ctrl-C (at a prompt)
            _say("interrupted")
            return INTERRUPTED
        if hasattr(exc, "show") and hasattr(exc, "exit_code"):  # command-line usage errors
            exc.show()
            return exc.exit_code
        raise
    return code if isinstance(code, int) else 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush into the closed pipe
    does not raise again (the recipe of the Python documentation on SIGPIPE)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout without a file descriptor (captured)
        pass


def run() -> None:
    """Console-script entry point: nothing heavy is imported before :func:`main` handles
    Ctrl-C (and a Ctrl-C that reaches this point prints no traceback either)."""
    try:
        code = main()
    except KeyboardInterrupt:
        code = INTERRUPTED
    sys.exit(code)


if __name__ == "__main__":
    run()
