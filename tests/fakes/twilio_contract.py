"""Twilio's request contract, checked with openapi-core against Twilio's own OpenAPI description.

The description is the committed subset ``twilio_api_v2010.subset.json`` (regenerate it with
``tools/twilio_spec/make_subset.py``). A request passes when:

- openapi-core finds the operation (path and method) and accepts its path and query
  parameters, its security (HTTP basic ``accountSid_authToken``) and its form body;
- every ``x-twilio.conditional`` group of the operation has at least one field present (the
  spec lists them in snake_case, e.g. ``["from", "messaging_service_sid"]``; they are matched
  to the form's PascalCase names by comparing with the body schema's property names
  case-insensitively, underscores removed);
- the form carries no field the operation does not define (Twilio silently ignores unknown
  fields, which hides typos; pass ``allow_unknown_fields=True`` to skip this check).

openapi-core 0.23 is given a small object that satisfies its ``Request`` protocol (host_url,
path, method, parameters, content_type, body). The host is always Twilio's server from the
description (``https://api.twilio.com``) whatever host the request really went to, so the
fake's ``http://127.0.0.1:PORT`` requests resolve against the spec's ``servers``.
``validate_request`` is used rather than ``unmarshal_request``: it validates the same things but
does not need an unmarshaller for Twilio's custom formats (``phone-number``,
``iso-country-code``, ...), which are left unchecked like any format a validator does not know.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.exceptions import OpenAPIError
from werkzeug.datastructures import Headers, ImmutableMultiDict

SUBSET_PATH = Path(__file__).with_name("twilio_api_v2010.subset.json")
FORM = "application/x-www-form-urlencoded"

_cache: dict[Path, tuple[OpenAPI, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


class ContractViolation(Exception):
    """A request Twilio's OpenAPI description (or its x-twilio rules) does not allow."""


@dataclass
class _OpenAPIRequest:
    """What openapi-core's ``Request`` protocol asks for."""

    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    content_type: str
    body: bytes | None


@dataclass(frozen=True)
class _Operation:
    template: str
    pattern: re.Pattern[str]
    method: str
    spec: dict[str, Any]


def load_spec(path: Path = SUBSET_PATH) -> tuple[OpenAPI, dict[str, Any]]:
    """The parsed description and openapi-core's view of it, loaded once per process."""
    key = path.resolve()
    with _cache_lock:
        if key not in _cache:
            document = json.loads(key.read_text(encoding="utf-8"))
            _cache[key] = (OpenAPI.from_dict(document), document)
        return _cache[key]


class TwilioContract:
    def __init__(self, spec_path: Path = SUBSET_PATH, *, allow_unknown_fields: bool = False):
        self._openapi, self._document = load_spec(spec_path)
        self._allow_unknown_fields = allow_unknown_fields
        servers = self._document.get("servers") or [{"url": "https://api.twilio.com"}]
        self.host_url: str = str(servers[0]["url"]).rstrip("/")
        self._operations = [
            _Operation(template, _template_pattern(template), method, operation)
            for template, item in self._document["paths"].items()
            for method, operation in item.items()
            if method in {"get", "post", "put", "patch", "delete"}
        ]

    def validate(
        self,
        method: str,
        url: str,
        headers: Any,
        body: bytes | None,
    ) -> None:
        """Raise ContractViolation unless Twilio's description allows this request.

        `url` may be absolute (any host) or just the path with its query string; `headers` is
        any mapping (or list of pairs) of header names to values; `body` the raw bytes sent.
        """
        method = method.lower()
        parts = urlsplit(url)
        path = unquote(parts.path)
        where = f"{method.upper()} {path}"
        header_map = Headers(headers.items() if hasattr(headers, "items") else headers)
        content_type = header_map.get("Content-Type", "").lower()
        request = _OpenAPIRequest(
            host_url=self.host_url,
            path=path,
            method=method,
            parameters=RequestParameters(
                query=ImmutableMultiDict(parse_qsl(parts.query, keep_blank_values=True)),
                header=header_map,
            ),
            content_type=content_type,
            body=body or None,
        )
        try:
            self._openapi.validate_request(request)
        except OpenAPIError as exc:
            raise ContractViolation(f"{where}: {_describe(exc)}") from exc
        _check_basic_credentials(where, header_map)

        operation = self._find(method, path)
        if operation is None:  # openapi-core found it, so this cannot happen
            raise ContractViolation(f"{where}: no such operation in the description")
        form = _form(content_type, body)
        properties = _form_properties(operation.spec)
        if form is not None and not self._allow_unknown_fields and properties is not None:
            unknown = sorted(set(form) - set(properties))
            if unknown:
                raise ContractViolation(
                    f"{where}: form field(s) {', '.join(unknown)} not defined by "
                    f"{operation.spec.get('operationId', 'the operation')}"
                )
        for group in operation.spec.get("x-twilio", {}).get("conditional", []):
            names = [_form_name(field, properties or {}) for field in group]
            present = form is not None and any(
                any(value != "" for value in form.get(name, [])) for name in names
            )
            if not present:
                raise ContractViolation(
                    f"{where}: x-twilio.conditional needs one of {', '.join(names)}"
                )

    def operation_id(self, method: str, path: str) -> str | None:
        operation = self._find(method.lower(), unquote(urlsplit(path).path))
        return None if operation is None else operation.spec.get("operationId")

    def _find(self, method: str, path: str) -> _Operation | None:
        for operation in self._operations:
            if operation.method == method and operation.pattern.fullmatch(path):
                return operation
        return None


def _template_pattern(template: str) -> re.Pattern[str]:
    pieces = re.split(r"(\{[^}]+\})", template)
    return re.compile(
        "".join("[^/]+" if piece.startswith("{") else re.escape(piece) for piece in pieces)
    )


def _form(content_type: str, body: bytes | None) -> dict[str, list[str]] | None:
    if not content_type.startswith(FORM):
        return None
    form: dict[str, list[str]] = {}
    for key, value in parse_qsl((body or b"").decode("utf-8"), keep_blank_values=True):
        form.setdefault(key, []).append(value)
    return form


def _form_properties(operation: dict[str, Any]) -> dict[str, Any] | None:
    content = operation.get("requestBody", {}).get("content", {})
    schema = content.get(FORM, {}).get("schema")
    if schema is None:
        return None
    properties = schema.get("properties", {})
    return dict(properties) if isinstance(properties, dict) else None


def _form_name(field: str, properties: dict[str, Any]) -> str:
    """The form's name for a snake_case x-twilio field: "media_url" -> "MediaUrl"."""
    wanted = field.replace("_", "").lower()
    for name in properties:
        if name.replace("_", "").lower() == wanted:
            return name
    return "".join(part.capitalize() for part in field.split("_"))


def _check_basic_credentials(where: str, headers: Headers) -> None:
    value = headers.get("Authorization", "")
    scheme, _, encoded = value.partition(" ")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if scheme.lower() != "basic" or ":" not in decoded:
        raise ContractViolation(f"{where}: Authorization is not HTTP basic user:password")


def _describe(exc: BaseException) -> str:
    """openapi-core's error and the schema errors under it, in one line."""
    head = str(exc) or type(exc).__name__
    details: list[str] = []
    cause = exc.__cause__ or exc.__context__
    while cause is not None:
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            details.extend(getattr(error, "message", str(error)) for error in schema_errors)
        elif str(cause) and not any(str(cause) in text for text in (head, *details)):
            details.append(str(cause))
        cause = cause.__cause__ or cause.__context__
    if not details:
        return head
    return f"{head.split(': Value ', 1)[0]}: {'; '.join(details)}"
