// VideoChat's small amount of page script. No inline script anywhere (strict CSP):
// behaviour is attached here, by data attributes, after htmx has loaded.
(function () {
  "use strict";

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    if (xhr && xhr.status >= 500) {
      window.alert("Something went wrong on our side. Please try again in a moment.");
    }
  });

  // --- announcements -----------------------------------------------------------
  // One polite live region (#announcer in base.html) says what changed, once, in a
  // sentence. Scripts ask for it with a "vc:announce" event whose detail is the text.
  // The page's live elements themselves are not live regions: a reply streaming in
  // or a progress bar moving would be read out at every chunk.
  var announcer = document.getElementById("announcer");
  var clearTimer = null;

  function announce(text) {
    if (!announcer || !text) { return; }
    clearTimeout(clearTimer);
    // Emptied first so the same sentence twice in a row is read twice.
    announcer.textContent = "";
    setTimeout(function () {
      announcer.textContent = text;
      clearTimer = setTimeout(function () { announcer.textContent = ""; }, 10000);
    }, 50);
  }
  document.addEventListener("vc:announce", function (event) { announce(event.detail); });

  // A video's status (analysis/_status.html) is announced when it changes on this
  // page: analysing, done or failed, once each, not at every step of its progress.
  var statuses = new Map(); // video id -> the status this page has shown
  var STATUS_WORDS = {
    queued: function (name) { return "“" + name + "” is waiting to be analysed."; },
    processing: function (name) { return "Analysing “" + name + "”."; },
    done: function (name) { return "“" + name + "” is analysed."; },
    failed: function (name, element) {
      var reason = element.querySelector(".failure-reason");
      return "The analysis of “" + name + "” failed." + (reason ? " " + reason.textContent.trim() : "");
    }
  };

  function noteStatuses(root, speak) {
    var found = [];
    if (root.matches && root.matches(".video-status[data-video]")) { found.push(root); }
    if (root.querySelectorAll) {
      found = found.concat(Array.prototype.slice.call(root.querySelectorAll(".video-status[data-video]")));
    }
    found.forEach(function (element) {
      var video = element.getAttribute("data-video");
      var status = element.getAttribute("data-status");
      var before = statuses.get(video);
      statuses.set(video, status);
      if (speak && before && before !== status && STATUS_WORDS[status]) {
        announce(STATUS_WORDS[status](element.getAttribute("data-name") || "The video", element));
      }
    });
  }
  noteStatuses(document, false);

  // --- focus -----------------------------------------------------------------
  // htmx and live pushes replace elements; when the one that had focus goes, focus
  // would fall back to <body> and a keyboard user would start again from the top.
  // So the page remembers where focus was (its id, else its place inside each
  // ancestor with an id) and puts it on the new copy, else on the nearest of those
  // ancestors still on the page (the message a Retry button was in, say).
  var lastFocus = null;

  function focusKey(element) {
    var selector = element.tagName.toLowerCase();
    var holders = [];
    for (var holder = element.parentElement; holder && holder !== document.body; holder = holder.parentElement) {
      if (holder.id) {
        holders.push({ id: holder.id, index: Array.prototype.indexOf.call(holder.querySelectorAll(selector), element) });
      }
    }
    return { id: element.id, selector: selector, holders: holders };
  }

  document.addEventListener("focusin", function (event) {
    var target = event.target;
    if (target && target !== document.body && target.nodeType === 1) {
      lastFocus = { element: target, key: focusKey(target) };
    }
  });

  // Focus put nowhere on purpose (a click on the page's background): nothing to restore later.
  document.addEventListener("focusout", function (event) {
    var element = event.target;
    if (event.relatedTarget) { return; }
    setTimeout(function () {
      if (lastFocus && lastFocus.element === element && element.isConnected && document.activeElement === document.body) {
        lastFocus = null;
      }
    }, 0);
  });

  function usable(element) {
    return element && !element.disabled && !element.closest("[hidden]") && element.getClientRects().length > 0;
  }

  function restoreFocus() {
    if (!lastFocus || lastFocus.element.isConnected) { return; }
    var active = document.activeElement;
    if (active && active !== document.body && active !== document.documentElement) { return; }
    var key = lastFocus.key;
    var target = key.id ? document.getElementById(key.id) : null;
    for (var i = 0; !usable(target) && i < key.holders.length; i++) {
      var holder = document.getElementById(key.holders[i].id);
      if (!holder) { continue; }
      target = holder.querySelectorAll(key.selector)[key.holders[i].index];
      if (!usable(target)) {
        target = holder;
        if (!holder.hasAttribute("tabindex")) { holder.setAttribute("tabindex", "-1"); } // focusable by script only
      }
    }
    if (usable(target)) { target.focus({ preventScroll: true }); }
  }

  // After every swap, whoever made it (an htmx request, a live push, a region re-reading itself).
  var pending = false;
  function afterSwap() {
    if (pending) { return; }
    pending = true;
    setTimeout(function () {
      pending = false;
      restoreFocus();
    }, 0);
  }

  if (window.htmx) {
    htmx.onLoad(function (element) {
      noteStatuses(element, true);
      afterSwap();
    });
  }
  document.addEventListener("htmx:afterSettle", afterSwap);

  // --- the header's account menu (a <details>): Escape and a click elsewhere close it ---
  function closeMenus(except) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (menu !== except) { menu.open = false; }
    });
  }
  document.addEventListener("click", function (event) {
    closeMenus(event.target.closest && event.target.closest("details[data-menu]"));
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") { return; }
    var menu = event.target.closest && event.target.closest("details[data-menu][open]");
    if (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
})();
