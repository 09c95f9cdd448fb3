"""The compiled kernels' on-disk cache: in a user cache folder, never in the package, and a
folder that cannot be written turns caching off instead of failing."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import evniche
from evniche.engines.spatial import agents as ag
from evniche.engines.spatial import kernel_cache

PACKAGE = Path(evniche.__file__).parent
#: compiles and calls one small kernel (the cheapest way to make Numba write its cache)
CHILD = ("import numpy as np\n"
         "from evniche.engines.spatial import fields, kernel_cache\n"
         "assert fields._total(np.ones((1, 2, 3))) == 6.0\n"
         "print(kernel_cache.ENABLED)\n")


def package_cache_files() -> dict[Path, int]:
    """Numba cache files inside the package, with their modification times (ns)."""
    return {p: p.stat().st_mtime_ns for pattern in ("*.nbi", "*.nbc")
            for p in PACKAGE.rglob(pattern)}


def run_child(tmp_path: Path, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if k != kernel_cache.VARIABLE}
    environ.update(HOME=str(tmp_path / "home"), **env)
    done = subprocess.run([sys.executable, "-c", CHILD], env=environ, capture_output=True,
                          text=True, encoding="utf-8", timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_folder_follows_the_environment(tmp_path):
    home = {"HOME": "/home/u"}
    sources = kernel_cache.sources_digest()
    assert kernel_cache.folder(home) == Path("/home/u/.cache/evniche/numba") / sources
    assert kernel_cache.folder({**home, "XDG_CACHE_HOME": "/xdg"}) == \
        Path("/xdg/evniche/numba") / sources
    # a relative XDG_CACHE_HOME is ignored, as the XDG specification says
    assert kernel_cache.folder({**home, "XDG_CACHE_HOME": "rel"}) == \
        Path("/home/u/.cache/evniche/numba") / sources
    assert kernel_cache.folder({**home, "XDG_CACHE_HOME": "/xdg", "NUMBA_CACHE_DIR": "/mine"}) \
        == Path("/mine")


def test_the_folder_changes_with_any_engine_source(monkeypatch):
    """A kernel of one module that calls another's keeps a cached copy of it (Numba checks
    only its own file): a new folder per version of the engines' sources."""
    before = kernel_cache.sources_digest()
    compiled = Path(kernel_cache.__file__).parents[1] / "compiled.py"
    original = Path.read_bytes

    def edited(path):
        data = original(path)
        return data + b"# changed" if path == compiled else data

    monkeypatch.setattr(Path, "read_bytes", edited)
    assert kernel_cache.sources_digest() != before
    assert len(before) == 16


def test_configure_sets_the_variable_or_turns_caching_off(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert kernel_cache.configure(env)
    assert env[kernel_cache.VARIABLE] == str(tmp_path / "cache" / "evniche" / "numba"
                                             / kernel_cache.sources_digest())
    assert Path(env[kernel_cache.VARIABLE]).is_dir()
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    env = {"XDG_CACHE_HOME": str(blocker / "cache")}  # cannot be created, even by root
    assert not kernel_cache.configure(env)
    assert kernel_cache.VARIABLE not in env


def test_kernels_are_cached_in_the_user_cache_folder_not_the_package(tmp_path):
    before = package_cache_files()
    assert run_child(tmp_path, XDG_CACHE_HOME=str(tmp_path / "cache")) == "True"
    written = sorted(p.name for p in (tmp_path / "cache" / "evniche" / "numba").rglob("*"))
    assert any(n.startswith("fields._total") and n.endswith(".nbi") for n in written), written
    assert any(n.startswith("fields._total") and n.endswith(".nbc") for n in written), written
    assert package_cache_files() == before


def test_an_unwritable_cache_folder_runs_uncached(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    before = package_cache_files()
    assert run_child(tmp_path, XDG_CACHE_HOME=str(blocker / "cache")) == "False"
    assert package_cache_files() == before
    assert not (tmp_path / "home" / ".cache").exists()


def test_agent_motion_compiles_one_signature_whatever_the_layout():
    rng = np.random.default_rng(0)
    n = 30
    extent = np.array([100.0, 100.0, 10.0])
    a = ag.Agents(np.zeros(n, np.int32),
                  np.column_stack([rng.random(n) * 100, rng.random(n) * 100, np.full(n, 5.0)]),
                  np.zeros(n), np.zeros((n, 1)), np.zeros((n, 1)))
    grid = ag.bin_agents(a.pos, 12.5, extent)
    radius = np.full(n, 5.0)
    sinusoid = np.zeros(100, bool)
    drift_f = np.asfortranarray(rng.normal(size=(n, 3)))  # as the engine's transposed drift
    moved = [ag.move(a, radius, drift, np.zeros((n, 3)), grid, extent, 1, 20, 1, sinusoid, 10,
                     (1, 10, 10)) for drift in (drift_f, np.ascontiguousarray(drift_f))]
    np.testing.assert_array_equal(moved[0], moved[1])
    layouts = {(sig[2].layout, str(sig[9])) for sig in ag._move.signatures}
    assert layouts == {("C", "float64")}


def test_prune_keeps_the_most_recently_used_versions(tmp_path):
    """Old versions' kernel folders are removed beyond the newest KEEP; other folders stay."""
    import os

    numba_root = tmp_path / "numba"
    names = [f"{i:016x}" for i in range(6)] + ["engines_" + "a" * 40]
    for age, name in enumerate(names):
        (numba_root / name).mkdir(parents=True)
        (numba_root / name / "k.nbi").write_bytes(b"")
        os.utime(numba_root / name, (1e9 - age * 1e5, 1e9 - age * 1e5))
    (numba_root / "notes").mkdir()  # not a version folder: never touched
    current = numba_root / names[5]  # an old one, used again now
    removed = kernel_cache.prune(current, keep=3)
    left = sorted(p.name for p in numba_root.iterdir())
    # kept: current (just used) and the two most recent others (ages 0 and 1)
    assert left == sorted([names[0], names[1], names[5], "notes"])
    assert sorted(p.name for p in removed) == sorted([names[2], names[3], names[4],
                                                      "engines_" + "a" * 40])


def test_configure_prunes_only_its_own_cache(tmp_path):
    """A folder the user named in NUMBA_CACHE_DIR is never pruned around."""
    mine = tmp_path / "mine"
    for i in range(kernel_cache.KEEP + 2):
        (mine / f"{i:016x}").mkdir(parents=True)
    assert kernel_cache.configure({"NUMBA_CACHE_DIR": str(mine / f"{0:016x}")})
    assert len(list(mine.iterdir())) == kernel_cache.KEEP + 2
    cache = tmp_path / "cache"
    old = cache / "evniche" / "numba"
    for i in range(kernel_cache.KEEP + 2):
        (old / f"{i:016x}").mkdir(parents=True)
    assert kernel_cache.configure({"XDG_CACHE_HOME": str(cache)})
    assert len(list(old.iterdir())) == kernel_cache.KEEP
    assert (old / kernel_cache.sources_digest()).is_dir()
