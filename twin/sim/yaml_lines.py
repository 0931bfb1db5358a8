"""Load YAML and remember the line of every value, so validation errors can point at the file.

PyYAML's composer keeps each node's start mark; we walk the node tree once, building plain Python
values and a map from the value's path (as pydantic reports it in `loc`) to its 1-based line.

YAML aliases make a tiny file expand into a huge tree ("billion laughs": nine levels of ten aliases
each is a 1 KB file and 10^9 values). So aliases are refused beyond `MAX_ALIASES`, counted as the
composer meets them, and the walk stops after `MAX_NODES` values whatever the file did to get there.
"""

from __future__ import annotations

from typing import Any

import yaml

from twin.errors import TwinError

Path_ = tuple[str | int, ...]


MAX_ALIASES = 50  # the shipped scenarios use none; a few anchors for shared settings are plenty
MAX_NODES = 100_000  # values in the expanded document; the shipped scenarios have under 500


class YamlSyntaxError(TwinError, ValueError):
    pass


class YamlLimitError(YamlSyntaxError):
    """The document is over one of the loader's limits; the message names the limit and the line."""


class BoundedLoader(yaml.SafeLoader):
    """A SafeLoader that refuses more than `MAX_ALIASES` alias references."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                line = self.peek_event().start_mark.line + 1
                raise YamlLimitError(
                    f"line {line}: more than {MAX_ALIASES} YAML aliases (*name); write the values out "
                    "instead of expanding anchors"
                )
        return super().compose_node(parent, index)


def load_with_lines(text: str) -> tuple[Any, dict[Path_, int]]:
    try:
        node = yaml.compose(text, Loader=BoundedLoader)
    except YamlLimitError:
        raise
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise YamlSyntaxError(f"{where}{getattr(e, 'problem', None) or e}") from e
    except RecursionError:
        raise YamlLimitError("the document is nested too deeply") from None
    lines: dict[Path_, int] = {}
    if node is None:
        return None, lines
    try:
        return _build(node, (), lines), lines
    except RecursionError:
        raise YamlLimitError("the document is nested too deeply") from None


def _build(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    if len(lines) >= MAX_NODES:
        raise YamlLimitError(
            f"line {node.start_mark.line + 1}: the document expands to more than {MAX_NODES:,} values"
        )
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(key_node)
            if isinstance(key, (list, dict, set)):  # `? [1]` keys: Python cannot use them as a dict key
                line = key_node.start_mark.line + 1
                raise YamlSyntaxError(
                    f"line {line}: a mapping key must be a scalar, not a {type(key).__name__}"
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(value_node, (*path, key), lines)
            # the key's own line is the one a reader looks for
            lines[(*path, key)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _construct(node)


def _construct(node: yaml.Node) -> Any:
    """A scalar's value; a tag SafeLoader does not construct (`!!python/object`) is a syntax error."""
    try:
        return yaml.SafeLoader(" ").construct_object(node)
    except yaml.YAMLError as e:
        raise YamlSyntaxError(
            f"line {node.start_mark.line + 1}: {getattr(e, 'problem', None) or e}"
        ) from None


def line_of(lines: dict[Path_, int], loc: Path_) -> int | None:
    """The line of the deepest known prefix of `loc` (a missing field points at its parent)."""
    for end in range(len(loc), -1, -1):
        found = lines.get(tuple(loc[:end]))
        if found is not None:
            return found
    return None
