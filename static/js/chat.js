// Chat thread behaviour: Enter sends, errors go under the composer, time links
// seek a player, the newest message stays in view, attachments upload with
// their own progress bars through the same upload path as /videos/.
(function () {
  "use strict";

  var chat = document.getElementById("chat");
  if (!chat) { return; }
  var composer = document.getElementById("composer");
  var textarea = document.getElementById("composer-text");
  var messages = chat.querySelector(".chat-messages");
  var activePlayer = null;

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

  // A refused message (400, 429) shows its reason under the composer, not in the thread.
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.elt !== composer || event.detail.xhr.status < 400) { return; }
    event.detail.shouldSwap = true;
    event.detail.isError = false;
    event.detail.target = document.getElementById("composer-errors");
    event.detail.swapOverride = "innerHTML";
  });

  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.elt !== composer || !event.detail.successful) { return; }
    composer.reset();
    document.getElementById("composer-errors").innerHTML = "";
    document.getElementById("composer-attachments").innerHTML = "";
    chat.querySelectorAll("[data-attach-progress]").forEach(function (list) { list.innerHTML = ""; });
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
    player.scrollIntoView({ block: "nearest", behavior: "smooth" });
  });

  // Attach by uploading: each file goes through /videos/upload/ on its own
  // request with its own progress bar; an accepted file becomes a hidden
  // `videos` field of the message.
  chat.querySelectorAll("[data-attach-upload]").forEach(function (box) {
    var input = box.querySelector("[data-attach-input]");
    var list = box.querySelector("[data-attach-progress]");
    var url = box.getAttribute("data-upload-url");
    input.addEventListener("change", function () {
      Array.prototype.forEach.call(input.files, function (file) { upload(file); });
      input.value = "";
    });

    function upload(file) {
      var item = document.createElement("li");
      var name = document.createElement("span");
      name.textContent = file.name;
      var bar = document.createElement("progress");
      bar.max = 100; bar.value = 0;
      var note = document.createElement("span");
      note.className = "muted";
      item.append(name, " ", bar, " ", note);
      list.appendChild(item);

      var data = new FormData();
      data.append("files", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", url);
      xhr.setRequestHeader("X-CSRFToken", csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable) { bar.value = Math.round(100 * event.loaded / event.total); }
      });
      xhr.addEventListener("load", function () {
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        var outcome = body && body.files && body.files[0];
        if (xhr.status < 300 && outcome && outcome.accepted) {
          bar.value = 100;
          note.textContent = outcome.duplicate ? "already uploaded — attached" : "uploaded — attached";
          var hidden = document.createElement("input");
          hidden.type = "hidden"; hidden.name = "videos"; hidden.value = outcome.video;
          document.getElementById("composer-attachments").appendChild(hidden);
          item.classList.add("accepted");
        } else {
          note.textContent = (outcome && outcome.reason) || (body && body.error) ||
            (xhr.status === 429 ? "too many uploads in a short time; try again in a minute" : "could not be uploaded");
          item.classList.add("refused");
        }
      });
      xhr.addEventListener("error", function () { note.textContent = "the upload was interrupted"; item.classList.add("refused"); });
      xhr.send(data);
    }
  });

  function csrfToken() {
    var headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
    return headers["X-CSRFToken"] || "";
  }

  scrollToEnd();
})();
