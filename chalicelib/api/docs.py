"""``GET /openapi.json`` and ``GET /docs``.

The OpenAPI document is written by hand (``chalicelib/api/openapi.json``): Chalice's
generated one has empty schemas. A test checks every route and every response
against it, so it stays true. ``/docs`` renders the same document into one
self-contained HTML page on the server: no scripts, no CDN, no external
fonts, so it works offline and under a strict Content-Security-Policy.
"""

from __future__ import annotations

import html
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from chalice import Response

OPENAPI_PATH = Path(__file__).with_name("openapi.json")
CACHE_DOCUMENT = "public, max-age=300"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


@cache
def load_openapi() -> dict[str, Any]:
    with OPENAPI_PATH.open(encoding="utf-8") as fh:
        document: dict[str, Any] = json.load(fh)
    return document


@cache
def _openapi_text() -> str:
    return json.dumps(load_openapi(), ensure_ascii=False, separators=(",", ":"))


def openapi_document() -> Response:
    return Response(
        body=_openapi_text(),
        status_code=200,
        headers={"Content-Type": "application/json", "Cache-Control": CACHE_DOCUMENT},
    )


def docs_page() -> Response:
    return Response(
        body=render_html(),
        status_code=200,
        headers={
            "Content-Type": "text/html; charset=utf-8",
            "Cache-Control": CACHE_DOCUMENT,
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )


# --- rendering ------------------------------------------------------------------

_e = html.escape

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
code,pre{font-family:ui-monospace,monospace;background:#f4f4f4;padding:0 .2em;border-radius:3px}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#fafafa}.op{border-top:2px solid #eee;margin-top:2rem;padding-top:.5rem}
.m{display:inline-block;min-width:3.5em;text-align:center;font-weight:bold;color:#fff;
background:#2b7a4b;border-radius:3px;padding:0 .4em;margin-right:.5em}
nav li{margin:.1rem 0}.req{color:#a33}
"""


def _inline(text: str) -> str:
    """Escape, then render the Markdown the document uses: `code` and **bold**."""
    out = _e(text)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def _markdown(text: str) -> str:
    """Paragraphs and ``* `` bullet lists: all the document's descriptions use."""
    parts: list[str] = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        if all(line.startswith("* ") for line in lines):
            items = "".join(f"<li>{_inline(line[2:])}</li>" for line in lines)
            parts.append(f"<ul>{items}</ul>")
        else:
            parts.append(f"<p>{_inline(' '.join(lines))}</p>")
    return "".join(parts)


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow one local ``$ref`` (``#/components/...``)."""
    ref = node.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node
    target: Any = document
    for part in ref[2:].split("/"):
        target = target[part]
    resolved: dict[str, Any] = target
    return resolved


def _type(schema: dict[str, Any]) -> str:
    """A one-line HTML summary of a schema: type, constraints, links to components."""
    if "$ref" in schema:
        name = _ref_name(schema["$ref"])
        return f'<a href="#schema-{_e(name)}">{_e(name)}</a>'
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    if "const" in schema:
        return f"<code>{_e(json.dumps(schema['const']))}</code>"
    if "enum" in schema:
        return "one of " + ", ".join(f"<code>{_e(str(v))}</code>" for v in schema["enum"])
    kinds = schema.get("type", "any")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    words = []
    for kind in kinds:
        if kind == "array" and "items" in schema:
            words.append(f"array of {_type(schema['items'])}")
        else:
            words.append(_e(str(kind)))
    text = " or ".join(words)
    notes = [
        f"{label} {_e(str(schema[key]))}"
        for key, label in (
            ("format", "format"),
            ("minimum", "min"),
            ("maximum", "max"),
            ("maxLength", "max length"),
            ("default", "default"),
        )
        if key in schema
    ]
    if "pattern" in schema:
        notes.append(f"pattern <code>{_e(schema['pattern'])}</code>")
    return text + (f" ({'; '.join(notes)})" if notes else "")


def _parameters(document: dict[str, Any], operation: dict[str, Any]) -> str:
    rows = []
    for raw in operation.get("parameters", []):
        p = _resolve(document, raw)
        required = '<span class="req">required</span>' if p.get("required") else "optional"
        rows.append(
            f"<tr><td><code>{_e(p['name'])}</code></td><td>{_e(p['in'])}</td><td>{required}</td>"
            f"<td>{_type(p.get('schema', {}))}</td>"
            f"<td>{_inline(p.get('description', ''))}</td></tr>"
        )
    if not rows:
        return "<p>No parameters.</p>"
    head = "<tr><th>name</th><th>in</th><th></th><th>type</th><th>description</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _responses(document: dict[str, Any], operation: dict[str, Any]) -> str:
    rows = []
    for status, raw in operation.get("responses", {}).items():
        response = _resolve(document, raw)
        bodies = "<br>".join(
            f"<code>{_e(media)}</code>: {_type(content.get('schema', {}))}"
            for media, content in response.get("content", {}).items()
        )
        rows.append(
            f"<tr><td><strong>{_e(status)}</strong></td>"
            f"<td>{_inline(response.get('description', ''))}</td><td>{bodies}</td></tr>"
        )
    head = "<tr><th>status</th><th>meaning</th><th>body</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _schema_section(name: str, schema: dict[str, Any]) -> str:
    out = [f'<h3 id="schema-{_e(name)}">{_e(name)}</h3>']
    if schema.get("description"):
        out.append(_markdown(schema["description"]))
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    if properties:
        rows = "".join(
            f"<tr><td><code>{_e(prop)}</code></td><td>{_type(spec)}</td>"
            f"<td>{'yes' if prop in required else ''}</td>"
            f"<td>{_inline(spec.get('description', ''))}</td></tr>"
            for prop, spec in properties.items()
        )
        head = "<tr><th>field</th><th>type</th><th>always present</th><th>description</th></tr>"
        out.append(f"<table>{head}{rows}</table>")
        if schema.get("additionalProperties") is False:
            out.append("<p>No other fields.</p>")
    return "".join(out)


@cache
def render_html() -> str:
    """The whole page, rendered once per process."""
    document = load_openapi()
    info = document["info"]
    toc, sections = [], []
    for path, item in document["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            anchor = f"op-{operation['operationId']}"
            toc.append(
                f'<li><a href="#{anchor}"><code>{method.upper()} {_e(path)}</code></a> '
                f"{_e(operation.get('summary', ''))}</li>"
            )
            sections.append(
                f'<section class="op" id="{anchor}"><h2><span class="m">{method.upper()}</span>'
                f"<code>{_e(path)}</code></h2><p><strong>{_e(operation.get('summary', ''))}"
                f"</strong></p>{_markdown(operation.get('description', ''))}"
                f"<h4>Parameters</h4>{_parameters(document, operation)}"
                f"<h4>Responses</h4>{_responses(document, operation)}</section>"
            )
    schemas = "".join(
        _schema_section(name, schema)
        for name, schema in document.get("components", {}).get("schemas", {}).items()
    )
    title = _e(f"{info['title']} {info['version']}")
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{title}</h1><p><em>{_inline(info.get('summary', ''))}</em></p>"
        f"{_markdown(info.get('description', ''))}"
        f'<p>Machine-readable: <a href="openapi.json">openapi.json</a> (OpenAPI '
        f"{_e(document['openapi'])}).</p>"
        f"<nav><h2>Operations</h2><ul>{''.join(toc)}</ul></nav>{''.join(sections)}"
        f"<h2>Schemas</h2>{schemas}</body></html>"
    )
