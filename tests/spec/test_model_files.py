"""What a model file may read, and how: ``extends`` and ``rules_csv`` stay under the model's
folder, the presets and folders allowed explicitly; only regular files of at most 5 MB are
read (a pipe or a device never blocks nor fills memory); YAML with a key given twice,
nesting deeper than 100 levels or aliases expanding without bound is refused; names of any
length give a clean error. Every refusal is a ModelError, never a RecursionError or OSError.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from evniche.errors import ModelError
from evniche.spec.loader import load_model, locate, read_merged
from evniche.spec.sources import MAX_DEPTH, MAX_FILE_BYTES, exists, parse_yaml, read_text

POSIX = pytest.mark.skipif(sys.platform == "win32", reason="needs POSIX pipes and devices")
RULE = "HSC,cargo:miR-150,increases,self_renewal,0.9,0.02,1,0\n"


@pytest.fixture
def folders(tmp_path: Path, tiny_path: Path) -> tuple[Path, Path]:
    """(the model's folder, a folder outside it holding a copy of the tiny model and a
    rules file)."""
    model_dir, outside = tmp_path / "models", tmp_path / "elsewhere"
    model_dir.mkdir()
    outside.mkdir()
    shutil.copyfile(tiny_path, outside / "tiny.yaml")
    (outside / "rules.csv").write_text(RULE, encoding="utf-8")
    return model_dir, outside


def write_model(folder: Path, body: str, name: str = "model.yaml") -> Path:
    path = folder / name
    path.write_text(f"name: child\n{body}", encoding="utf-8")
    return path


# ---------------------------------------------------------------- confinement


def test_extends_outside_the_model_folder_is_refused_without_its_content(
        folders: tuple[Path, Path]) -> None:
    model_dir, outside = folders
    secret = outside / "secret.yaml"
    secret.write_text("password_field: hunter2\napi_token: s3cr3t\n", encoding="utf-8")
    model = write_model(model_dir, f"extends: {secret}\n")
    with pytest.raises(ModelError) as info:
        load_model(model)
    err = info.value
    assert (err.source, err.path) == (str(model), "extends")
    assert "refused to read" in err.message and str(secret) in err.message
    assert str(model_dir.resolve()) in err.message and "the shipped presets" in err.message
    assert "--allow-path" in err.message
    for leaked in ("password_field", "hunter2", "api_token", "s3cr3t"):
        assert leaked not in str(err)


def test_extends_etc_passwd_is_refused(tmp_path: Path) -> None:
    if not Path("/etc/passwd").is_file():
        pytest.skip("no /etc/passwd here")
    model = write_model(tmp_path, "extends: /etc/passwd\n")
    with pytest.raises(ModelError, match="refused to read '/etc/passwd'") as info:
        load_model(model)
    assert "root:" not in str(info.value) and "/bin/" not in str(info.value)


@pytest.mark.parametrize("how", ["dotdot", "symlink"])
def test_extends_cannot_escape_through_dotdot_or_a_link(folders: tuple[Path, Path],
                                                        how: str) -> None:
    model_dir, outside = folders
    if how == "dotdot":
        target = "../elsewhere/tiny.yaml"
    else:
        try:
            (model_dir / "base.yaml").symlink_to(outside / "tiny.yaml")
        except OSError:
            pytest.skip("cannot make symbolic links here")
        target = "base.yaml"
    model = write_model(model_dir, f"extends: {target}\n")
    with pytest.raises(ModelError, match="refused to read") as info:
        load_model(model)
    assert info.value.path == "extends"


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_rules_csv_outside_the_model_folder_is_refused(folders: tuple[Path, Path],
                                                       tiny_data: dict, how: str) -> None:
    model_dir, outside = folders
    entry = {"absolute": str(outside / "rules.csv"), "dotdot": "../elsewhere/rules.csv",
             "symlink": "rules.csv"}[how]
    if how == "symlink":
        try:
            (model_dir / "rules.csv").symlink_to(outside / "rules.csv")
        except OSError:
            pytest.skip("cannot make symbolic links here")
    model = model_dir / "model.yaml"
    model.write_text(yaml.safe_dump(dict(tiny_data, rules_csv=["ok.csv", entry])),
                     encoding="utf-8")
    (model_dir / "ok.csv").write_text(RULE, encoding="utf-8")
    with pytest.raises(ModelError, match="refused to read") as info:
        load_model(model)
    assert (info.value.source, info.value.path) == (str(model), "rules_csv[1]")


def test_allow_paths_widens_what_a_model_may_read(folders: tuple[Path, Path],
                                                 tiny_data: dict) -> None:
    model_dir, outside = folders
    model = write_model(model_dir, f"extends: {outside / 'tiny.yaml'}\n"
                                   f"rules_csv: [{outside / 'rules.csv'}]\n")
    with pytest.raises(ModelError, match="refused"):
        load_model(model)
    resolved = load_model(model, allow_paths=[outside])
    assert resolved.name == "child"
    assert len(resolved.rules) == len(tiny_data["rules"]) + 1
    assert load_model(model, allow_paths=str(outside)).name == "child"  # one folder


def test_allow_paths_must_be_folders(folders: tuple[Path, Path], tiny_path: Path) -> None:
    with pytest.raises(ModelError, match="expected an existing folder") as info:
        load_model(tiny_path, allow_paths=[folders[1] / "no_such_folder"])
    assert info.value.source == "--allow-path"


def test_siblings_subfolders_and_presets_are_allowed(folders: tuple[Path, Path],
                                                    tiny_data: dict) -> None:
    model_dir, _ = folders
    sub = model_dir / "sub"
    sub.mkdir()
    (model_dir / "tiny.yaml").write_text(yaml.safe_dump(tiny_data), encoding="utf-8")
    (model_dir / "rules.csv").write_text(RULE, encoding="utf-8")
    # a model in a subfolder reaching back into the folder of the model the user named
    write_model(sub, "extends: ../tiny.yaml\nrules_csv: [../rules.csv]\n", "base.yaml")
    model = write_model(model_dir, "extends: sub/base.yaml\n")
    assert len(load_model(model).rules) == len(tiny_data["rules"]) + 1
    preset = write_model(model_dir, "extends: healthy\n", "preset_child.yaml")
    by_path = write_model(model_dir, f"extends: {locate('healthy')}\n", "preset_path.yaml")
    assert read_merged(preset)["compartments"] == read_merged(by_path)["compartments"]


def test_the_named_model_file_is_read_wherever_it_is(folders: tuple[Path, Path]) -> None:
    model_dir, outside = folders
    link = model_dir / "linked.yaml"
    try:
        link.symlink_to(outside / "tiny.yaml")
    except OSError:
        pytest.skip("cannot make symbolic links here")
    assert load_model(link).name == "tiny"
    assert load_model(outside / "tiny.yaml").name == "tiny"


def test_relative_extends_is_relative_to_the_model_not_the_working_directory(
        folders: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    model_dir, outside = folders
    monkeypatch.chdir(outside)  # holds a tiny.yaml the model must not pick up
    model = write_model(model_dir, "extends: tiny.yaml\n")
    with pytest.raises(ModelError, match="does not exist") as info:
        load_model(model)
    assert info.value.path == "extends"


# ---------------------------------------------------------------- what kind of file


@POSIX
def test_a_pipe_is_refused_without_blocking(tmp_path: Path, hang_guard: None) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    model = write_model(tmp_path, "extends: pipe.yaml\n")
    with pytest.raises(ModelError, match="not a regular file") as info:
        load_model(model)
    assert info.value.path == "extends"
    with pytest.raises(ModelError, match="not a regular file"):
        load_model(fifo)
    (tmp_path / "rules.csv").unlink(missing_ok=True)
    os.mkfifo(tmp_path / "rules.csv")
    with pytest.raises(ModelError, match="cannot read the rules file: .* not a regular file"):
        tiny = (Path(__file__).parent / "tiny.yaml").read_text(encoding="utf-8")
        load_model({**yaml.safe_load(tiny),
                    "rules_csv": [str(tmp_path / "rules.csv")]})


@POSIX
def test_dev_zero_is_refused_before_it_is_opened(tmp_path: Path, hang_guard: None) -> None:
    if not Path("/dev/zero").exists():
        pytest.skip("no /dev/zero here")
    model = write_model(tmp_path, "extends: /dev/zero\n")
    with pytest.raises(ModelError, match="refused to read '/dev/zero'"):
        load_model(model)
    # allowed explicitly, it is still not a file: refused from its kind, not read
    with pytest.raises(ModelError, match="'/dev/zero' is not a regular file") as info:
        load_model(model, allow_paths=["/dev"])
    assert info.value.path == "extends"


def test_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "sub.yaml").mkdir()
    model = write_model(tmp_path, "extends: sub.yaml\n")
    with pytest.raises(ModelError, match="is a folder, not a file"):
        load_model(model)


@pytest.mark.parametrize("what", ["model", "extends", "rules_csv"])
def test_files_over_the_size_cap_are_refused(tmp_path: Path, tiny_data: dict,
                                             what: str) -> None:
    big = tmp_path / ("big.csv" if what == "rules_csv" else "big.yaml")
    with big.open("wb") as handle:  # sparse: nothing is written
        handle.truncate(MAX_FILE_BYTES + 1)
    if what == "model":
        model = big
    elif what == "extends":
        model = write_model(tmp_path, "extends: big.yaml\n")
    else:
        model = tmp_path / "model.yaml"
        model.write_text(yaml.safe_dump(dict(tiny_data, rules_csv=["big.csv"])),
                         encoding="utf-8")
    with pytest.raises(ModelError, match="more than the 5 MB"):
        load_model(model)


def test_a_file_at_the_size_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "full.yaml"
    path.write_bytes(b"#" * MAX_FILE_BYTES)
    assert len(read_text(path)) == MAX_FILE_BYTES
    with path.open("ab") as handle:
        handle.write(b"#")
    with pytest.raises(ModelError, match="more than the 5 MB a model file may be"):
        read_text(path)


# ---------------------------------------------------------------- YAML


def test_a_key_given_twice_names_the_file_line_and_key(tmp_path: Path,
                                                       tiny_path: Path) -> None:
    text = tiny_path.read_text(encoding="utf-8")
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("parameters:"))
    first = lines[at + 1]
    lines.insert(at + 3, first)  # the same parameter again, two lines later
    model = tmp_path / "twice.yaml"
    model.write_text("\n".join(lines) + "\n", encoding="utf-8")
    key = first.split(":")[0].strip()
    with pytest.raises(ModelError) as info:
        load_model(model)
    err = info.value
    assert err.source == str(model)
    assert err.path.startswith(f"line {at + 4},")
    assert f"the key '{key}' appears twice" in err.message
    assert f"first on line {at + 2}" in err.message


def test_merge_keys_are_not_duplicates() -> None:
    data = parse_yaml("base: &b {k: 1, j: 2}\nchild: {<<: *b, k: 3}\n")
    assert data["child"] == {"k": 3, "j": 2}
    with pytest.raises(yaml.YAMLError, match="'k' appears twice"):
        parse_yaml("child: {k: 1, k: 3}\n")


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def test_nesting_up_to_the_limit_is_read_and_beyond_it_refused(tmp_path: Path) -> None:
    assert parse_yaml(f"a: {nested(MAX_DEPTH - 1)}")["a"][0][0] is not None
    with pytest.raises(yaml.YAMLError, match="nested deeper than 100"):
        parse_yaml(f"a: {nested(MAX_DEPTH)}")
    model = tmp_path / "deep.yaml"
    model.write_text(f"name: deep\ndescription: {nested(20_000)}\n", encoding="utf-8")
    with pytest.raises(ModelError, match="nested deeper than 100") as info:
        load_model(model)
    assert info.value.path.startswith("line 2,")


def test_aliases_cannot_deepen_or_multiply_without_bound() -> None:
    chain = "a0: &a0 " + nested(60) + "\n" + "a1: &a1 " + "[" * 60 + "*a0" + "]" * 60 + "\n"
    with pytest.raises(yaml.YAMLError, match="nested deeper than 100 levels"):
        parse_yaml(chain)
    bomb = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 9))
    with pytest.raises(yaml.YAMLError, match="more than 1000000 values"):
        parse_yaml(bomb)
    with pytest.raises(yaml.YAMLError, match="refers to the value that contains it"):
        parse_yaml("a: &a [1, *a]\n")


def test_a_deep_or_cyclic_mapping_from_python_is_a_model_error(tiny_data: dict) -> None:
    deep: list = []
    node = deep
    for _ in range(20_000):
        node.append([])
        node = node[0]
    with pytest.raises(ModelError, match="nested deeper than 100") as info:
        load_model(dict(tiny_data, description=deep))
    assert info.value.source == "<mapping>"
    with pytest.raises(ModelError, match="nested deeper than 100"):
        load_model(tiny_data, overrides={"description": deep})
    cyclic: dict = {}
    cyclic["self"] = cyclic
    with pytest.raises(ModelError, match="nested deeper than 100"):
        load_model(dict(tiny_data, description=cyclic))


# ---------------------------------------------------------------- long names


def test_long_names_give_clean_errors(tmp_path: Path) -> None:
    assert not exists(Path("a" * 300))  # ENAMETOOLONG is "not there", not an OSError
    assert not exists(Path("a\0b"))
    with pytest.raises(ModelError, match=r"\(300 characters\) is neither a model file"):
        load_model("a" * 300)
    with pytest.raises(FileNotFoundError, match=r"\(5999 characters\) does not exist"):
        locate("a/" * 2999 + "a")
    for value in ("b" * 5000, "c/" * 2500, '"with\\0nul.yaml"'):
        model = write_model(tmp_path, f"extends: {value}\n")
        with pytest.raises(ModelError) as info:
            load_model(model)
        assert info.value.path == "extends"
        assert len(str(info.value)) < 1000, "the name is shortened in the message"
    assert "with\\x00nul.yaml'" in str(info.value)  # a control character escaped


def test_long_rules_csv_names_give_clean_errors(tmp_path: Path, tiny_data: dict) -> None:
    model = tmp_path / "model.yaml"
    for entry in ("r" * 5000 + ".csv", "d/" * 3000 + "r.csv"):
        model.write_text(yaml.safe_dump(dict(tiny_data, rules_csv=[entry])), encoding="utf-8")
        with pytest.raises(ModelError, match="characters\\) does not exist") as info:
            load_model(model)
        assert (info.value.source, info.value.path) == (str(model), "rules_csv[0]")
        assert len(str(info.value)) < 1000
