"""The OpenAPI document is clean for generators: named, typed, documented errors, examples.

These run over the document the code serves (`make openapi-check` keeps the committed copy equal
to it), so a route that loses its summary or grows an anonymous body fails here, not in a client.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute
from jsonschema import Draft202012Validator

from api.config import Settings
from api.main import PROBLEM_SCHEMAS, create_app

Spec = dict[str, Any]
METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}
REF = "#/components/schemas/"

# Fields that name a status, a priority or a role: generators should see a named enum.
ENUM_FIELDS = {"status", "priority", "severity", "role", "resolution"}
# The schemas a client writes and reads most: each carries a valid example.
MAIN_SCHEMAS = {
    "RegisterRequest",
    "UserCreate",
    "UserRead",
    "ProjectCreate",
    "ProjectRead",
    "BugCreate",
    "BugRead",
    "ExpenseCreate",
    "ExpenseRead",
    "JobCreate",
    "JobRead",
}
# Non-JSON bodies a handler streams or reads itself: described by media type, not by a model.
RAW_MEDIA_TYPES = {"application/octet-stream", "text/csv", "text/event-stream"}
# The operations anyone may call without a token. An operation is public because it is listed
# here, never because its route forgot the dependency that asks for a token.
PUBLIC_OPERATIONS = {
    "auth-register",
    "auth-token",
    "auth-refresh",
    "auth-logout",
    "roles-list",
    "ops-healthz",
    "ops-readyz",
}


@pytest.fixture(scope="module")
def app_and_spec(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Spec]:
    tmp = tmp_path_factory.mktemp("openapi")
    app = create_app(Settings(data_dir=tmp, spa_dir=tmp / "no-spa", executor_backend="off"))
    return app, app.openapi()


@pytest.fixture(scope="module")
def spec(app_and_spec: tuple[Any, Spec]) -> Spec:
    return app_and_spec[1]


def operations(spec: Spec) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield method.upper(), path, op


def ref_name(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.removeprefix(REF) if isinstance(ref, str) else None


def subschemas(schema: Any, where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema nested in `schema` (itself included), with a readable location."""
    if not isinstance(schema, dict):
        return
    yield where, schema
    for name, prop in schema.get("properties", {}).items():
        yield from subschemas(prop, f"{where}.{name}")
    for key in ("items", "additionalProperties", "not"):
        if isinstance(schema.get(key), dict):
            yield from subschemas(schema[key], f"{where}[{key}]")
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for i, sub in enumerate(schema.get(key, [])):
            yield from subschemas(sub, f"{where}[{key}{i}]")


def test_every_operation_has_a_stable_id_and_a_written_summary(app_and_spec):
    app, spec = app_and_spec
    ids = [op.get("operationId") for _, _, op in operations(spec)]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for method, path, op in operations(spec):
        tag = op["tags"][0]
        assert re.fullmatch(rf"{tag}-[a-z0-9]+(-[a-z0-9]+)*", op["operationId"]), (method, path)
    # FastAPI invents "List Projects" from the function name when a route says nothing.
    unsaid = [
        f"{sorted(route.methods)} {route.path}"
        for route in app.routes
        if isinstance(route, APIRoute) and route.include_in_schema and not route.summary
    ]
    assert unsaid == [], "routes without summary=: " + ", ".join(unsaid)


def test_request_bodies_are_named_models(spec):
    for method, path, op in operations(spec):
        for media_type, content in op.get("requestBody", {}).get("content", {}).items():
            schema = content.get("schema", {})
            if media_type in RAW_MEDIA_TYPES:
                assert schema == {"type": "string", "format": "binary"}, (method, path)
            else:
                assert ref_name(schema) in spec["components"]["schemas"], (method, path, media_type)


def test_success_responses_are_typed(spec):
    for method, path, op in operations(spec):
        successes = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        assert successes, (method, path)
        for code, response in successes.items():
            for media_type, content in response.get("content", {}).items():
                schema = content.get("schema", {})
                if media_type in RAW_MEDIA_TYPES:
                    # Generators hand binary bodies over as files, text as a string.
                    expected = {"type": "string"}
                    if media_type != "text/event-stream":
                        expected["format"] = "binary"
                    assert schema == expected, (method, path, code, media_type)
                    continue
                assert schema.get("type") != "array", ("a bare array, not a page", method, path)
                assert ref_name(schema) in spec["components"]["schemas"], (method, path, code)


def test_every_list_is_a_page(spec):
    """API.md: every list answers ``{items, next_cursor}``; a list that takes no ``cursor`` is
    one computed whole (its ``next_cursor`` is always null)."""
    schemas = spec["components"]["schemas"]
    for method, path, op in operations(spec):
        schema = op["responses"].get("200", {}).get("content", {}).get("application/json", {})
        name = ref_name(schema.get("schema", {}))
        if not (name or "").startswith("Page_"):
            continue
        assert set(schemas[name]["properties"]) == {"items", "next_cursor"}, name
        params = {p["name"] for p in op.get("parameters", [])}
        assert {"limit", "cursor"} <= params or not params & {"limit", "cursor"}, (method, path)


def test_errors_are_declared_as_problem_json(spec):
    for method, path, op in operations(spec):
        errors = {code: r for code, r in op["responses"].items() if code[0] in "45"}
        if op.get("parameters") or op.get("requestBody"):
            assert "422" in errors, f"{method} {path} validates input but declares no 422"
        if op.get("security"):
            assert "401" in errors, f"{method} {path} needs a token but declares no 401"
        for code, response in errors.items():
            if (method, path, code) == ("GET", "/readyz", "503"):
                # Readiness answers with the same Health body either way, for probes to read.
                assert ref_name(response["content"]["application/json"]["schema"]) == "Health"
                continue
            assert list(response["content"]) == ["application/problem+json"], (method, path, code)
            schema = response["content"]["application/problem+json"]["schema"]
            expected = {
                "409": "ConflictProblem",
                "412": "VersionConflictProblem",
                "422": "ValidationProblem",
            }.get(code, "Problem")
            assert ref_name(schema) == expected, (method, path, code)
    # FastAPI's own {"detail": [...]} shape is never sent, so it must not be offered either.
    assert not {"HTTPValidationError", "ValidationError"} & set(spec["components"]["schemas"])


def test_every_operation_says_whether_it_needs_a_token(spec):
    """Redocly's `security-defined`: a public operation says `security: []` rather than
    leaving a reader (or a generator) to guess."""
    public = set()
    for method, path, op in operations(spec):
        assert "security" in op, f"{method} {path} says nothing about authentication"
        if op["security"] == []:
            public.add(op["operationId"])
    assert public == PUBLIC_OPERATIONS


async def test_public_operations_answer_without_a_token(client):
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/api/v1/roles")).status_code == 200
    # Logging out with a token that is no session's is done: there is nothing to revoke.
    logout = await client.post("/api/v1/auth/logout", json={"refresh_token": "x"})
    assert logout.status_code == 204


def test_every_operation_documents_the_head_limit(spec):
    for method, path, op in operations(spec):
        response = op["responses"].get("431")
        assert response is not None, f"{method} {path} does not document 431"
        assert ref_name(response["content"]["application/problem+json"]["schema"]) == "Problem"


def test_the_document_names_its_server_and_licence(spec):
    # Relative, so the document is right wherever the API is deployed.
    assert [server["url"] for server in spec["servers"]] == ["/"]
    assert spec["info"]["license"]["name"]
    assert spec["info"]["license"].keys() & {"url", "identifier"}


def test_statuses_priorities_and_roles_are_named_enums(spec):
    schemas = spec["components"]["schemas"]

    def enum_ref(schema: dict[str, Any]) -> str | None:
        """The named enum a field's schema refers to (through `| None` or a list)."""
        options = schema.get("anyOf", [schema])
        refs = {ref_name(o.get("items", o)) for o in options if o.get("type") != "null"}
        name = refs.pop() if len(refs) == 1 else None
        return name if name in schemas and "enum" in schemas[name] else None

    checked = 0
    for name, schema in schemas.items():
        if name in PROBLEM_SCHEMAS:  # `status` there is the HTTP status code
            continue
        for field, prop in schema.get("properties", {}).items():
            if field in ENUM_FIELDS:
                assert enum_ref(prop), f"{name}.{field} is not a named enum"
                checked += 1
    for method, path, op in operations(spec):
        for param in op.get("parameters", []):
            if param["name"] in ENUM_FIELDS:
                assert enum_ref(param["schema"]), f"{method} {path} ?{param['name']}"
                checked += 1
    assert checked > 20
    assert enum_ref(schemas["TransitionRequest"]["properties"]["to"]) == "BugStatus"
    assert enum_ref(schemas["TransitionOption"]["properties"]["to"]) == "BugStatus"
    assert schemas["BugStatus"]["enum"] == ["open", "in_progress", "resolved", "closed"]
    assert schemas["Role"]["enum"] == ["admin", "developer", "tester"]
    assert schemas["BugPriority"]["enum"] == ["lowest", "low", "medium", "high", "highest"]
    assert set(schemas["JobStatus"]["enum"]) == {
        "queued",
        "running",
        "succeeded",
        "failed",
        "timed_out",
        "memory_exceeded",
        "output_exceeded",
        "cancelled",
        "error",
    }


@pytest.mark.parametrize("name", sorted(MAIN_SCHEMAS))
def test_main_schemas_carry_examples_that_validate(spec, name):
    schema = spec["components"]["schemas"][name]
    examples = schema.get("examples")
    assert examples, f"{name} has no examples"
    validator = Draft202012Validator({"$ref": REF + name, "components": spec["components"]})
    for example in examples:
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(example)]
        assert errors == [], f"{name} example does not match its schema: {errors}"


def test_no_anonymous_objects_where_a_named_schema_belongs(spec):
    anonymous = []

    def check(schema: Any, where: str, top_level: bool = False) -> None:
        for loc, sub in subschemas(schema, where):
            if top_level and loc == where:
                continue
            if (
                sub.get("properties")
                or sub == {}
                or (sub.get("type") == "object" and "additionalProperties" not in sub)
            ):
                anonymous.append(loc)

    for name, schema in spec["components"]["schemas"].items():
        check(schema, name, top_level=True)
    for method, path, op in operations(spec):
        for media_type, content in op.get("requestBody", {}).get("content", {}).items():
            check(content["schema"], f"{method} {path} body {media_type}")
        for code, response in op["responses"].items():
            for media_type, content in response.get("content", {}).items():
                if media_type not in RAW_MEDIA_TYPES:
                    check(content["schema"], f"{method} {path} {code} {media_type}")
        for param in op.get("parameters", []):
            check(param["schema"], f"{method} {path} ?{param['name']}")
    assert anonymous == []


def test_the_committed_copy_is_what_the_code_serves(spec):
    """The same comparison as `make openapi-check`, so a plain pytest run catches it too."""
    import json

    committed = Path(__file__).parents[2] / "frontend" / "openapi.json"
    assert json.loads(committed.read_text()) == spec, "frontend/openapi.json is stale: make openapi"
