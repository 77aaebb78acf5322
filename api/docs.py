"""ReDoc for the API, /api/v1/redoc, beside ninja's Swagger UI (/api/v1/docs).

Ninja serves one docs UI per API, so this is a view of our own. It reuses
ninja's Redoc (its settings and the schema's URL) and ReDoc itself from
ninja's static files (ninja/redoc.standalone.js: no CDN, it works offline),
with our template: ninja's starts ReDoc with an inline script, which the
site's CSP refuses, so ours loads static/js/redoc.js instead.

ReDoc's styles are styled-components, which insert <style> elements; ReDoc
gives them the nonce of its `nonce` option. So this page alone adds to
style-src the request's nonce and the hashes of the one stylesheet ReDoc's
bundle inserts as it loads, before it can be given the nonce (not
'unsafe-inline'), and lets ReDoc's search index run in the worker it makes
from a blob: (worker-src). script-src stays the site's, 'self' only.
"""

from __future__ import annotations

from csp.constants import NONCE, SELF
from csp.decorators import csp_update
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe
from ninja import Redoc

from api.main import api

REDOC = Redoc(settings={"expandResponses": "200,201"})

# perfect-scrollbar's CSS, which redoc.standalone.js puts in a <style> (first empty, then
# filled) as it loads, before Redoc.init has its nonce: the SHA-256 of "" and of that text
# (with its source map), for ninja's copy of ReDoc 2.5; the browser test notices a new one.
BUNDLED_STYLES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",
)
# Only what ReDoc needs, on this page only; the site's policy is unchanged.
REDOC_CSP = {"style-src": [NONCE, *BUNDLED_STYLES], "worker-src": [SELF, "blob:"]}


@require_safe
@csp_update(REDOC_CSP)
def redoc(request: HttpRequest) -> HttpResponse:
    context = {
        "api": api,
        "openapi_json_url": REDOC.get_openapi_url(api, {}),
        "redoc_settings": REDOC.settings,
    }
    return render(request, "api/redoc.html", context)


# The same access as ninja's docs page (anyone, unless the API is given a docs_decorator).
if api.docs_decorator:
    redoc = api.docs_decorator(redoc)
