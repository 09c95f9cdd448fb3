"""The files a model reads (its YAML, what it ``extends``, its ``rules_csv``), read safely.

A model may read only regular files, no larger than :data:`MAX_FILE_BYTES`, under the folders
it is allowed (:class:`Allowed`: the folder of the model file named by the user, the shipped
presets and any ``--allow-path`` folder). YAML is parsed by :func:`parse_yaml`, which
refuses duplicate keys and nesting deeper than :data:`MAX_DEPTH`. A refused file's content
never appears in an error: only its name, shortened.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from ..errors import ModelError

#: the largest model YAML or rules CSV file read, in bytes
MAX_FILE_BYTES = 5 * 1024 * 1024
#: the deepest nesting of mappings and lists a model may have (YAML aliases expanded)
MAX_DEPTH = 100
#: the most values (mapping entries, list items, scalars) a model may have, aliases expanded
MAX_VALUES = 1_000_000
#: the longest chain of models extending one another
MAX_EXTENDS = 32
_SHOWN_CHARS = 240


def shown(text: str | Path) -> str:
    """``text`` quoted in an error, shortened to about 240 characters, with control
    characters escaped (a name never moves the terminal's cursor nor colours it)."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    if len(text) <= _SHOWN_CHARS:
        return f"'{text}'"
    return f"'{text[:_SHOWN_CHARS - 40]}…{text[-30:]}' ({len(text)} characters)"


def presets_folder() -> Path:
    """The folder of the shipped preset models."""
    return Path(str(resources.files("evniche") / "presets"))


def exists(path: Path) -> bool:
    """Whether something is at ``path``; a name too long for a file (or holding a NUL
    character) is simply not there. Never follows the name into a read."""
    try:
        os.stat(path)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        return False
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return False
        raise ModelError(f"cannot look up {shown(path)} ({exc.strerror})") from None
    return True


@dataclass(frozen=True)
class Allowed:
    """The folders (symbolic links and ``..`` resolved) a model's ``extends`` and
    ``rules_csv`` may read from."""

    model_folder: Path | None
    extra: tuple[Path, ...] = ()

    @classmethod
    def for_model(cls, model_path: Path | None, allow_paths: Iterable[str | Path] = ()
                  ) -> Allowed:
        """The folder of ``model_path`` (the file the user named), the presets, and
        ``allow_paths`` (each an existing folder)."""
        if isinstance(allow_paths, str | Path):  # one folder, not its characters
            allow_paths = [allow_paths]
        extra = []
        for entry in allow_paths:
            folder = Path(entry)
            try:
                is_dir = folder.is_dir()
            except (OSError, ValueError):
                is_dir = False
            if not is_dir:
                raise ModelError(f"expected an existing folder, got {shown(entry)}",
                                 source="--allow-path")
            extra.append(folder.resolve())
        own = Path(model_path).absolute().parent.resolve() if model_path is not None else None
        return cls(own, tuple(extra))

    @property
    def folders(self) -> tuple[Path, ...]:
        own = (self.model_folder,) if self.model_folder is not None else ()
        return (*own, presets_folder().resolve(), *self.extra)

    def check(self, path: Path, key: str, source: str) -> None:
        """Refuse ``path`` (named by ``key`` in the model file ``source``) unless it lies
        under an allowed folder once symbolic links and ``..`` are resolved."""
        try:
            real = path.resolve()
        except (OSError, RuntimeError, ValueError) as exc:
            raise ModelError(f"cannot resolve {shown(path)} ({exc})", key, source) from None
        if any(real.is_relative_to(folder) for folder in self.folders):
            return
        where = [f"{self.model_folder} (the model's folder)"] if self.model_folder else []
        where += [str(folder) for folder in self.extra]
        folders = ", ".join(where) + (" or " if where else "") + "the shipped presets"
        raise ModelError(f"refused to read {shown(path)}: a model may read files only under "
                         f"{folders}; allow another folder with --allow-path DIR "
                         f"(allow_paths= in load_model)", key, source)


def _check_regular(info: os.stat_result, path: Path, what: str) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise ModelError(f"cannot read the {what}: {shown(path)} is a folder, not a file",
                         source=str(path))
    if not stat.S_ISREG(info.st_mode):
        raise ModelError(f"cannot read the {what}: {shown(path)} is not a regular file "
                         f"(a device, pipe or socket)", source=str(path))
    if info.st_size > MAX_FILE_BYTES:
        _too_large(info.st_size, path, what)


def _too_large(size: int, path: Path, what: str) -> None:
    raise ModelError(f"the {what} is {size / 2**20:.1f} MB, more than the "
                     f"{MAX_FILE_BYTES / 2**20:g} MB a {what} may be", source=str(path))


def check_file(path: Path, what: str = "model file") -> None:
    """Refuse ``path`` unless it is a regular file of at most :data:`MAX_FILE_BYTES`
    (without opening it)."""
    try:
        _check_regular(os.stat(path), path, what)
    except (FileNotFoundError, NotADirectoryError, ValueError):
        raise FileNotFoundError(f"{what} {shown(path)} does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise FileNotFoundError(f"{what} {shown(path)} does not exist") from None
        raise ModelError(f"cannot read the {what} ({exc.strerror})", source=str(path)) from None


def read_text(path: Path, what: str = "model file") -> str:
    """The UTF-8 text of the regular file ``path`` (at most :data:`MAX_FILE_BYTES`).

    Devices, pipes, sockets and folders are refused before they are opened; the file is
    opened without blocking and checked again once open (it may have been replaced)."""
    check_file(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} {shown(path)} does not exist") from None
    except OSError as exc:
        raise ModelError(f"cannot read the {what} ({exc.strerror})", source=str(path)) from None
    with os.fdopen(fd, "rb") as handle:
        _check_regular(os.fstat(fd), path, what)
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:  # it grew since it was checked
        _too_large(len(data), path, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ModelError(f"cannot read the {what}: not UTF-8 text (byte {exc.start})",
                         source=str(path)) from None


#: libyaml's parser where PyYAML was built with it (its wheels are), else PyYAML's own
_PARSER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """``text`` parsed as safe YAML (raises ``yaml.YAMLError``), refusing a key given twice
    in one mapping, nesting deeper than :data:`MAX_DEPTH` and aliases expanding to more than
    :data:`MAX_VALUES` values (or referring to the value that contains them).

    libyaml's C parser reads the text (about ten times faster than PyYAML's own): the
    nesting is checked on its stream of events before any node is built, the node graph it
    composes is checked with aliases expanded (:func:`_check_node`), and PyYAML's safe
    constructor builds the values."""
    depth = 0
    for event in yaml.parse(text, Loader=_PARSER):
        if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_DEPTH} levels", event.start_mark)
        elif isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
            depth -= 1
    node = yaml.compose(text, Loader=_PARSER)
    if node is None:
        return None
    _check_node(node, {}, set())
    return yaml.constructor.SafeConstructor().construct_document(node)


def _check_node(node: yaml.Node, extent: dict[int, tuple[int, int]], open_: set[int]
                ) -> tuple[int, int]:
    """(values, depth) of ``node`` with aliases expanded, memoised in ``extent`` by node
    identity; a ComposerError when a node holds itself, is nested deeper than
    :data:`MAX_DEPTH` or holds more than :data:`MAX_VALUES` values. An anchored node is
    composed where it is written, before any alias to it, so the recursion follows the
    text's own nesting (already bounded)."""
    key = id(node)
    if key in extent:
        return extent[key]
    if key in open_:
        raise yaml.composer.ComposerError(
            None, None, "an alias refers to the value that contains it", node.start_mark)
    children: list = []
    if isinstance(node, yaml.SequenceNode):
        children = node.value
    elif isinstance(node, yaml.MappingNode):
        _refuse_duplicate_keys(node)
        children = [n for pair in node.value for n in pair]
    open_.add(key)
    sizes = [_check_node(child, extent, open_) for child in children]
    open_.discard(key)
    values = 1 + sum(v for v, _ in sizes)
    depth = max((d for _, d in sizes), default=0) + (not isinstance(node, yaml.ScalarNode))
    if depth > MAX_DEPTH:
        raise yaml.composer.ComposerError(
            None, None, f"nested deeper than {MAX_DEPTH} levels (aliases expanded)",
            node.start_mark)
    if values > MAX_VALUES:
        raise yaml.composer.ComposerError(
            None, None, f"more than {MAX_VALUES} values (aliases expanded)", node.start_mark)
    extent[key] = (values, depth)
    return extent[key]


def _refuse_duplicate_keys(node: yaml.MappingNode) -> None:
    """A mapping's keys (as written, before ``<<`` merges) must differ."""
    first: dict[tuple[str, str], int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = (key_node.tag, key_node.value)
        if key in first:
            raise yaml.constructor.ConstructorError(
                None, None, f"the key {shown(key_node.value)} appears twice in one mapping "
                f"(first on line {first[key]})", key_node.start_mark)
        first[key] = key_node.start_mark.line + 1


def read_yaml_file(path: Path, what: str = "model file") -> Any:
    """The YAML document of the file ``path`` (read as :func:`read_text` does), or a
    ModelError naming the line and column of what is not valid YAML."""
    text = read_text(path, what)
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ModelError(f"not valid YAML: {problem}", where, str(path)) from None


def check_nesting(data: Any, source: str) -> None:
    """Refuse ``data`` (mappings and lists) nested deeper than :data:`MAX_DEPTH` or holding
    more than :data:`MAX_VALUES` values — a mapping may come from Python, not YAML."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "")]
    count = 0
    while stack:
        node, depth, where = stack.pop()
        count += 1
        if count > MAX_VALUES:
            raise ModelError(f"more than {MAX_VALUES} values", source=source)
        if isinstance(node, dict):
            items = [(f"{where}.{k}" if where else str(k), v) for k, v in node.items()]
        elif isinstance(node, list | tuple):
            items = [(f"{where}[{i}]", v) for i, v in enumerate(node)]
        else:
            continue
        if depth > MAX_DEPTH:
            raise ModelError(f"nested deeper than {MAX_DEPTH} levels", shown(where)[1:-1],
                             source)
        stack.extend((value, depth + 1, path) for path, value in items)
