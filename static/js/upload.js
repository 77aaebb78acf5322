// The one upload client: the video list's upload form and the chat composer's
// "upload new videos" box both use it. Each file is its own request with its own
// progress bar, and the server's verdict (the upload form's "results" partial)
// is swapped in place of the file's item. No inline script (strict CSP): a
// container with data-upload-form (a form, or a box inside another form) is
// found by that attribute; data-upload-url (or the form's action) says where to
// post, data-queue which element lists the files. An accepted file fires
// `upload-accepted` on its container, with the video's id in event.detail.
// Without JavaScript, or in a browser without DataTransfer, the form simply
// posts every file at once and the server answers with messages.
(function () {
  "use strict";

  var PARALLEL = 2;

  function supported() {
    if (!window.htmx || typeof window.DataTransfer !== "function") { return false; }
    try { return !!new DataTransfer().items; } catch (error) { return false; }
  }

  function failureText(xhr) {
    var status = xhr ? xhr.status : 0;
    if (status === 403) { return "Not uploaded: you are logged out or this page is out of date. Reload the page and try again."; }
    if (status === 413) { return "Not uploaded: the file is too large for the server."; }
    if (status === 408) { return "Not uploaded: the upload stopped arriving at the server. Check your connection and try again."; }
    if (status === 0) { return "Not uploaded: the connection was interrupted. Try again."; }
    return "Not uploaded: something went wrong on our side (HTTP " + status + "). Try again.";
  }

  // Read out once by the page's announcer (static/js/app.js), not as a live region that repeats every percent.
  function announce(text) {
    document.dispatchEvent(new CustomEvent("vc:announce", { detail: text.replace(/\s+/g, " ").trim() }));
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }  // textContent: file names are never parsed as HTML
    return node;
  }

  function enhance(form) {
    if (form.hasAttribute("data-upload-ready")) { return; }
    var url = form.getAttribute("data-upload-url") || form.getAttribute("action");
    var queue = document.getElementById(form.getAttribute("data-queue"));
    var input = form.querySelector("input[type=file]");
    if (!queue || !input) { return; }
    form.setAttribute("data-upload-ready", "");
    form.classList.add("is-enhanced");
    var zone = form.querySelector("[data-drop-zone]") || form;
    var maxBytes = parseInt(form.getAttribute("data-max-bytes") || "0", 10);
    var maxMb = form.getAttribute("data-max-mb");
    var waiting = [];
    var running = 0;

    function pump() {
      while (running < PARALLEL && waiting.length) {
        running += 1;
        var next = waiting.shift();
        next.status.textContent = "Uploading…";
        announce("Uploading “" + next.name + "”.");
        htmx.trigger(next.form, "upload-start");
      }
    }

    // One small htmx form per file: htmx posts it, reports its upload progress
    // (htmx:xhr:progress) and swaps the server's verdict in place of the item.
    function add(file) {
      var item = element("div", "upload-item");
      var itemForm = element("form", "upload-item-form");
      itemForm.setAttribute("hx-post", url);
      itemForm.setAttribute("hx-encoding", "multipart/form-data");
      itemForm.setAttribute("hx-trigger", "upload-start");
      itemForm.setAttribute("hx-target", "closest .upload-item");
      itemForm.setAttribute("hx-swap", "outerHTML");
      var fileInput = element("input");
      fileInput.type = "file";
      fileInput.name = input.name || "files";
      fileInput.hidden = true;
      var transfer = new DataTransfer();
      transfer.items.add(file);
      fileInput.files = transfer.files;
      var name = element("span", "upload-name", file.name);
      var bar = element("progress", "upload-progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", "Upload progress of " + file.name);
      var status = element("span", "upload-status", "Waiting…");
      itemForm.append(fileInput, name, bar, status);
      item.append(itemForm);
      queue.append(item);

      if (maxBytes && file.size > maxBytes) {
        // The server would refuse it too; spare the user the wait.
        item.classList.add("refused");
        bar.remove();
        status.textContent = "Refused: it is larger than the " + maxMb + " MB limit.";
        announce(file.name + ": " + status.textContent);
        return;
      }

      itemForm.addEventListener("htmx:xhr:progress", function (event) {
        var detail = event.detail;
        if (!detail.lengthComputable || !detail.total) { return; }
        var percent = Math.floor((detail.loaded * 100) / detail.total);
        if (percent <= bar.value) { return; }  // the response's download progress starts again at 0
        bar.value = percent;
        status.textContent = percent < 100 ? "Uploading " + percent + "%" : "Checking…";
      });
      itemForm.addEventListener("htmx:afterRequest", function (event) {
        running -= 1;
        pump();
        if (!event.detail.successful && item.isConnected) {
          item.classList.add("refused");
          status.textContent = failureText(event.detail.xhr);
          announce(file.name + ": " + status.textContent);
        }
      });
      htmx.process(itemForm);
      waiting.push({ form: itemForm, status: status, name: file.name });
    }

    function addAll(files) {
      Array.prototype.forEach.call(files || [], add);
      pump();
    }

    input.addEventListener("change", function () {
      addAll(input.files);
      input.value = "";
    });
    if (form.tagName === "FORM") {
      form.addEventListener("submit", function (event) {
        event.preventDefault();
        addAll(input.files);
        input.value = "";
      });
    }
    // A verdict swapped in: tell whoever uses the container which videos it now has.
    queue.addEventListener("htmx:load", function (event) {
      var result = event.detail.elt;
      if (!result.matches || !result.matches(".upload-result")) { return; }
      if (result.getAttribute("role") !== "alert") { // an alert is read out on its own
        var name = result.querySelector(".upload-name");
        var verdict = result.querySelector(".upload-verdict");
        announce((name ? name.textContent + ": " : "") + (verdict ? verdict.textContent : result.textContent));
      }
      if (!result.matches(".upload-result.accepted[data-video]")) { return; }
      form.dispatchEvent(new CustomEvent("upload-accepted", {
        bubbles: true,
        detail: { video: result.getAttribute("data-video"), duplicate: result.classList.contains("duplicate") },
      }));
    });
    // The drop zone is also a button: its own "Choose videos…" button, or a click
    // anywhere on it, opens the file picker. The native input stays for the label and
    // for browsers without the button, out of the tab order so it is not met twice.
    var pick = form.querySelector("[data-pick-files]");
    if (pick) {
      pick.hidden = false;
      input.tabIndex = -1;
      pick.addEventListener("click", function () { input.click(); });
      zone.addEventListener("click", function (event) {
        if (event.target.closest("button, a, label, input, summary")) { return; }
        input.click();
      });
    }
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function (event) {
        event.preventDefault();
        zone.classList.add("is-dragover");
      });
    });
    zone.addEventListener("dragleave", function (event) {
      if (!zone.contains(event.relatedTarget)) { zone.classList.remove("is-dragover"); }
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("is-dragover");
      addAll(event.dataTransfer && event.dataTransfer.files);
    });
  }

  if (!supported()) { return; }
  htmx.onLoad(function (root) {
    var forms = root.matches && root.matches("[data-upload-form]") ? [root] : [];
    forms = forms.concat(Array.prototype.slice.call(root.querySelectorAll ? root.querySelectorAll("[data-upload-form]") : []));
    forms.forEach(enhance);
  });
})();
