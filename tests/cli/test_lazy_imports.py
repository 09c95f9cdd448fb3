"""`evniche --help` and `evniche check` start fast: they do not import the heavy libraries
that only simulations, results and reports need."""

import subprocess
import sys

import pytest

HEAVY = ("numba", "matplotlib", "xarray", "pandas", "networkx", "zarr", "pyarrow")
CHILD = ("import sys\n"
         "from evniche.cli import main\n"
         "code = main(sys.argv[1:])\n"
         "print(code, ' '.join(m for m in {heavy!r} if m in sys.modules))\n")


@pytest.mark.parametrize("args", [["--help"], ["check", "aml"]])
def test_command_does_not_import_heavy_libraries(args):
    done = subprocess.run([sys.executable, "-c", CHILD.format(heavy=HEAVY), *args],
                          capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert done.returncode == 0, done.stderr
    code, _, imported = done.stdout.strip().splitlines()[-1].partition(" ")
    assert code == "0"
    assert imported == ""
