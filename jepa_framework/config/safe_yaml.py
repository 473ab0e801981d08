"""Bounded YAML: the safe constructor plus limits, so a recipe is cheap to read whatever it holds.

A recipe is refused quickly, with a message, when it is larger than :data:`MAX_BYTES`, not UTF-8,
nested deeper than :data:`MAX_DEPTH`, or expands to more than :data:`MAX_NODES` nodes once its
aliases are counted (a "billion laughs" document is tiny on disk but exponential in memory and
in every walk over it). A key repeated in one mapping is an error naming the key and its lines,
rather than the silent last-one-wins of plain YAML. Only safe tags are constructed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

MAX_BYTES = 256 * 1024  # recipes are a few KiB
MAX_NODES = 50_000  # nodes after alias expansion
MAX_DEPTH = 64  # nesting of mappings and lists

MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlLimitError(yaml.YAMLError):
    """The document is over one of the limits above."""


if yaml.__with_libyaml__:  # libyaml scans and parses ~5x faster; composing stays in Python
    from yaml._yaml import CParser

    class _Events(CParser):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)

else:  # pragma: no cover - PyYAML built without libyaml

    class _Events(Reader, Scanner, Parser):  # type: ignore[no-redef]
        def __init__(self, stream: str) -> None:
            Reader.__init__(self, stream)
            Scanner.__init__(self)
            Parser.__init__(self)


class BoundedLoader(Composer, _Events, SafeConstructor, Resolver):
    """SafeLoader that counts nodes as if aliases were expanded and refuses duplicate keys.

    Composer comes first so that its node-by-node composing (counted below) replaces libyaml's.
    """

    def __init__(self, stream: str) -> None:
        _Events.__init__(self, stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._total = 0  # nodes so far, each alias counted as a copy of its anchored node
        self._sizes: dict[int, int] = {}  # id(node) -> its count, aliases expanded
        self._depth = 0

    def _add(self, count: int, mark: Any) -> None:
        self._total += count
        if self._total > MAX_NODES:
            raise YamlLimitError(
                f"holds more than {MAX_NODES} values, counting each alias as a copy of its "
                f"anchor (line {mark.line + 1})"
            )

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(AliasEvent):
            mark = self.peek_event().start_mark
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:
                raise YamlLimitError(f"has an alias inside its own anchor (line {mark.line + 1})")
            self._add(self._sizes[id(node)], mark)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            line = self.peek_event().start_mark.line + 1
            raise YamlLimitError(f"is nested more than {MAX_DEPTH} levels deep (line {line})")
        before = self._total
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._add(1, node.start_mark)
        self._sizes[id(node)] = self._total - before
        return node

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Any] = {}
        for key_node, _ in node.value:
            if key_node.tag == MERGE_TAG:  # `<<: *base` merges; its keys may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark)
            except TypeError:  # an unhashable key: SafeLoader reports it
                continue
            if first is not key_node.start_mark:
                raise ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found the key {key!r} twice (first on line {first.line + 1})",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep)


def loads(text: str) -> Any:
    """Parse one YAML document within the limits; raises ``yaml.YAMLError``."""
    if len(text) > MAX_BYTES:
        raise YamlLimitError(f"is longer than {MAX_BYTES} characters")
    loader = BoundedLoader(text)  # what yaml.load does, with the safe constructor only
    try:
        return loader.get_single_data()
    except RecursionError:
        raise ComposerError(None, None, f"is nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()


def read_text(path: Path) -> str:
    """The file's text, refusing files over :data:`MAX_BYTES` and non-UTF-8 bytes (ValueError)."""
    with path.open("rb") as f:
        data = f.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise ValueError(f"is larger than {MAX_BYTES // 1024} KiB; a recipe is a short text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            f"save it as UTF-8"
        ) from None
