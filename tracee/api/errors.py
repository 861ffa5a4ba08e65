"""One error shape for the whole API, Cornice's own:

    {"status": "error", "errors": [{"location": "body", "name": "name",
                                    "description": "Required"}]}
"""

import json

from pyramid import httpexceptions


def error_body(errors) -> dict:
    return {"status": "error", "errors": list(errors)}


def error(location: str, name: str | None, description: str) -> dict:
    return {"location": location, "name": name, "description": description}


def api_error(status: int, description: str, location="body", name=None, headers=None):
    """An HTTP exception carrying the API's JSON error body, ready to raise."""
    exc_class = httpexceptions.status_map[status]
    return exc_class(
        body=json.dumps(error_body([error(location, name, description)])),
        content_type="application/json",
        charset="utf-8",
        headers=headers,
    )


def cornice_error_handler(request):
    """Render Cornice's collected validation errors in the same shape."""
    errors = request.errors
    response = httpexceptions.status_map[errors.status](
        body=json.dumps(error_body(errors)), content_type="application/json", charset="utf-8"
    )
    return response
