"""Load YAML and remember the line of every value, so validation errors can point at the file.

PyYAML's composer keeps each node's start mark; we walk the node tree once, building plain Python
values and a map from the value's path (as pydantic reports it in `loc`) to its 1-based line.
"""

from __future__ import annotations

from typing import Any

import yaml

Path_ = tuple[str | int, ...]


class YamlSyntaxError(ValueError):
    pass


def load_with_lines(text: str) -> tuple[Any, dict[Path_, int]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark is not None else ""
        raise YamlSyntaxError(f"{where}{getattr(e, 'problem', None) or e}") from e
    lines: dict[Path_, int] = {}
    if node is None:
        return None, lines
    return _build(node, (), lines), lines


def _build(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
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
