"""Colander building blocks shared by the API's request schemas.

JSON already has types, so these types take them as they come: a string
field refuses 5, an integer field refuses "5", 5.5 and true.
"""

import json

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


def as_name(value):
    """A name's one spelling (tracee.text): surrounding white space dropped, NFC."""
    return normalise_name(value) if isinstance(value, str) else value


def printable(node, value):
    if not is_printable(value):
        raise colander.Invalid(node, "must not contain control characters or NUL bytes")


def valid_name(node, value):
    problem = name_problem(value)
    if problem is not None:
        raise colander.Invalid(node, problem)


def text_node(max_length: int, **kw):
    """A name (of a tracker, template, step or process), under the rules of tracee.text."""
    return colander.SchemaNode(
        StrictString(),
        preparer=as_name,
        validator=colander.All(
            colander.Length(min=1, max=max_length, min_err="must not be empty",
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


def _read_json_object(request):
    limit = int(request.registry.settings["tracee.max_body_bytes"])
    if (request.content_length or 0) > limit:
        raise api_error(413, f"request body is larger than {limit} bytes")
    # Read one byte past the limit and no further: a body sent without a
    # Content-Length (chunked) must not be taken in whole before it is refused.
    raw = request.body_file.read(limit + 1)
    if len(raw) > limit:
        raise api_error(413, f"request body is larger than {limit} bytes")
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


def json_body(schema: colander.SchemaNode):
    """A Cornice validator deserialising the JSON body with a prebuilt schema."""

    def validator(request, **_kw):
        data = _read_json_object(request)
        try:
            request.validated.update(schema.deserialize(data))
        except colander.Invalid as invalid:
            for path, message in invalid.asdict().items():
                request.errors.add("body", path, message)

    return validator


def querystring(schema: colander.SchemaNode):
    """Like json_body for the query string (values arrive as text there)."""

    def validator(request, **_kw):
        try:
            request.validated.update(schema.deserialize(dict(request.GET)))
        except colander.Invalid as invalid:
            for path, message in invalid.asdict().items():
                request.errors.add("querystring", path, message)

    return validator


def path_id(request, name: str = "id") -> int:
    raw = request.matchdict[name]
    if not (raw.isascii() and raw.isdigit()) or not 0 < int(raw) <= MAX_INT:
        raise api_error(400, f"{name} must be a positive integer", location="path", name=name)
    return int(raw)
