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

  function seek(player, seconds) {
    if (!player || !isFinite(seconds)) { return; }
    player.currentTime = Math.max(0, seconds);
    var box = player.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) {
      player.scrollIntoView({ block: "nearest", behavior: "smooth" });
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
  // A region swapped in again starts without the playhead: draw it at once.
  document.addEventListener("htmx:afterSettle", function () {
    var player = document.getElementById("player");
    if (player && player.currentTime > 0) { follow({ target: player }); }
  });
})();
