"""The command line under an ASCII locale (C/POSIX with Python's UTF-8 mode off)."""

from __future__ import annotations

import os
import subprocess
import sys


def test_help_prints_as_utf8_where_the_locale_says_ascii() -> None:
    env = {**os.environ, "PYTHONUTF8": "0", "LC_ALL": "C", "COLUMNS": "200"}
    env.pop("PYTHONIOENCODING", None)
    done = subprocess.run([sys.executable, "-m", "evniche.cli", "run", "--help"],
                          capture_output=True, env=env, timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    text = done.stdout.decode("utf-8")  # UTF-8, not ASCII with a crash
    assert "µm" in text  # the spatial options' units, written with the micro sign
