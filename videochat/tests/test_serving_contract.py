"""What videochat/serving.py builds on inside Daphne and Twisted, checked in a second.

serving.py subclasses Daphne's request and Twisted's channel and relies on a
few of their non-public parts. An upgrade that renames or drops one fails here
at once, not only in the slow end-to-end tests (test_serving.py) or the
upload benchmark. Pinned in constraints.txt; upgrade both on purpose.
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
import types
from pathlib import Path

from daphne import http_protocol
from twisted.web import http

from videochat import serving


def test_twisted_calls_the_request_hooks_it_overrides():
    source = inspect.getsource(http.HTTPChannel)
    # The request hears of its length before any body, then of each chunk.
    assert "req.gotLength(self.length)" in source
    assert "self.requests[-1].handleContentChunk" in source
    assert "req.requestReceived(command, path, version)" in source
    # The header allowance it answers 431 for, and the line limit that would hang up silently.
    assert http.HTTPChannel.totalHeadersSize == 16384
    assert "self._receivedHeaderSize += len(line)" in source
    assert hasattr(http.HTTPChannel, "lineLengthExceeded")


def test_twisted_channel_parts_it_uses_are_there():
    for name in ("allContentReceived", "_send100Continue", "loseConnection", "callLater", "persistent"):
        assert hasattr(http.HTTPChannel, name), name
    # The request line is kept on the channel until the body is complete.
    source = inspect.getsource(http.HTTPChannel.lineReceived)
    assert "self._command = command" in source
    assert "self._path = request" in source
    assert "self._networkProducer" in inspect.getsource(http.HTTPChannel.loseConnection)
    assert inspect.signature(http._GenericHTTPChannelProtocol).parameters


def test_daphne_builds_requests_and_channels_as_it_expects():
    # Daphne's factory looks WebRequest up in its module on every connection.
    assert "protocol.requestFactory = WebRequest" in inspect.getsource(
        http_protocol.HTTPFactory.buildProtocol
    )
    # Read, not imported: importing daphne.server installs Twisted's reactor in this process.
    server_source = Path(importlib.util.find_spec("daphne.server").origin).read_text()
    assert "from .http_protocol import HTTPFactory" in server_source
    assert "self.http_factory = HTTPFactory(self)" in server_source
    # Daphne's own class: once the app is loaded, http_protocol.WebRequest is ours.
    daphne_request = serving.Request.__bases__[0]
    assert (daphne_request.__module__, daphne_request.__name__) == ("daphne.http_protocol", "WebRequest")
    process = inspect.getsource(daphne_request.process)
    # The body it replaces: Daphne reads self.content whole into the application's queue.
    assert "self.content.read(" in process
    assert "application_queue" in process
    assert issubclass(serving.HTTPFactory, http_protocol.HTTPFactory)


def test_install_puts_them_in_place(monkeypatch):
    server = types.ModuleType("daphne.server")  # as Daphne has loaded it before the app
    server.HTTPFactory = http_protocol.HTTPFactory
    monkeypatch.setitem(sys.modules, "daphne.server", server)
    monkeypatch.setattr(http_protocol, "WebRequest", http_protocol.WebRequest)
    serving.install()
    assert http_protocol.WebRequest is serving.Request
    assert server.HTTPFactory is serving.HTTPFactory
