"""Confluent's BACKWARD compatibility rule for JSON Schemas: consumers using the NEW schema must be able to
read data written with the OLD one.

So, for every field: a field removed that old data may carry (any field of a closed object, or any
required field) fails; a field whose accepted types shrink fails (integer → number widens and passes);
an enum losing a value fails; a new required field fails (old data lacks it); a new optional field
passes. Every problem names the field by its dotted path.
"""

from __future__ import annotations

from typing import Any

Schema = dict[str, Any]

# JSON Schema's "integer" is a subset of "number": a reader expecting a number accepts an integer.
_SUBTYPES = {"integer": {"integer"}, "number": {"number", "integer"}}


# More $ref hops than any real schema chains; a cycle (`a` -> `b` -> `a`) would otherwise loop forever.
_MAX_REF_HOPS = 64


def _resolve(node: Schema, root: Schema) -> Schema:
    hops = 0
    while "$ref" in node:
        hops += 1
        if hops > _MAX_REF_HOPS:
            raise ValueError(f"$ref chain longer than {_MAX_REF_HOPS} hops (circular?): {node['$ref']}")
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref is supported: {ref}")
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _variants(node: Schema, root: Schema) -> list[Schema]:
    node = _resolve(node, root)
    for key in ("anyOf", "oneOf"):
        if key in node:
            out: list[Schema] = []
            for sub in node[key]:
                out.extend(_variants(sub, root))
            return out
    return [node]


def _kinds(node: Schema, root: Schema) -> set[tuple[str, str | None]]:
    """The (JSON type, format) pairs a schema accepts; 'any' when unconstrained."""
    kinds: set[tuple[str, str | None]] = set()
    for v in _variants(node, root):
        t = v.get("type")
        if t is None:
            kinds.add(("any", None) if "enum" not in v and "const" not in v else ("enum", None))
            continue
        for one in t if isinstance(t, list) else [t]:
            kinds.add((one, v.get("format")))
    return kinds


def _accepts(new: set[tuple[str, str | None]], old: tuple[str, str | None]) -> bool:
    if ("any", None) in new:
        return True
    otype, ofmt = old
    for ntype, nfmt in new:
        types_ok = otype == ntype or otype in _SUBTYPES.get(ntype, set())
        # A new format constraint (e.g. date-time) rejects old strings that never had to match it.
        if types_ok and (nfmt is None or nfmt == ofmt):
            return True
    return False


def _enum(node: Schema, root: Schema) -> set[Any] | None:
    values: set[Any] = set()
    found = False
    for v in _variants(node, root):
        if "enum" in v:
            found = True
            values.update(v["enum"])
        elif "const" in v:
            found = True
            values.add(v["const"])
        elif v.get("type") != "null":
            return None  # some variant is unconstrained: no enum restriction overall
    return values if found else None


def _describe(kinds: set[tuple[str, str | None]]) -> str:
    return "|".join(sorted(f"{t}({f})" if f else t for t, f in kinds))


def _compare(old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str) -> list[str]:
    problems: list[str] = []
    old = _resolve(old, old_root)
    new = _resolve(new, new_root)
    old_props: dict[str, Schema] = old.get("properties", {})
    new_props: dict[str, Schema] = new.get("properties", {})
    old_req = set(old.get("required", []))
    new_req = set(new.get("required", []))
    new_closed = new.get("additionalProperties") is False
    added_required = sorted(set(new_props) - set(old_props) & new_req)
    for name, old_field in old_props.items():
        where = f"{path}{name}"
        if name not in new_props:
            if name in old_req or new_closed:
                hint = (
                    f" (renamed to {', '.join(repr(a) for a in added_required)}?)" if added_required else ""
                )
                problems.append(f"field '{where}' was removed{hint}: data written with the old schema has it")
            continue
        new_field = new_props[name]
        old_kinds, new_kinds = _kinds(old_field, old_root), _kinds(new_field, new_root)
        lost = {k for k in old_kinds if not _accepts(new_kinds, k)}
        if lost:
            problems.append(
                f"field '{where}' changed type from {_describe(old_kinds)} to {_describe(new_kinds)}"
            )
            continue
        old_enum, new_enum = _enum(old_field, old_root), _enum(new_field, new_root)
        if new_enum is not None and (old_enum is None or not old_enum <= new_enum):
            gone = sorted(map(str, (old_enum or {"<any>"}) - new_enum))
            problems.append(f"field '{where}' no longer accepts {', '.join(gone)}")
        old_objs = [v for v in _variants(old_field, old_root) if v.get("type") == "object"]
        new_objs = [v for v in _variants(new_field, new_root) if v.get("type") == "object"]
        if old_objs and new_objs:
            problems.extend(_compare(old_objs[0], new_objs[0], old_root, new_root, f"{where}."))
    for name in added_required:
        problems.append(
            f"field '{path}{name}' was added as required: data written with the old schema lacks it "
            "(make it optional with a default)"
        )
    return problems


def backward_problems(old: Schema, new: Schema) -> list[str]:
    """Why `new` cannot read data written with `old` (empty list: compatible)."""
    return _compare(old, new, old, new, "")


# Confluent's compatibility levels. FORWARD is BACKWARD with the roles swapped (readers of the OLD schema
# must read data written with the NEW one); FULL is both; _TRANSITIVE checks every earlier version, not
# just the latest; NONE checks nothing.
LEVELS = (
    "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE", "NONE",
)  # fmt: skip
DEFAULT_LEVEL = "BACKWARD"


def level_problems(level: str, history: list[tuple[int, Schema]], candidate: Schema) -> list[str]:
    """Why `candidate` may not follow `history` (oldest first, as (version, schema)) under `level`."""
    if level not in LEVELS:
        raise ValueError(f"unknown compatibility level {level!r}; choose from {', '.join(LEVELS)}")
    if level == "NONE" or not history:
        return []
    against = history if level.endswith("_TRANSITIVE") else history[-1:]
    base = level.removesuffix("_TRANSITIVE")
    problems: list[str] = []
    for version, old in against:
        if base in ("BACKWARD", "FULL"):
            problems.extend(f"version {version}, BACKWARD: {p}" for p in backward_problems(old, candidate))
        if base in ("FORWARD", "FULL"):
            problems.extend(f"version {version}, FORWARD: {p}" for p in backward_problems(candidate, old))
    return problems
