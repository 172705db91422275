"""The OpenAPI document as the service answers: every status, every problem, every header.

FastAPI documents the success answer and its own validation body. The services answer errors
as RFC 9457 problems (`ltc.shared.errors`), need a token and roles, take `Idempotency-Key` and
`If-Match`, and refuse with named rules. This module completes each operation from what the
code does, not from prose:

- one `Problem` schema (with its `errors` items) for every error, as `application/problem+json`;
  per status the problem types the operation can answer, as an enum of `type` URIs;
- `x-rules`: the domain rules the operation can answer with, per status, read from the code by
  `ltc.shared.rule_catalog`;
- `x-roles`: the roles that may call it (from its `require_roles` dependency);
- the plumbing's answers: 400 malformed JSON and unknown query parameters, 401, 403 for a role
  outside the list, 404 for an unknown id, 412/428 for If-Match, 422 validation, 431, 503;
- the headers: `Idempotency-Key`, `If-Match` (required where the route requires it), and the
  `ETag` and `Location` of the answer.

It also refuses unknown query parameters (`reject_unknown_query`): a filter the operation does
not have must not be silently ignored (`GET /invoices?number=…` answering every invoice).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from ltc.shared.errors import PROBLEM_BASE, PROBLEM_JSON, ProblemError
from ltc.shared.limits import PROBLEM_TYPE as HEADERS_TOO_LARGE
from ltc.shared.rule_catalog import rules_of_endpoint

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "An RFC 9457 problem: every error answer of this API.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri", "description": f"`{PROBLEM_BASE}<name>`: what went wrong"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "for a person: what to do about it"},
        "rule": {"type": "string", "description": "the business rule that refused the request (a domain refusal)"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemItem"},
                   "description": "each field or item at fault"},
    },
    "additionalProperties": True,
}
PROBLEM_ITEM_SCHEMA: dict[str, Any] = {
    "title": "ProblemItem",
    "description": "One field or item at fault: a validation error names `field`, `message` and `type`; a "
                   "domain refusal may add what it found (e.g. the conflicting record's id).",
    "type": "object",
    "properties": {"field": {"type": "string"}, "message": {"type": "string"}, "type": {"type": "string"}},
    "additionalProperties": True,
}

_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Conflict",
           412: "Precondition failed", 422: "Unprocessable content", 428: "Precondition required",
           431: "Request header fields too large", 500: "Internal error", 503: "Service unavailable"}
_WRITES = {"post", "put", "patch", "delete"}


def install(app: FastAPI, routers: Iterable[APIRouter], *, prefix: str, title: str, description: str,
            version: str) -> None:
    """Give `app` the completed document (built once, on the first request for it), and remember
    each endpoint's query parameters for `reject_unknown_query`."""
    routes = {(method.lower(), prefix + route.path): route
              for router in routers for route in router.routes if isinstance(route, APIRoute)
              for method in route.methods}
    app.state.ltc_operations = {route.endpoint: (method, path) for (method, path), route in routes.items()}
    app.state.ltc_query_names = {
        route.endpoint: frozenset(_param_names(route.dependant, "query_params"))
        for route in routes.values()}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=title, version=version, description=description, routes=app.routes)
            complete(document, routes)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def roles_of(route: APIRoute) -> tuple[str, ...] | None:
    """The roles `require_roles` lets call the route, or None when any caller may."""
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        roles = getattr(dependency.call, "ltc_roles", None)
        if roles is not None:
            return tuple(roles)
        pending.extend(dependency.dependencies)
    return None


def _param_names(dependant: Dependant, kind: str) -> set[str]:
    """The names (aliases) of the `kind` parameters ("query_params", "header_params") of an
    operation, its dependencies' included."""
    names: set[str] = set()
    pending = [dependant]
    while pending:
        current = pending.pop()
        names.update(field.alias or field.name for field in getattr(current, kind))
        pending.extend(current.dependencies)
    return names


def _header_names(route: APIRoute) -> set[str]:
    return {name.lower() for name in _param_names(route.dependant, "header_params")}


def if_match_required(route: APIRoute) -> bool:
    pending = list(route.dependant.dependencies)
    while pending:
        dependency = pending.pop()
        if getattr(dependency.call, "ltc_if_match_required", False):
            return True
        pending.extend(dependency.dependencies)
    return False


def complete(document: dict[str, Any], routes: dict[tuple[str, str], APIRoute]) -> None:
    """Complete every operation of `document` from the route that answers it."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ProblemItem"] = PROBLEM_ITEM_SCHEMA
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            route = routes.get((method, path))
            if route is None or not isinstance(operation, dict):
                continue
            _complete_operation(operation, route, method, path, schemas)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def _complete_operation(operation: dict[str, Any], route: APIRoute, method: str, path: str,
                        schemas: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    headers = _header_names(route)
    has_body = "requestBody" in operation
    has_params = bool(operation.get("parameters"))
    protected = bool(operation.get("security"))
    roles = roles_of(route)
    rules = rules_of_endpoint(route.endpoint)

    problems: dict[int, set[str]] = {status: set(names) for status, names in rules.items()}

    def add(status: int, *names: str) -> None:
        problems.setdefault(status, set()).update(names)

    add(400, "unknown-query-parameter")
    if has_body:
        add(400, "malformed-json")
        add(422, "validation-error", "money-invalid", "out-of-range")
    if has_params:
        add(422, "validation-error", "out-of-range")
    if protected:
        add(401, "missing-token", "invalid-token")
    if roles is not None:
        add(403, "forbidden-role")
    if "{" in path:
        add(404, "not-found")
    if method in _WRITES:
        add(409, "concurrent-modification", "constraint-violation")
    if "if-match" in headers:
        add(412, "stale-etag")
        if if_match_required(route):
            add(428, "if-match-required")
    if "idempotency-key" in headers:
        add(422, "idempotency-key-reused")
    add(431, HEADERS_TOO_LARGE)
    add(503, "database-unavailable")
    add(500, "internal-error")  # a defect: logged with its correlation id, never the caller's input
    # Not a status this route can answer: drop what FastAPI documents by default.
    if not has_body and not has_params:
        problems.pop(422, None)
    responses.pop("422", None)

    for status in sorted(problems):
        names = sorted(problems[status])
        if not names:
            continue
        description = f"{_TITLES.get(status, 'Error')}: " + ", ".join(f"`{n}`" for n in names)
        declared = responses.get(str(status), {}).get("description")
        if declared and declared != "Successful Response":  # what the route says of it (e.g. what `errors` holds)
            description += f". {declared}"
        response: dict[str, Any] = {
            "description": description,
            "content": {PROBLEM_JSON: {"schema": {"allOf": [
                {"$ref": "#/components/schemas/Problem"},
                {"properties": {"type": {"enum": [PROBLEM_BASE + n for n in names]}}},
            ]}}},
        }
        if status == 503:
            response["headers"] = {"Retry-After": {"description": "seconds to wait before the retry",
                                                   "schema": {"type": "integer"}}}
        if status == 401:
            response["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        responses[str(status)] = response

    operation["x-rules"] = {str(status): sorted(names) for status, names in sorted(rules.items()) if names}
    if roles is not None:
        operation["x-roles"] = list(roles)
        operation["description"] = (operation.get("description", "") + "\n\n" if operation.get("description")
                                    else "") + "Roles: " + ", ".join(f"`{r}`" for r in roles) + "."
    _document_headers(operation, route, method, schemas)


def _document_headers(operation: dict[str, Any], route: APIRoute, method: str, schemas: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") != "header":
            continue
        if parameter["name"] == "If-Match":
            required = if_match_required(route)
            parameter["required"] = required
            parameter["schema"] = {"type": "string"}
            parameter["description"] = (
                "the `ETag` of your last read of the object: a change based on an older one is refused "
                "(412 `stale-etag`)" + ("; required (428 `if-match-required` without it)" if required else ""))
        elif parameter["name"] == "Idempotency-Key":
            parameter["schema"] = {"type": "string", "maxLength": 200}
            parameter["description"] = ("any unique string: the same key and body again answers what the first "
                                        "call did, without doing it twice; the same key with another body is a 422 "
                                        "`idempotency-key-reused`")
    for status, response in operation.get("responses", {}).items():
        if not status.startswith("2"):
            continue
        model = _success_schema(response, schemas)
        headers = response.setdefault("headers", {})
        if model is not None and "version" in model.get("properties", {}):
            headers["ETag"] = {"description": "the object's version, for `If-Match`", "schema": {"type": "string"}}
        if status == "201":
            headers["Location"] = {"description": "where to read what was created (for an item added to an object, the object)", "schema": {"type": "string"}}
        if not headers:
            response.pop("headers")


def _success_schema(response: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any] | None:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref = schema.get("$ref", "")
    return schemas.get(ref.rsplit("/", 1)[-1]) if ref else None


async def reject_unknown_query(request: Request) -> None:
    """App-wide dependency: a query parameter the matched operation does not take is a 400."""
    if not request.query_params:
        return
    known = request.app.state.ltc_query_names.get(request.scope.get("endpoint"))
    if known is None:  # not an API operation (health, docs)
        return
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        taken = ", ".join(sorted(known)) or "none"
        raise ProblemError(400, "unknown-query-parameter", "Bad request",
                           f"unknown query parameter {', '.join(unknown)}; this operation takes: {taken}",
                           errors=[{"field": name, "message": "not a parameter of this operation",
                                    "type": "unknown_parameter"} for name in unknown])
