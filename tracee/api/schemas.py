"""Colander building blocks shared by the API's request schemas.

JSON already has types, so these types take them as they come: a string
field refuses 5, an integer field refuses "5", 5.5 and true (5.0 is 5).
"""

import json
import re
import unicodedata
from datetime import UTC, datetime

import colander

from tracee.api.errors import api_error
from tracee.tenancy.service import SLUG_RE
from tracee.text import is_printable, name_problem, normalise_name

MAX_INT = 2**31 - 1


class StrictString(colander.String):
    def deserialize(self, node, cstruct):
        if cstruct is colander.null or cstruct is None:
            return colander.null
        if not isinstance(cstruct, str):
            raise colander.Invalid(node, "must be a string")
        return cstruct


class StrictInteger(colander.SchemaType):
    def deserialize(self, node, cstruct):
        if cstruct is colander.null or cstruct is None:
            return colander.null
        # 5.0 is the integer 5 in JSON (and in JSON Schema, which the API's
        # OpenAPI document speaks); 5.5, "5" and true are not.
        if isinstance(cstruct, float) and cstruct.is_integer():
            return int(cstruct)
        if isinstance(cstruct, bool) or not isinstance(cstruct, int):
            raise colander.Invalid(node, "must be an integer")
        return cstruct


class StrictBoolean(colander.SchemaType):
    def deserialize(self, node, cstruct):
        if cstruct is colander.null or cstruct is None:
            return colander.null
        if not isinstance(cstruct, bool):
            raise colander.Invalid(node, "must be true or false")
        return cstruct


class StrictDateTime(colander.SchemaType):
    """An RFC 3339 date-time with its offset (``2026-02-03T17:00:00Z``), as UTC.

    A time without an offset is refused: read in the server's zone or in
    UTC, it would be a different moment than the sender meant.
    """

    def deserialize(self, node, cstruct):
        if cstruct is colander.null or cstruct is None:
            return colander.null
        if not isinstance(cstruct, str) or not RFC3339.match(cstruct):
            raise colander.Invalid(node, "must be a date-time with its offset, between the "
                                         "years 1900 and 2199, such as 2026-02-03T17:00:00Z")
        try:
            moment = datetime.fromisoformat(cstruct.upper()).astimezone(UTC)
        except ValueError:
            raise colander.Invalid(node, "must be a date that exists") from None
        return moment.replace(microsecond=0)


# RFC 3339's date-time with its offset, each field in its range (the calendar,
# e.g. no 30 February, is left to datetime); years 1900-2199 are dates a
# business promises. The OpenAPI document publishes this same pattern.
RFC3339 = re.compile(
    r"(19|20|21)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(\.\d{1,9})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)\Z", re.ASCII)


class QueryInteger(colander.Int):
    """An integer in a query string: ASCII digits, an optional minus, nothing else.

    ``int()`` alone also takes " 5", "+5", "5_000" and other scripts' digits,
    which the API's documentation does not promise.
    """

    def deserialize(self, node, cstruct):
        if cstruct is colander.null:
            return colander.null
        if not (isinstance(cstruct, str) and _QUERY_INTEGER.fullmatch(cstruct)):
            raise colander.Invalid(node, f"{cstruct!r} is not a number")
        return int(cstruct)


_QUERY_INTEGER = re.compile(r"-?[0-9]+")


class QueryBoolean(colander.SchemaType):
    """``true`` or ``false`` in a query string, also spelled ``1``/``0`` or ``yes``/``no``."""

    CHOICES = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}

    def deserialize(self, node, cstruct):
        if cstruct is colander.null:
            return colander.null
        if cstruct not in self.CHOICES:
            raise colander.Invalid(
                node, f"{cstruct!r} is neither true nor false ({', '.join(self.CHOICES)})"
            )
        return self.CHOICES[cstruct]


def as_name(value):
    """A name's one spelling (tracee.text): surrounding white space dropped, NFC."""
    return normalise_name(value) if isinstance(value, str) else value


def printable(node, value):
    if not is_printable(value):
        raise colander.Invalid(node, "must not contain control characters or NUL bytes")


def _char_class(code_points, negate=False) -> str:
    """A regex character class of ``code_points``, in escapes ECMA 262 and Python share."""
    ranges, points = [], sorted(code_points)
    for point in points:
        if ranges and point == ranges[-1][1] + 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    body = "".join(
        f"\\u{low:04x}" if low == high else f"\\u{low:04x}-\\u{high:04x}" for low, high in ranges
    )
    return f"[{'^' if negate else ''}{body}]"


# What is_printable refuses, and what str.strip() trims (every such character is below U+3001).
_CONTROL = [*range(0x20), *range(0x7F, 0xA0)]
_SPACE = [c for c in range(0x3001) if chr(c).isspace()]
# What name_problem refuses beyond those: invisible format characters. Only
# those in the BMP fit \uXXXX escapes; the few above it are refused all the same.
_FORMAT = [c for c in range(0x10000) if unicodedata.category(chr(c)) in ("Cf", "Cs")]
printable.json_schema = {"pattern": f"^{_char_class(_CONTROL, negate=True)}*$"}


def text_schema(max_length: int, min_length: int = 1) -> dict:
    """What text_node accepts, as JSON Schema: trimmed, then min_length (1 or 0)
    to max_length characters.

    The surrounding white space may be anything str.strip() removes, control
    characters included; inside, no control or invisible format character.
    """
    space = _char_class(_SPACE)
    edge = _char_class({*_CONTROL, *_FORMAT, *_SPACE}, negate=True)
    inner = _char_class({*_CONTROL, *_FORMAT}, negate=True)
    text = f"{edge}(?:{inner}{{0,{max_length - 2}}}{edge})?"
    if min_length == 0:
        text = f"(?:{text})?"
    return {
        "type": "string",
        "pattern": f"^{space}*{text}{space}*$",
        "description": f"{min_length} to {max_length} characters once surrounding white space "
        "is trimmed; no control characters and no invisible formatting characters",
    }


def valid_name(node, value):
    problem = name_problem(value)
    if problem is not None:
        raise colander.Invalid(node, problem)


def text_node(max_length: int, min_length: int = 1, **kw):
    """A name (of a tracker, template, step or process), under the rules of tracee.text;
    with ``min_length=0``, a text that may be empty (a description)."""
    return colander.SchemaNode(
        StrictString(),
        json_schema=text_schema(max_length, min_length),
        preparer=as_name,
        validator=colander.All(
            colander.Length(min=min_length, max=max_length, min_err="must not be empty",
                            max_err=f"must be at most {max_length} characters"),
            valid_name,
        ),
        **kw,
    )


def slug_node(**kw):
    return colander.SchemaNode(
        StrictString(),
        validator=colander.All(
            colander.Length(min=1, max=63),
            colander.Regex(SLUG_RE, "must be lower-case letters, digits and single hyphens"),
        ),
        **kw,
    )


def positive_int_node(**kw):
    return colander.SchemaNode(
        StrictInteger(), validator=colander.Range(1, MAX_INT, min_err="must be at least 1",
                                                  max_err=f"must be at most {MAX_INT}"), **kw
    )


def read_body(request, limit: int | None = None) -> bytes:
    """The request body, refused with a 413 past ``limit`` (``tracee.max_body_bytes``)."""
    limit = limit or int(request.registry.settings["tracee.max_body_bytes"])
    if (request.content_length or 0) > limit:
        raise api_error(413, f"request body is larger than {limit} bytes")
    # Read one byte past the limit and no further: a body sent without a
    # Content-Length (chunked) must not be taken in whole before it is refused.
    raw = request.body_file.read(limit + 1)
    if len(raw) > limit:
        raise api_error(413, f"request body is larger than {limit} bytes")
    return raw


def _read_json_object(request, limit: int | None = None):
    raw = read_body(request, limit)
    if not raw.strip():
        raise api_error(400, "request body must be a JSON object")
    try:
        data = json.loads(raw, parse_constant=_refuse_constant)
        # "\ud800" is valid JSON but no text: no database can store it.
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except RecursionError:
        raise api_error(400, "request body is not valid JSON: nested too deeply") from None
    except UnicodeEncodeError:
        raise api_error(
            400, "request body is not valid JSON: a string holds an unpaired surrogate "
            "(\\ud800-\\udfff), which is not Unicode text"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise api_error(400, f"request body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise api_error(400, "request body must be a JSON object")
    return data


def _refuse_constant(name):
    raise ValueError(f"{name} is not allowed in JSON")


def json_body(schema: colander.SchemaNode, max_bytes: int | None = None):
    """A Cornice validator deserialising the JSON body with a prebuilt schema
    (bodies up to ``max_bytes`` where a route takes more than the usual limit)."""

    def validator(request, **_kw):
        data = _read_json_object(request, max_bytes)
        try:
            request.validated.update(schema.deserialize(data))
        except colander.Invalid as invalid:
            for path, message in invalid.asdict().items():
                request.errors.add("body", path, message)

    validator.documents = ("body", schema)  # read by tracee.api.openapi
    return validator


def json_merge_body(schema: colander.SchemaNode):
    """Like json_body for a partial update: ``request.validated`` holds only the
    fields the body names, None for those it sets to ``null`` (to clear them)."""
    names = {child.name for child in schema.children}

    def validator(request, **_kw):
        data = _read_json_object(request)
        try:
            values = schema.deserialize(data)
        except colander.Invalid as invalid:
            for path, message in invalid.asdict().items():
                request.errors.add("body", path, message)
            return
        request.validated.update({name: values.get(name) for name in data if name in names})

    validator.documents = ("body", schema)
    return validator


def querystring(schema: colander.SchemaNode):
    """Like json_body for the query string (values arrive as text there)."""

    def validator(request, **_kw):
        try:
            request.validated.update(schema.deserialize(dict(request.GET)))
        except colander.Invalid as invalid:
            for path, message in invalid.asdict().items():
                request.errors.add("querystring", path, message)

    validator.documents = ("query", schema)
    return validator


def path_id(request, name: str = "id") -> int:
    raw = request.matchdict[name]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_INT:
        raise api_error(400, f"{name} must be a positive integer", location="path", name=name)
    return int(raw)


# Path parameters by name, for the OpenAPI document: path_id and the template
# view check these same bounds (a malformed slug names no template: a 404).
PATH_PARAMETERS = {
    "id": positive_int_node(name="id", description="the tracker's, or the webhook endpoint's, id"),
    "delivery_id": positive_int_node(name="delivery_id", description="the delivery's id"),
    "slug": slug_node(name="slug", description="the template's slug"),
    "client": slug_node(name="client", description="the client tenant's slug"),
    "kind": colander.SchemaNode(StrictString(), name="kind", validator=colander.OneOf(
        ["tracking", "embed"]), description="the page: the tracking page or the embed"),
    "version": positive_int_node(name="version", description="a template version"),
}

