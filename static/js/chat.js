// Chat thread behaviour: Enter sends, errors go under the composer, time links
// seek a player, the newest message stays in view, uploaded attachments join
// the message.
(function () {
  "use strict";

  var chat = document.getElementById("chat");
  if (!chat) { return; }
  var composer = document.getElementById("composer");
  var textarea = document.getElementById("composer-text");
  var messages = chat.querySelector(".chat-messages");
  var activePlayer = null;
  var reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");

  function announce(text) {
    document.dispatchEvent(new CustomEvent("vc:announce", { detail: text }));
  }

  function scrollToEnd() {
    if (messages) { messages.scrollTop = messages.scrollHeight; }
  }

  // Enter sends; Shift+Enter (or composing an IME character) makes a new line.
  textarea.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });

  // The form that sent a request: htmx's swap events name their target as `elt`.
  function sender(event) {
    return event.detail.requestConfig ? event.detail.requestConfig.elt : event.detail.elt;
  }

  // A refused message (400, 429) shows its reason under the composer, not in the thread:
  // inside #composer-errors, which stays on the page, so its role="alert" reads it out.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (sender(event) !== composer || event.detail.xhr.status < 400) { return; }
    event.detail.shouldSwap = false;
    event.detail.isError = false;
    var answer = document.createElement("template");
    answer.innerHTML = event.detail.serverResponse || "";
    var errors = answer.content.getElementById("composer-errors");
    document.getElementById("composer-errors").innerHTML = errors ? errors.innerHTML : answer.innerHTML;
    textarea.focus();
  });

  document.body.addEventListener("htmx:afterRequest", function (event) {
    // A refusal (400, 429) counts as "successful" for htmx (our responseHandling swaps it): keep the text.
    if (event.detail.elt !== composer || !event.detail.successful || event.detail.xhr.status >= 400) { return; }
    composer.reset();
    document.getElementById("composer-errors").innerHTML = "";
    document.getElementById("composer-attachments").innerHTML = "";
    var queue = document.getElementById("attach-queue");
    if (queue) { queue.innerHTML = ""; }
    textarea.focus();
    scrollToEnd();
  });

  document.body.addEventListener("live-added", scrollToEnd);
  document.body.addEventListener("live-appended", scrollToEnd);
  document.body.addEventListener("htmx:afterSettle", function (event) {
    if (messages && messages.contains(event.detail.elt)) { scrollToEnd(); }
  });

  // The player a time link seeks: the video a summary is about, else the one
  // last played, else the newest attached.
  document.addEventListener("play", function (event) {
    if (event.target.classList && event.target.classList.contains("player")) { activePlayer = event.target; }
  }, true);

  function playerFor(link) {
    var article = link.closest("[data-video]");
    var players = chat.querySelectorAll("video.player");
    if (article) {
      var own = document.getElementById("player-" + article.getAttribute("data-video"));
      if (own) { return own; }
    }
    if (activePlayer && document.body.contains(activePlayer)) { return activePlayer; }
    return players.length ? players[players.length - 1] : null;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a.seek");
    if (!link || !chat.contains(link)) { return; }
    var player = playerFor(link);
    if (!player) { return; }
    event.preventDefault();
    var seconds = parseFloat(link.getAttribute("data-seek"));
    var seek = function () { player.currentTime = seconds; };
    if (player.readyState >= 1) { seek(); } else { player.addEventListener("loadedmetadata", seek, { once: true }); player.load(); }
    player.scrollIntoView({ block: "nearest", behavior: reducedMotion.matches ? "auto" : "smooth" });
  });

  // Attach by uploading (static/js/upload.js, as on /videos/): each accepted
  // file becomes a `videos` field of the message.
  chat.addEventListener("upload-accepted", function (event) {
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "videos";
    hidden.value = event.detail.video;
    document.getElementById("composer-attachments").appendChild(hidden);
  });

  // Each reply is announced once: when it starts, and when it is complete (its text) or failed.
  // Not on every chunk: the thread is not a live region (thread.html).
  var replies = new Map(); // message element id -> the status this page has shown
  function noteReplies(root, speak) {
    var found = [];
    if (root.matches && root.matches(".chat-message.role-assistant")) { found.push(root); }
    if (root.querySelectorAll) {
      found = found.concat(Array.prototype.slice.call(root.querySelectorAll(".chat-message.role-assistant")));
    }
    found.forEach(function (article) {
      var status = article.getAttribute("data-status");
      var before = replies.get(article.id);
      replies.set(article.id, status);
      if (!speak || before === status) { return; }
      var open = status === "pending" || status === "streaming";
      var wasOpen = before === "pending" || before === "streaming";
      // New to the page and not the newest (older messages read in above): not news.
      var newest = !before && messages && messages.lastElementChild === article;
      if (open && (newest || before === "failed")) {
        announce("The assistant is writing a reply.");
      } else if (!open && (wasOpen || newest || before === "failed")) {
        var body = article.querySelector(".chat-body, .chat-failure");
        var text = body ? body.textContent.replace(/\s+/g, " ").trim() : "";
        if (text.length > 600) { text = text.slice(0, 600) + "…"; }
        announce(status === "failed" ? "The reply failed. " + text + " Retry is below it." : "The assistant replied: " + text);
      }
    });
  }
  noteReplies(chat, false);
  if (window.htmx) { htmx.onLoad(function (element) { noteReplies(element, true); }); }

  scrollToEnd();
})();
