"""Bounded YAML: ``yaml.SafeLoader`` plus limits, so a recipe is cheap to read whatever it holds.

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
from yaml.composer import ComposerError
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_BYTES = 1 << 20  # 1 MiB
MAX_NODES = 100_000  # nodes after alias expansion
MAX_DEPTH = 64  # nesting of mappings and lists

MERGE_TAG = "tag:yaml.org,2002:merge"


class YamlLimitError(yaml.YAMLError):
    """The document is over one of the limits above."""


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts nodes as if aliases were expanded and refuses duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._sizes: dict[int, int] = {}  # id(node) -> node count with aliases expanded
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise YamlLimitError(f"nested more than {MAX_DEPTH} levels deep{mark}")
        node = super().compose_node(parent, index)
        self._depth -= 1
        if id(node) not in self._sizes:  # an alias returns a node already counted
            children: list[Node] = []
            if isinstance(node, SequenceNode):
                children = node.value
            elif isinstance(node, MappingNode):
                children = [n for pair in node.value for n in pair]
            self._sizes[id(node)] = 1 + sum(self._sizes[id(c)] for c in children)
        if self._sizes[id(node)] > MAX_NODES:
            raise YamlLimitError(
                f"expands to more than {MAX_NODES} values once its anchors and aliases are "
                f"followed{node.start_mark}"
            )
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
    try:
        return yaml.load(text, Loader=BoundedLoader)  # noqa: S506 - a SafeLoader subclass
    except RecursionError:
        raise ComposerError(None, None, f"nested more than {MAX_DEPTH} levels deep") from None


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
