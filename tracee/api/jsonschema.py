"""The JSON Schema of a Colander request schema, for the OpenAPI document.

Only what the API's schemas use is translated; anything else raises, so a
new type or validator cannot silently go undocumented. A node may carry its
own ``json_schema`` (a dict) when its rules are more than the sum of its
validators (a text field is trimmed before its length is checked).
"""

import re

import colander

from tracee.api.schemas import (
    RFC3339,
    QueryBoolean,
    StrictBoolean,
    StrictDateTime,
    StrictInteger,
    StrictString,
)

_TYPES = {
    StrictString: {"type": "string"},
    StrictInteger: {"type": "integer"},
    StrictBoolean: {"type": "boolean"},
    # The format alone: schemathesis reads "" and other strings as date-times.
    StrictDateTime: {"type": "string", "format": "date-time",
                     "pattern": "^" + RFC3339.pattern.removesuffix(r"\Z") + "$"},
    colander.String: {"type": "string"},
    colander.Int: {"type": "integer"},
    QueryBoolean: {"type": "string", "enum": list(QueryBoolean.CHOICES)},
}
# The strict JSON types read null as "not given", so an optional field may be null.
_NULL_AS_MISSING = (StrictString, StrictInteger, StrictBoolean, StrictDateTime)


def _type_schema(typ) -> dict:
    for cls in type(typ).__mro__:
        if cls in _TYPES:
            return dict(_TYPES[cls])
    raise TypeError(f"no JSON Schema for the Colander type {type(typ).__name__}")


def ecma_pattern(regex: re.Pattern | str) -> str:
    """A Python pattern as JSON Schema reads it (ECMA 262 has no ``\\Z``)."""
    pattern = regex.pattern if isinstance(regex, re.Pattern) else regex
    return pattern.removesuffix(r"\Z") + "$" if pattern.endswith(r"\Z") else pattern


def _validator_schema(validator, json_type: str) -> dict:
    if validator is None:
        return {}
    own = getattr(validator, "json_schema", None)
    if own is not None:
        return dict(own)
    if isinstance(validator, colander.All):
        merged = {}
        for each in validator.validators:
            merged.update(_validator_schema(each, json_type))
        return merged
    if isinstance(validator, colander.Length):
        prefix = "Items" if json_type == "array" else "Length"
        bounds = {f"min{prefix}": validator.min, f"max{prefix}": validator.max}
        return {key: value for key, value in bounds.items() if value is not None}
    if isinstance(validator, colander.Range):
        bounds = {"minimum": validator.min, "maximum": validator.max}
        return {key: value for key, value in bounds.items() if value is not None}
    if isinstance(validator, colander.OneOf):
        return {"enum": list(validator.choices)}
    if isinstance(validator, colander.Regex):
        return {"pattern": ecma_pattern(validator.match_object)}
    raise TypeError(f"no JSON Schema for the validator {validator!r}")


def node_schema(node: colander.SchemaNode) -> dict:
    """The schema of one node; a missing default makes a property optional, not nullable."""
    own = getattr(node, "json_schema", None)
    if own is not None:
        schema = dict(own)
    elif isinstance(node.typ, colander.Mapping):
        schema = {"type": "object", "properties": {}}
        required = []
        for child in node.children:
            schema["properties"][child.name] = node_schema(child)
            if child.required:
                required.append(child.name)
        if required:
            schema["required"] = required
    elif isinstance(node.typ, colander.Sequence):
        schema = {"type": "array", "items": node_schema(node.children[0])}
        schema.update(_validator_schema(node.validator, "array"))
    else:
        schema = _type_schema(node.typ)
        schema.update(_validator_schema(node.validator, schema["type"]))
    if not node.required and isinstance(node.typ, _NULL_AS_MISSING):
        schema["type"] = [schema["type"], "null"]
    if node.description:
        schema["description"] = node.description
    if node.missing not in (colander.required, colander.drop, None, colander.null):
        schema["default"] = node.missing
    return schema
