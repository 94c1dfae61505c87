"""The OpenAPI document against the app it describes: same routes, same schemas, bearer security."""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from support.api import ANALYST_PREFIX, analyst_routes, app_operations, assert_error, ok_json
from frontdoor.api.openapi import document
from frontdoor.reports.build import ASSESSMENT_SCHEMA, REPORT_SCHEMA, SUBMISSION_SCHEMA, load_schema
from frontdoor.reports.build import validator as schema_validator

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
ROOT = "urn:frontdoor:openapi"


@pytest.fixture
async def doc(api) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    resp = await api.get("/api/v1/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    return await resp.json()  # type: ignore[no-any-return]


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()
            if method in HTTP_METHODS]


def registry(doc: dict[str, Any]) -> Registry:
    """The document as a JSON Schema 2020-12 resource, plus every component schema that has
    its own $id (OpenAPI 3.1 schemas are 2020-12, so such a component is a resource of its own)."""
    resources = [(ROOT, Resource.from_contents(doc, default_specification=DRAFT202012))]
    for schema in doc["components"]["schemas"].values():
        if "$id" in schema:
            resources.append((schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012)))
    return Registry().with_resources(resources)


def component_validator(doc: dict[str, Any], name: str) -> jsonschema.protocols.Validator:
    """A validator for one component, resolving references as an OpenAPI 3.1 tool does: a
    component with an $id is its own base URI (so its relative refs resolve against that)."""
    component = doc["components"]["schemas"][name]
    target = component.get("$id", f"{ROOT}#/components/schemas/{name}")
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$ref": target}
    cls = jsonschema.validators.Draft202012Validator
    return cls(schema, registry=registry(doc), format_checker=cls.FORMAT_CHECKER)


def resolve_pointer(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve (at {part!r})"
        node = node[part]
    return node


async def test_served_document_is_openapi_3_1_and_the_same_as_document(api, doc):
    assert re.fullmatch(r"3\.1\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"]
    assert doc == json.loads(json.dumps(document(api.app)))


async def test_paths_and_methods_equal_the_apps_routes(api, doc):
    documented = {(path, method) for path, method, _ in operations(doc)}
    routed = app_operations(api.app)
    assert documented - routed == set(), "documented but not routed"
    assert routed - documented == set(), "routed but not documented"
    assert len(routed) >= 15


async def test_every_path_parameter_is_declared(doc):
    for path, method, op in operations(doc):
        templated = set(re.findall(r"{([^}]+)}", path))
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert templated == declared, f"{method.upper()} {path}: {templated} vs {declared}"
        for p in op.get("parameters", []):
            if p["in"] == "path":
                assert p["required"] is True


async def test_every_analyst_operation_declares_bearer_security_and_its_roles(api, doc):
    scheme = doc["components"]["securitySchemes"]["bearer"]
    assert scheme["type"] == "http" and scheme["scheme"].lower() == "bearer"
    roles = {(path, method.lower()): tuple(h.roles) for method, path, h in analyst_routes(api.app) if method != "HEAD"}
    seen = 0
    for path, method, op in operations(doc):
        where = f"{method.upper()} {path}"
        if path.startswith(ANALYST_PREFIX + "/"):
            seen += 1
            assert op.get("security") == [{"bearer": []}], where
            assert {"401", "403"} <= set(op["responses"]), where
            described = re.search(r"Roles: ([a-z, ]+)\.", op.get("description", ""))
            assert described, where
            assert set(described.group(1).split(", ")) == set(roles[(path, method)]), where
        else:
            assert "security" not in op, f"{where} is public but declares security"
    assert seen == len(roles) >= 10
    assert "security" not in doc  # no global requirement that would lock the public routes


async def test_every_ref_resolves_and_request_bodies_name_components(doc):
    bodies = 0
    for path, method, op in operations(doc):
        if "requestBody" not in op or "application/json" not in op["requestBody"]["content"]:
            continue  # the no-JavaScript form posts form-encoded fields
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            bodies += 1
            assert schema["$ref"].startswith("#/components/schemas/"), f"{method} {path}"
            assert isinstance(resolve_pointer(doc, schema["$ref"]), dict)
    assert bodies >= 3  # reports, assessment, actions

    # Every $ref anywhere resolves, following the component's own $id for relative refs.
    reg = registry(doc)

    def walk(node: Any, base: str) -> None:
        if isinstance(node, dict):
            base = node.get("$id", base)
            if isinstance(node.get("$ref"), str):
                resolver = reg.resolver(base_uri=base)
                target = node["$ref"]
                resolved = resolver.lookup(f"{ROOT}{target}" if target.startswith("#") and base == ROOT else target)
                assert resolved.contents is not None, target
            for value in node.values():
                walk(value, base)
        elif isinstance(node, list):
            for value in node:
                walk(value, base)

    walk(doc, ROOT)


async def test_error_component_matches_what_the_api_sends(api, doc):
    resp = await api.post("/api/v1/reports", json=[1])
    body = await assert_error(resp, 400)
    jsonschema.validate(body, doc["components"]["schemas"]["Error"])


GOOD_REPORT = {"category": "grooming", "urls": ["https://example.com/page"], "description": "Placeholder text.",
               "where_seen": {"type": "social_media", "platform": "Example Social"}, "reporter_role": "professional",
               "reporter_country": "NL", "locale": "nl-NL", "child_in_immediate_danger": False}
BAD_REPORTS = [
    {"urls": ["https://example.com/page"]},  # no category
    {**GOOD_REPORT, "category": "spam"},
    {**GOOD_REPORT, "reporter_country": "nl"},
    {**GOOD_REPORT, "urls": "https://example.com/page"},
    {**GOOD_REPORT, "description": "x" * 4001},
    {**GOOD_REPORT, "name": "Placeholder"},
    [GOOD_REPORT],
]


async def test_report_submission_component_is_the_schema_the_api_enforces(api, doc):
    validator = component_validator(doc, "ReportSubmission")
    enforced = schema_validator(SUBMISSION_SCHEMA)
    assert list(validator.iter_errors(GOOD_REPORT)) == [] == list(enforced.iter_errors(GOOD_REPORT))
    await ok_json(await api.post("/api/v1/reports", json=GOOD_REPORT), 201)
    for bad in BAD_REPORTS:
        assert list(validator.iter_errors(bad)), bad
        assert list(enforced.iter_errors(bad)), bad
        await assert_error(await api.post("/api/v1/reports", json=bad), 400)


async def test_assessment_and_actions_components_are_the_schemas_the_api_enforces(api, doc, add_analyst):
    # The components are the repo's schema files, bundled: same properties, same verdicts.
    for name, filename in (("Assessment", ASSESSMENT_SCHEMA), ("Report", REPORT_SCHEMA), ("ReportSubmission", SUBMISSION_SCHEMA)):
        assert set(doc["components"]["schemas"][name]["properties"]) == set(load_schema(filename)["properties"])
        assert doc["components"]["schemas"][name].get("required") == load_schema(filename).get("required")

    good_assessment = {"classification": "baseline", "hosting_country": "NL",
                       "actions": [{"type": "forwarded_partner_hotline", "partner_country": "NL"}]}
    bad_assessment = {"classification": "baseline", "actions": [{"type": "forwarded_partner_hotline"}]}
    validator = component_validator(doc, "Assessment")
    assert list(validator.iter_errors(good_assessment)) == [] == list(schema_validator(ASSESSMENT_SCHEMA).iter_errors(good_assessment))
    assert list(validator.iter_errors(bad_assessment))
    assert list(schema_validator(ASSESSMENT_SCHEMA).iter_errors(bad_assessment))

    actions = component_validator(doc, "ActionsRequest")
    assert list(actions.iter_errors({"actions": [{"type": "content_removed"}]})) == []
    for bad in ({"actions": []}, {}, {"actions": [{"type": "content_removed"}], "note": "x"},
                {"actions": [{"type": "gone"}]}):
        assert list(actions.iter_errors(bad)), bad

    # The API agrees with the components on the same documents.
    await ok_json(await api.post("/api/v1/reports", json=GOOD_REPORT), 201)
    h = await add_analyst("alice")
    case = await ok_json(await api.post(f"{ANALYST_PREFIX}/claim", headers=h))
    url = f"{ANALYST_PREFIX}/cases/{case['id']}"
    await assert_error(await api.post(f"{url}/assessment", headers=h, json=bad_assessment), 400)
    await ok_json(await api.post(f"{url}/assessment", headers=h, json=good_assessment))
    for bad in ({"actions": []}, {}, {"actions": [{"type": "content_removed"}], "note": "x"}):
        await assert_error(await api.post(f"{url}/actions", headers=h, json=bad), 400)
    await ok_json(await api.post(f"{url}/actions", headers=h, json={"actions": [{"type": "content_removed"}]}))


async def test_stored_report_matches_the_report_component(api, doc, add_analyst):
    await ok_json(await api.post("/api/v1/reports", json={**GOOD_REPORT, "contact": "someone@example.com",
                                                          "contact_consent": True}), 201)
    case = await ok_json(await api.post(f"{ANALYST_PREFIX}/claim", headers=await add_analyst("alice")))
    (report,) = case["reports"]
    # The analyst view shows the contact decrypted; the stored form is {"ciphertext": ...}.
    assert report.pop("contact") == "someone@example.com"
    report["contact"] = None
    errors = [e.message for e in component_validator(doc, "Report").iter_errors(report)]
    assert errors == []


async def test_receipt_response_schema_lists_exactly_the_coarse_statuses(doc):
    schema = doc["paths"]["/api/v1/receipts/{code}"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == {"status"}
    assert set(schema["properties"]["status"]["enum"]) == {"received", "in_review", "action_taken", "closed"}


async def test_whole_document_with_openapi_spec_validator(doc):
    from openapi_spec_validator import validate

    validate(doc)
