"""Fakes of HubSpot's CRM v3 and Pipedrive's v1 APIs on 127.0.0.1: contacts (persons) found by
property, created, updated, and deals; each refuses bad credentials and can be told to answer
the next calls with 429 (with `Retry-After: 1`) or 400, in the service's error shape."""

from __future__ import annotations

import json
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from tests.fake_server import FakeServer, JsonHandler


class FakeCrm(FakeServer):
    """`records` by id (their fields), `deals` in creation order; `token` is the valid one."""

    token = ""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.deals: list[dict[str, Any]] = []
        super().__init__(self.handler)

    handler: type[JsonHandler]

    def reset(self) -> None:
        super().reset()
        with self.lock:
            self.records, self.deals = {}, []

    def add(self, **fields: Any) -> str:
        with self.lock:
            record_id = str(len(self.records) + 101)
            self.records[record_id] = fields
        return record_id


class _CrmHandler(JsonHandler):
    fake: FakeCrm
    rate_limited: ClassVar[dict[str, Any]] = {}
    invalid: ClassVar[dict[str, Any]] = {}

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def _dispatch(self, method: str) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        if not self.authorized():
            return self._json(
                401, self.invalid | {"message": "unauthorized", "error": "unauthorized"}
            )
        failure = self.fake.next_failure()
        if failure == 429:
            return self._answer(429, self.rate_limited, {"Retry-After": "1"})
        if failure:
            return self._json(failure, self.invalid)
        body = json.loads(raw) if raw else {}
        query = {key: values[0] for key, values in parse_qs(url.query).items()}
        self.route(method, url.path, body, query)

    def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {**headers, "Content-Type": "application/json"}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self) -> bool:
        raise NotImplementedError

    def route(self, method: str, path: str, body: Any, query: dict[str, str]) -> None:
        raise NotImplementedError

    def matching(self, field: str, value: str) -> list[str]:
        with self.fake.lock:
            return [rid for rid, fields in self.fake.records.items() if fields.get(field) == value]

    def merge(self, record_id: str, fields: dict[str, Any]) -> bool:
        with self.fake.lock:
            if record_id not in self.fake.records:
                return False
            self.fake.records[record_id] = {**self.fake.records[record_id], **fields}
            return True


class _HubSpotHandler(_CrmHandler):
    rate_limited: ClassVar[dict[str, Any]] = {
        "status": "error",
        "message": "You have reached your secondly limit.",
        "errorType": "RATE_LIMIT",
        "policyName": "SECONDLY",
    }
    invalid: ClassVar[dict[str, Any]] = {
        "status": "error",
        "message": "Property values were not valid",
        "category": "VALIDATION_ERROR",
    }

    def authorized(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {self.fake.token}"

    def route(self, method: str, path: str, body: Any, query: dict[str, str]) -> None:
        if (method, path) == ("POST", "/crm/v3/objects/contacts/search"):
            [flt] = body["filterGroups"][0]["filters"]
            found = self.matching(flt["propertyName"], flt["value"])
            return self._json(
                200,
                {
                    "total": len(found),
                    "results": [
                        {"id": rid, "properties": self.fake.records[rid]} for rid in found[:1]
                    ],
                },
            )
        if (method, path) == ("POST", "/crm/v3/objects/contacts"):
            record_id = self.fake.add(**body["properties"])
            return self._json(201, {"id": record_id, "properties": body["properties"]})
        if method == "PATCH" and path.startswith("/crm/v3/objects/contacts/"):
            record_id = path.rsplit("/", 1)[-1]
            if not self.merge(record_id, body["properties"]):
                return self._json(404, {"status": "error", "message": "resource not found"})
            return self._json(200, {"id": record_id})
        if (method, path) == ("POST", "/crm/v3/objects/deals"):
            with self.fake.lock:
                self.fake.deals.append(body)
                deal_id = str(900 + len(self.fake.deals))
            return self._json(201, {"id": deal_id, "properties": body["properties"]})
        self._json(404, {"status": "error", "message": f"no route {method} {path}"})


class _PipedriveHandler(_CrmHandler):
    rate_limited: ClassVar[dict[str, Any]] = {
        "success": False,
        "error": "Rate limit has been exceeded",
        "errorCode": 429,
    }
    invalid: ClassVar[dict[str, Any]] = {"success": False, "error": "Bad request", "errorCode": 400}

    def authorized(self) -> bool:
        return self.headers.get("x-api-token") == self.fake.token

    def route(self, method: str, path: str, body: Any, query: dict[str, str]) -> None:
        if (method, path) == ("GET", "/v1/persons/search"):
            found = self.matching(query["fields"], query["term"])
            items = [{"result_score": 1, "item": {"id": int(rid)}} for rid in found[:1]]
            return self._json(200, {"success": True, "data": {"items": items}})
        if (method, path) == ("POST", "/v1/persons"):
            record_id = self.fake.add(**body)
            return self._json(201, {"success": True, "data": {"id": int(record_id), **body}})
        if method == "PUT" and path.startswith("/v1/persons/"):
            record_id = path.rsplit("/", 1)[-1]
            if not self.merge(record_id, body):
                return self._json(404, {"success": False, "error": "Person not found"})
            return self._json(200, {"success": True, "data": {"id": int(record_id)}})
        if (method, path) == ("POST", "/v1/deals"):
            with self.fake.lock:
                self.fake.deals.append(body)
                deal_id = 700 + len(self.fake.deals)
            return self._json(201, {"success": True, "data": {"id": deal_id, **body}})
        self._json(404, {"success": False, "error": f"no route {method} {path}"})


class FakeHubSpot(FakeCrm):
    handler = _HubSpotHandler
    token = "pat-na1-test"


class FakePipedrive(FakeCrm):
    handler = _PipedriveHandler
    token = "pipedrive-api-token"
