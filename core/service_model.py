"""Check a rest-json request body against botocore's service model, as AWS would (emulator, sink).

botocore's own client-side validator checks only what it can before sending (types, required
members, minimum lengths); AWS also enforces maximum lengths and patterns. This walks the same
shapes and enforces all of them, so the emulator refuses exactly what the service model forbids.
"""

import re
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape


def validate(shape: Shape, value: Any, path: str = "") -> list[str]:
    """Every way `value` (decoded JSON) breaks `shape`, as readable messages; empty when valid."""
    where = path or shape.name
    kind = shape.type_name
    if kind == "structure":
        return _validate_structure(shape, value, where)  # type: ignore[arg-type]
    if kind == "list":
        return _validate_list(shape, value, where)  # type: ignore[arg-type]
    if kind == "map":
        return _validate_map(shape, value, where)  # type: ignore[arg-type]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string"]
        errors = _check_length(shape, len(value), where) + _check_pattern(shape, value, where)
        if shape.enum and value not in shape.enum:
            errors.append(f"{where}: must be one of {shape.enum}")
        return errors
    if kind in ("float", "double"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return _check_range(shape, value, where) if ok else [f"{where}: expected a number"]
    if kind in ("integer", "long"):
        ok = isinstance(value, int) and not isinstance(value, bool)
        return _check_range(shape, value, where) if ok else [f"{where}: expected an integer"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: expected a boolean"]
    if kind == "timestamp":
        # rest-json sends timestamps as epoch seconds (botocore's default for this protocol).
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: expected a timestamp in epoch seconds"]
    return []


def _validate_structure(shape: StructureShape, value: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected an object"]
    errors: list[str] = []
    wire = {member.serialization.get("name", name): name for name, member in shape.members.items()}
    for name in shape.required_members:
        if value.get(name) is None:
            errors.append(f"{where}: missing required member {name!r}")
    for key, item in value.items():
        if key not in wire:
            errors.append(f"{where}: unknown member {key!r}")
            continue
        member = shape.members[wire[key]]
        if item is not None:
            errors.extend(validate(member, item, f"{where}.{key}"))
    return errors


def _validate_list(shape: ListShape, value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        return [f"{where}: expected a list"]
    errors = _check_length(shape, len(value), where)
    for index, item in enumerate(value):
        errors.extend(validate(shape.member, item, f"{where}[{index}]"))
    return errors


def _validate_map(shape: MapShape, value: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: expected an object"]
    errors = _check_length(shape, len(value), where)
    for key, item in value.items():
        errors.extend(validate(shape.key, key, f"{where}.{key}(key)"))
        errors.extend(validate(shape.value, item, f"{where}.{key}"))
    return errors


def _check_length(shape: Shape, length: int, where: str) -> list[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and length < low:
        return [f"{where}: length {length} is below the minimum {low}"]
    if high is not None and length > high:
        return [f"{where}: length {length} is above the maximum {high}"]
    return []


def _check_range(shape: Shape, number: float, where: str) -> list[str]:
    """A number's min and max are its value's bounds (a string's or a list's, its length)."""
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and number < low:
        return [f"{where}: {number} is below the minimum {low}"]
    if high is not None and number > high:
        return [f"{where}: {number} is above the maximum {high}"]
    return []


def _check_pattern(shape: Shape, value: str, where: str) -> list[str]:
    pattern = shape.metadata.get("pattern")
    if pattern and not re.search(pattern, value):
        return [f"{where}: does not match the pattern {pattern}"]
    return []
