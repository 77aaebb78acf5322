// Video pages: scene buttons, storyboard and charts seek the player; the charts'
// playhead and the current scene follow it. Everything is attached by data
// attributes through delegation on the document, so it keeps working after
// htmx swaps a region in again. No inline script or style (strict CSP):
// positions are set through element.style, which the CSP allows.
(function () {
  "use strict";

  var PLOT_WIDTH = 1000; // the charts' plot box, in SVG user units (analysis/charts.py)

  function clock(seconds) {
    var total = Math.max(0, Math.floor(seconds));
    var h = Math.floor(total / 3600);
    var m = Math.floor((total % 3600) / 60);
    var s = total % 60;
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return h ? h + ":" + pad(m) + ":" + pad(s) : pad(m) + ":" + pad(s);
  }

  function playerFor(element) {
    return document.getElementById(element.getAttribute("data-player") || "player");
  }

  var reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)");
  var narrow = window.matchMedia("(pointer: coarse), (max-width: 40rem)");
  var TARGET = 44; // px: the smallest a storyboard frame may be on a phone

  function seek(player, seconds) {
    if (!player || !isFinite(seconds)) { return; }
    player.currentTime = Math.max(0, seconds);
    var box = player.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) {
      player.scrollIntoView({ block: "nearest", behavior: reducedMotion.matches ? "auto" : "smooth" });
    }
  }

  function number(element, name) {
    return parseFloat(element.getAttribute(name));
  }

  // The storyboard tile under the pointer: its index, time and box within the board.
  function tileAt(board, event) {
    var image = board.querySelector("img");
    if (!image) { return null; }
    var area = image.getBoundingClientRect();
    var columns = number(board, "data-columns");
    var rows = number(board, "data-rows");
    var count = number(board, "data-count");
    var width = area.width / columns;
    var height = area.height / rows;
    var column = Math.floor((event.clientX - area.left) / width);
    var row = Math.floor((event.clientY - area.top) / height);
    var index = row * columns + column;
    if (column < 0 || row < 0 || column >= columns || row >= rows || index >= count) { return null; }
    var origin = board.getBoundingClientRect();
    return {
      time: index * number(board, "data-interval"),
      left: area.left - origin.left + column * width,
      top: area.top - origin.top + row * height,
      width: width,
      height: height
    };
  }

  function hideCursor(board) {
    var cursor = board.querySelector(".storyboard-cursor");
    if (cursor) { cursor.hidden = true; }
  }

  function showCursor(board, tile) {
    var cursor = board.querySelector(".storyboard-cursor");
    if (!cursor) { return; }
    cursor.style.left = tile.left + "px";
    cursor.style.top = tile.top + "px";
    cursor.style.width = tile.width + "px";
    cursor.style.height = tile.height + "px";
    cursor.querySelector(".storyboard-time").textContent = clock(tile.time);
    cursor.hidden = false;
  }

  // The time under the pointer on a chart: the plot box spans the whole video.
  function chartTime(chart, event) {
    var plot = chart.querySelector("svg.plot") || chart;
    var area = plot.getBoundingClientRect();
    var fraction = (event.clientX - area.left) / area.width;
    return Math.min(1, Math.max(0, fraction)) * number(chart, "data-duration");
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest("[data-seek]");
    if (target) {
      event.preventDefault();
      seek(playerFor(target), number(target, "data-seek"));
      return;
    }
    var board = event.target.closest(".storyboard");
    if (board) {
      var tile = tileAt(board, event);
      if (tile) { seek(playerFor(board), tile.time); }
      return;
    }
    var chart = event.target.closest("svg.chart-svg");
    if (chart) { seek(playerFor(chart), chartTime(chart, event)); }
  });

  document.addEventListener("mousemove", function (event) {
    var board = event.target.closest && event.target.closest(".storyboard");
    if (!board) { return; }
    var tile = tileAt(board, event);
    if (tile) { showCursor(board, tile); } else { hideCursor(board); }
  });

  document.addEventListener("mouseout", function (event) {
    var board = event.target.closest && event.target.closest(".storyboard");
    if (board && !(event.relatedTarget && board.contains(event.relatedTarget))) { hideCursor(board); }
  });

  // --- storyboard frames and chart axes, set up wherever they appear ---------------

  // The frames are one tab stop: the arrow keys move between them (a roving tabindex).
  function setUpFrames(list) {
    var frames = list.querySelectorAll(".storyboard-frame");
    frames.forEach(function (frame, index) { frame.tabIndex = index === 0 ? 0 : -1; });
  }

  // On a phone, the sheet is made wide enough that every frame is thumb-sized; it scrolls in its box.
  function sizeBoard(board) {
    var image = board.querySelector("img");
    if (!image) { return; }
    var columns = number(board, "data-columns");
    var rows = number(board, "data-rows");
    var tileWidth = number(image, "width") / columns;
    var tileHeight = number(image, "height") / rows;
    var needed = Math.ceil(columns * Math.max(TARGET, (TARGET * tileWidth) / tileHeight));
    var room = board.parentElement ? board.parentElement.clientWidth : 0;
    var wide = narrow.matches && needed > Math.min(room, image.getBoundingClientRect().width || room);
    board.classList.toggle("is-wide", wide);
    image.style.width = wide ? needed + "px" : "";
  }

  // Each mark of a chart's time axis stands at its moment along the chart.
  function placeAxis(axis) {
    axis.querySelectorAll(".chart-tick").forEach(function (tick) {
      tick.style.left = number(tick, "data-percent") + "%";
    });
    axis.classList.add("is-placed");
  }

  function setUp(root) {
    if (!root.querySelectorAll) { return; }
    root.querySelectorAll(".storyboard-frames").forEach(setUpFrames);
    root.querySelectorAll(".storyboard").forEach(sizeBoard);
    root.querySelectorAll(".chart-axis").forEach(placeAxis);
    root.querySelectorAll(".clip-from-player").forEach(function (marks) { marks.hidden = false; });
  }
  if (window.htmx) { htmx.onLoad(setUp); } else { setUp(document); }
  narrow.addEventListener("change", function () { document.querySelectorAll(".storyboard").forEach(sizeBoard); });
  window.addEventListener("resize", function () { document.querySelectorAll(".storyboard").forEach(sizeBoard); });

  var MOVES = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: "row", ArrowUp: "-row", Home: "first", End: "last" };
  document.addEventListener("keydown", function (event) {
    var frame = event.target.closest && event.target.closest(".storyboard-frame");
    if (!frame || !(event.key in MOVES) || event.altKey || event.ctrlKey || event.metaKey) { return; }
    var list = frame.closest(".storyboard-frames");
    var board = frame.closest(".storyboard");
    var frames = Array.prototype.slice.call(list.querySelectorAll(".storyboard-frame"));
    var columns = number(board, "data-columns") || 1;
    var index = frames.indexOf(frame);
    var move = MOVES[event.key];
    var next = move === "first" ? 0 : move === "last" ? frames.length - 1
      : move === "row" ? index + columns : move === "-row" ? index - columns : index + move;
    if (next < 0 || next >= frames.length) { return; }
    event.preventDefault();
    frame.tabIndex = -1;
    frames[next].tabIndex = 0;
    frames[next].focus();
  });
  // Clicked or tapped: that frame is where the arrow keys carry on from.
  document.addEventListener("focusin", function (event) {
    var frame = event.target.closest && event.target.closest(".storyboard-frame");
    if (!frame) { return; }
    frame.closest(".storyboard-frames").querySelectorAll(".storyboard-frame").forEach(function (other) {
      other.tabIndex = other === frame ? 0 : -1;
    });
  });

  // Media events do not bubble: listen in the capture phase.
  function follow(event) {
    var player = event.target;
    if (!(player instanceof HTMLMediaElement) || !player.id) { return; }
    var now = player.currentTime;
    document.querySelectorAll('svg.chart-svg[data-player="' + player.id + '"]').forEach(function (chart) {
      var duration = number(chart, "data-duration");
      var line = chart.querySelector(".playhead");
      if (!line || !(duration > 0)) { return; }
      var x = String(Math.min(1, now / duration) * PLOT_WIDTH);
      line.setAttribute("x1", x);
      line.setAttribute("x2", x);
      line.setAttribute("visibility", "visible");
    });
    document.querySelectorAll('.scene[data-player="' + player.id + '"], .transcript-segment[data-player="' + player.id + '"]').forEach(function (scene) {
      var current = now >= number(scene, "data-seek") && now < number(scene, "data-end");
      scene.classList.toggle("current", current);
      if (current) { scene.setAttribute("aria-current", "true"); } else { scene.removeAttribute("aria-current"); }
    });
  }
  document.addEventListener("timeupdate", follow, true);
  document.addEventListener("seeked", follow, true);

  // The clip form's "Start/End at the player's time": the player's time, to the
  // hundredth of a second, into the field the button names. Shown only with
  // script on (the fields take typed times without it).
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-clip-mark]");
    if (!button) { return; }
    var player = playerFor(button.closest(".clip-from-player"));
    var field = document.getElementById(button.getAttribute("data-clip-mark"));
    if (!player || !field) { return; }
    field.value = (Math.round(player.currentTime * 100) / 100).toFixed(2);
    field.dispatchEvent(new Event("change", { bubbles: true }));
  });
  // A region swapped in again starts without the playhead: draw it at once.
  document.addEventListener("htmx:afterSettle", function () {
    var player = document.getElementById("player");
    if (player && player.currentTime > 0) { follow({ target: player }); }
  });
})();
