"""The user cache folder: where it is, and the unit registry cached in it (a cache that
cannot be written, or holds broken files, is not used and nothing fails)."""

import os
import subprocess
import sys
from pathlib import Path

from evniche import user_cache

#: builds the unit registry in a fresh process and converts one value with it
CHILD = ("from evniche import units\n"
         "print(units.to_canonical(2.0, 'day', 'time'), units.ureg.cache_folder)\n")


def run_child(tmp_path: Path, **env: str) -> str:
    environ = {**os.environ, "HOME": str(tmp_path / "home"), **env}
    done = subprocess.run([sys.executable, "-c", CHILD], env=environ, capture_output=True,
                          text=True, encoding="utf-8", timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_base_follows_xdg_then_home():
    assert user_cache.base({"HOME": "/h"}) == Path("/h/.cache/evniche")
    assert user_cache.base({"HOME": "/h", "XDG_CACHE_HOME": "/x"}) == Path("/x/evniche")
    assert user_cache.base({"HOME": "/h", "XDG_CACHE_HOME": "x"}) == Path("/h/.cache/evniche")


def test_folder_is_created_or_none(tmp_path):
    made = user_cache.folder("pint", {"XDG_CACHE_HOME": str(tmp_path)})
    assert made == tmp_path / "evniche" / "pint" and made.is_dir()
    (tmp_path / "file").write_text("", encoding="utf-8")
    assert user_cache.folder("pint", {"XDG_CACHE_HOME": str(tmp_path / "file")}) is None


def test_units_are_cached_and_a_broken_or_unwritable_cache_is_ignored(tmp_path):
    cache = tmp_path / "cache"
    first = run_child(tmp_path, XDG_CACHE_HOME=str(cache))
    assert first == f"48.0 {cache / 'evniche' / 'pint'}"
    pickles = list((cache / "evniche" / "pint").glob("*.pickle"))
    assert pickles
    for p in pickles:  # as if another process were half-way through writing them
        p.write_bytes(p.read_bytes()[:20])
    assert run_child(tmp_path, XDG_CACHE_HOME=str(cache)).startswith("48.0 ")
    (tmp_path / "file").write_text("", encoding="utf-8")
    assert run_child(tmp_path, XDG_CACHE_HOME=str(tmp_path / "file")) == "48.0 None"
