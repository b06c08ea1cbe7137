"""Cut Twilio's 2010-04-01 OpenAPI description down to the operations Message Center uses.

The full description (/work/shared/data/twilio_api_v2010.json, ~1.9 MB) is slow to load and
validate; the test fake (tests/fakes/twilio_server.py) validates every request against the
small subset this script writes to tests/fakes/twilio_api_v2010.subset.json.

The subset keeps, for each operation listed in OPERATIONS, the path item's own keys (servers,
description, the ``x-twilio`` extension with its ``conditional`` rules) and the operation
unchanged (other methods of those paths are left out), plus every component those operations
reference, transitively; and the document's openapi/info/servers/security, the security
schemes, and the tags the operations use. Nothing inside a kept object is rewritten, so the
subset validates requests exactly as the full description does.

Rerun after updating the full description (from the repository root):

    .venv/bin/python tools/twilio_spec/make_subset.py [PATH/TO/twilio_api_v2010.json]

The default input is ../shared/data/twilio_api_v2010.json relative to the repository root;
``--output`` changes where the subset is written.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_INPUT = REPO_ROOT.parent / "shared" / "data" / "twilio_api_v2010.json"
DEFAULT_OUTPUT = REPO_ROOT / "tests" / "fakes" / "twilio_api_v2010.subset.json"

ACCOUNT = "/2010-04-01/Accounts/{AccountSid}"
OPERATIONS: dict[str, tuple[str, ...]] = {
    "/2010-04-01/Accounts/{Sid}.json": ("get",),  # `messagecenter twilio check`
    f"{ACCOUNT}/Messages.json": ("get", "post"),
    f"{ACCOUNT}/Messages/{{Sid}}.json": ("get",),
    f"{ACCOUNT}/AvailablePhoneNumbers/{{CountryCode}}/Local.json": ("get",),
    f"{ACCOUNT}/AvailablePhoneNumbers/{{CountryCode}}/Mobile.json": ("get",),
    f"{ACCOUNT}/IncomingPhoneNumbers.json": ("post", "get"),
    f"{ACCOUNT}/IncomingPhoneNumbers/{{Sid}}.json": ("post", "get", "delete"),
}
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def iter_refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` string inside `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from iter_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from iter_refs(item)


def resolve_pointer(document: dict[str, Any], ref: str) -> tuple[tuple[str, ...], Any]:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are supported, got {ref!r}")
    parts = tuple(part.replace("~1", "/").replace("~0", "~") for part in ref[2:].split("/"))
    node: Any = document
    for part in parts:
        node = node[part]
    return parts, node


def make_subset(full: dict[str, Any]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, methods in OPERATIONS.items():
        item = full["paths"][path]
        missing = [method for method in methods if method not in item]
        if missing:
            raise KeyError(f"{path} has no {', '.join(missing)} operation")
        paths[path] = {
            key: value for key, value in item.items() if key not in HTTP_METHODS or key in methods
        }

    components: dict[str, dict[str, Any]] = {
        "securitySchemes": dict(full["components"].get("securitySchemes", {}))
    }
    pending = list(iter_refs(paths))
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        parts, node = resolve_pointer(full, ref)
        if len(parts) != 3 or parts[0] != "components":
            raise ValueError(f"unexpected reference target {ref!r}")
        components.setdefault(parts[1], {})[parts[2]] = node
        pending.extend(iter_refs(node))
    for section in components.values():
        ordered = dict(sorted(section.items()))
        section.clear()
        section.update(ordered)

    used_tags = {
        tag
        for item in paths.values()
        for method, operation in item.items()
        if method in HTTP_METHODS
        for tag in operation.get("tags", [])
    }
    subset: dict[str, Any] = {"openapi": full["openapi"], "info": full["info"]}
    for key in ("servers", "security"):
        if key in full:
            subset[key] = full[key]
    if "tags" in full:
        subset["tags"] = [tag for tag in full["tags"] if tag.get("name") in used_tags]
    subset["paths"] = paths
    subset["components"] = components
    return subset


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input", nargs="?", type=Path, default=DEFAULT_INPUT)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    full = json.loads(args.input.read_text(encoding="utf-8"))
    subset = make_subset(full)
    text = json.dumps(subset, indent=1, ensure_ascii=False) + "\n"
    args.output.write_text(text, encoding="utf-8")
    schemas = len(subset["components"].get("schemas", {}))
    operations = sum(len(methods) for methods in OPERATIONS.values())
    print(
        f"wrote {args.output} ({len(text.encode()) // 1024} KiB: "
        f"{operations} operations, {schemas} schemas)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
