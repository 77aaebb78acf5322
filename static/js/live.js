// Live updates: one websocket per page (/ws/events/) and the one rule every live
// element follows (README, "Live updates").
//
// A push is a hint; the database is the truth. Every live element has an id and
// a `data-version` that goes up with each change of what it shows (a reply being
// written also has `data-length`, the length of its text so far). So:
//  1. the page keeps, for each id, the newest state it has seen — pushed, or
//     answered, or on the page before a swap took it away — and an element on
//     screen is only ever replaced by a newer one;
//  2. a push for an element the page does not show yet is kept, and applied as
//     soon as that element appears (the answer that adds it may come after);
//  3. streamed text arrives as chunks with their offset: each is appended once,
//     in order; a gap makes the page ask for the message as it is now;
//  4. whenever the socket (re)connects, the page's live regions read themselves
//     again (they listen for "live-open"), since pushes sent meanwhile were lost.
// Answers of elements marked `data-live-merge` go through the same merge as pushes.
(function () {
  "use strict";

  var RECONNECT_NOTICE_MS = 4000; // show "reconnecting" only when it lasts longer than this
  var PING_MS = 25000; // a quiet line is checked this often (and proxies see traffic)
  var PONG_WAIT_MS = 10000; // no answer to a check by then: the connection is dead
  var MAX_BACKOFF_MS = 30000;
  var REMEMBERED = 500; // newest states kept for elements not (or no longer) on the page
  var CHUNK_WAIT_MS = 120000; // chunks for a stream the page does not show are kept this long
  var ASK_AGAIN_MS = 2000; // at most one request a message this often while its stream has a gap

  var newest = new Map(); // element id -> {key: [version, length], html}
  var waiting = new Map(); // stream element id -> {at, chunks: [{offset, text}]}
  var asked = new Map(); // message element id -> when it was last read again
  // What the tests and the benchmark read: socket opens, closes and error closes, pushes applied.
  var stats = (window.liveStats = { opens: 0, closes: 0, errorCloses: 0, pushes: 0 });

  function number(element, name) {
    var value = parseFloat(element.getAttribute(name));
    return isFinite(value) ? value : 0;
  }

  function keyOf(element) {
    return [number(element, "data-version"), number(element, "data-length")];
  }

  function isNewer(a, b) {
    return a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);
  }

  function isLive(element) {
    return element && element.id && element.hasAttribute("data-version");
  }

  function remember(element) {
    if (!isLive(element)) { return; }
    var key = keyOf(element);
    var known = newest.get(element.id);
    if (known && !isNewer(key, known.key)) { return; }
    newest.delete(element.id); // re-inserted last: the map's order is its age
    newest.set(element.id, { key: key, html: element.outerHTML });
    if (newest.size > REMEMBERED) { newest.delete(newest.keys().next().value); }
  }

  function replace(target, html) {
    var wasFinished = target.getAttribute("data-finished") === "true";
    var id = target.id;
    htmx.swap(target, html, { swapStyle: "outerHTML" });
    var now = document.getElementById(id);
    if (now && !wasFinished && now.getAttribute("data-finished") === "true") {
      // Regions that show a video's results read themselves again.
      htmx.trigger(document.body, "video-finished", { video: now.getAttribute("data-video") });
    }
  }

  // A whole element: replaces the one on the page if newer; added to `container`
  // (when given) if the page lacks it; remembered either way.
  function place(element, container) {
    if (!element.id) { return; }
    remember(element);
    var target = document.getElementById(element.id);
    if (target) {
      if (!isLive(target) || isNewer(keyOf(element), keyOf(target))) { replace(target, element.outerHTML); }
    } else if (container) {
      htmx.swap(container, element.outerHTML, { swapStyle: "beforeend" });
      // A new element (a message from another tab, say): regions that list what it refers to re-read.
      container.dispatchEvent(new CustomEvent("live-added", { bubbles: true }));
    }
  }

  function addChunk(element) {
    var entry = waiting.get(element.id) || { chunks: [] };
    entry.at = Date.now();
    entry.chunks.push({ offset: number(element, "data-offset"), text: element.textContent });
    waiting.set(element.id, entry);
    var stream = document.getElementById(element.id);
    if (stream) { drain(stream); }
  }

  // Append the waiting chunks that continue the stream's text; keep those past a gap.
  function drain(stream) {
    var entry = waiting.get(stream.id);
    var article = stream.closest("[data-version]");
    if (!entry || !article) { return; }
    var length = number(article, "data-length");
    var before = length;
    var gap = [];
    entry.chunks.sort(function (a, b) { return a.offset - b.offset; });
    entry.chunks.forEach(function (chunk) {
      var end = chunk.offset + chunk.text.length;
      if (end <= length) { return; } // shown already
      if (chunk.offset > length) { gap.push(chunk); return; }
      stream.appendChild(document.createTextNode(chunk.text.slice(length - chunk.offset)));
      length = end;
    });
    article.setAttribute("data-length", String(length));
    if (gap.length) {
      entry.chunks = gap;
      askAgain(article);
    } else {
      waiting.delete(stream.id);
    }
    if (length !== before) { stream.dispatchEvent(new CustomEvent("live-appended", { bubbles: true })); }
  }

  // Part of a stream went missing: read the message as it is now, and merge it.
  function askAgain(article) {
    var url = article.getAttribute("data-src");
    var last = asked.get(article.id) || 0;
    if (!url || Date.now() - last < ASK_AGAIN_MS) { return; }
    asked.set(article.id, Date.now());
    fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) { if (html) { apply(html); } })
      .catch(function () { /* the next chunk or reconnect asks again */ });
  }

  // Put every element the page shows at an older state than the newest seen at its newest,
  // and feed waiting chunks to streams that have appeared.
  var sweeping = false;
  function sweep() {
    if (sweeping) { return; }
    sweeping = true;
    try {
      newest.forEach(function (known, id) {
        var element = document.getElementById(id);
        if (isLive(element) && isNewer(known.key, keyOf(element))) { replace(element, known.html); }
      });
      var now = Date.now();
      waiting.forEach(function (entry, id) {
        var stream = document.getElementById(id);
        if (stream) { drain(stream); } else if (now - entry.at > CHUNK_WAIT_MS) { waiting.delete(id); }
      });
    } finally {
      sweeping = false;
    }
  }

  // One fragment from the server (a push, or a merged answer).
  function apply(html) {
    var template = document.createElement("template");
    template.innerHTML = html;
    Array.prototype.slice.call(template.content.children).forEach(function (element) {
      var event = element.getAttribute("data-event");
      var how = element.getAttribute("data-swap");
      if (event) {
        htmx.trigger(document.body, event);
      } else if (how === "chunk") {
        addChunk(element);
      } else if (how === "append") {
        var container = document.getElementById(element.id);
        Array.prototype.slice.call(element.children).forEach(function (child) { place(child, container); });
      } else {
        place(element, null);
      }
    });
    sweep();
  }

  window.VideoChatLive = { apply: apply };

  // Answers of `data-live-merge` elements are merged, not swapped. Any other swap
  // first remembers the live elements it is about to replace, so that an older
  // answer (a list read before the latest push) cannot take the page back.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var elt = event.detail.elt;
    var status = event.detail.xhr ? event.detail.xhr.status : 200;
    if (elt && elt.hasAttribute && elt.hasAttribute("data-live-merge") && status >= 200 && status < 300) {
      event.detail.shouldSwap = false;
      apply(event.detail.serverResponse || "");
      return;
    }
    var target = event.detail.target;
    if (target && target.querySelectorAll) {
      remember(target);
      target.querySelectorAll("[data-version]").forEach(remember);
    }
  });
  document.addEventListener("htmx:afterSettle", sweep);

  // --- the socket ------------------------------------------------------------

  var box = document.getElementById("events");
  if (!box || !window.WebSocket) { return; }
  var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + box.getAttribute("data-url");
  var notice = document.getElementById("live-status");
  var socket = null;
  var attempt = 0;
  var noticeTimer = null;
  var pingTimer = null;
  var pongTimer = null;

  function showNotice(show) {
    if (notice) { notice.hidden = !show; }
  }

  function quietCheck() {
    clearTimeout(pingTimer);
    clearTimeout(pongTimer);
    pingTimer = setTimeout(function () {
      if (!socket || socket.readyState !== WebSocket.OPEN) { return; }
      socket.send("ping");
      pongTimer = setTimeout(function () { lost(socket, 4000); }, PONG_WAIT_MS);
    }, PING_MS);
  }

  function connect() {
    var ws = new WebSocket(url);
    socket = ws;
    ws.addEventListener("open", function () {
      if (ws !== socket) { return; }
      attempt = 0;
      stats.opens += 1;
      clearTimeout(noticeTimer);
      noticeTimer = null;
      showNotice(false);
      quietCheck();
      htmx.trigger(document.body, "live-open");
    });
    ws.addEventListener("message", function (event) {
      if (ws !== socket) { return; }
      quietCheck(); // anything heard proves the line is alive
      if (event.data === "pong") { return; }
      stats.pushes += 1;
      apply(event.data);
    });
    ws.addEventListener("close", function (event) {
      if (ws === socket) { lost(ws, event.code); }
    });
  }

  // The socket closed (or stopped answering): try again with growing, jittered delays.
  function lost(ws, code) {
    if (ws !== socket) { return; }
    socket = null;
    clearTimeout(pingTimer);
    clearTimeout(pongTimer);
    stats.closes += 1;
    if (code !== 1000 && code !== 1001) { stats.errorCloses += 1; }
    try { ws.close(); } catch (e) { /* already closed */ }
    if (code === 4401) { return; } // logged out: the next page load shows the log-in form
    var delay = Math.min(MAX_BACKOFF_MS, 500 * Math.pow(2, attempt));
    attempt += 1;
    setTimeout(connect, delay / 2 + Math.random() * delay / 2);
    if (!noticeTimer) { noticeTimer = setTimeout(function () { showNotice(true); }, RECONNECT_NOTICE_MS); }
  }

  connect();
})();
