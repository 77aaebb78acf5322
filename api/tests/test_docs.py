"""The API's docs pages without a browser: Swagger UI at /api/v1/docs, ReDoc at /api/v1/redoc.

ReDoc's page alone relaxes the site's CSP, and only as far as ReDoc needs:
its <style> elements by the request's nonce (and two hashes), its search's
blob: worker. The browser run is api/tests/test_browser_docs.py.
"""

from __future__ import annotations

import re

import pytest

from api.docs import BUNDLED_STYLES

pytestmark = pytest.mark.django_db


def directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {name: values for name, *values in (d.split() for d in policy.split(";") if d.strip())}


def test_redoc_is_served_to_anyone_as_the_swagger_docs_are(client, owner_client):
    for c in (client, owner_client):
        for url in ("/api/v1/docs", "/api/v1/redoc"):
            response = c.get(url)
            assert response.status_code == 200, url
            assert response["Content-Type"].startswith("text/html")
    html = client.get("/api/v1/redoc").content.decode()
    assert "<title>VideoChat API</title>" in html
    assert 'data-spec-url="/api/v1/openapi.json"' in html
    assert "/static/ninja/redoc.standalone.js" in html  # ninja's own copy, not a CDN
    assert "cdn." not in html


def test_redoc_relaxes_only_its_styles_and_workers_and_never_its_scripts(client):
    response = client.get("/api/v1/redoc")
    html = response.content.decode()
    policy = directives(response)
    site = directives(client.get("/accounts/login/"))

    assert policy["script-src"] == ["'self'"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]
    nonce = re.search(r"<script src=\"[^\"]*/js/redoc\.js\" nonce=\"([^\"]+)\"", html)[1]
    assert policy["worker-src"] == ["'self'", "blob:"]
    assert {k: v for k, v in policy.items() if k != "worker-src"} == {
        **site,
        "style-src": ["'self'", f"'nonce-{nonce}'", *BUNDLED_STYLES],
    }

    # No inline script: each one is a file of ours or ninja's, or the settings' JSON (not run).
    for tag in re.findall(r"<script[^>]*>", html):
        assert " src=" in tag or 'type="application/json"' in tag, tag
    assert "<style" not in html


def test_the_relaxation_stays_on_the_redoc_page(client):
    for url in ("/api/v1/docs", "/accounts/login/"):
        policy = directives(client.get(url))
        assert policy["style-src"] == ["'self'"], url
        assert "worker-src" not in policy, url


def test_redoc_answers_a_write_with_the_apis_json_405(client):
    response = client.post("/api/v1/redoc")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert response["Allow"] == "GET, HEAD"
