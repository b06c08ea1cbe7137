// Light progressive enhancement: the live unread badge, live message statuses and new
// messages in an open conversation (server-sent events), the composer's counter, and the
// automated messages editor (variable picker, live preview).
(function () {
  "use strict";

  function connectLive() {
    if (!document.body.dataset.live || !window.EventSource) return;
    var source = new EventSource("/app/events");
    source.addEventListener("unread.changed", function (e) {
      showUnread(JSON.parse(e.data).unread);
    });
    source.addEventListener("message.status", function (e) {
      var data = JSON.parse(e.data);
      var item = document.querySelector('[data-message-id="' + data.message_id + '"]');
      if (!item) return;
      var status = item.querySelector(".status");
      if (status) {
        status.dataset.status = data.status;
        status.className = "status status-" + data.status;
        status.textContent = words[data.status] || data.status;
      }
      var reason = item.querySelector(".reason");
      if (reason) reason.textContent = data.error_message || "";
    });
    source.addEventListener("message.created", function (e) {
      var data = JSON.parse(e.data);
      refreshThread(data.conversation_id);
    });
    source.addEventListener("consent.changed", function (e) {
      var data = JSON.parse(e.data);
      var open = document.querySelector("article.conversation");
      if (open && Number(open.dataset.conversationId) === data.conversation_id) {
        window.location.reload(); // the composer's lock and its wording come from the server
      }
    });
  }

  var words = {
    queued: "Queued", sent: "Sent", delivered: "Delivered", read: "Read",
    undelivered: "Not delivered", failed: "Failed", canceled: "Canceled"
  };

  function refreshThread(conversationId) {
    var thread = document.getElementById("thread");
    if (!thread || Number(thread.dataset.conversationId) !== conversationId) return;
    // A search result's part of the thread stays that part (around its message).
    var around = thread.dataset.around ? "?around=" + thread.dataset.around : "";
    fetch("/conversations/" + conversationId + "/thread" + around, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var fresh = holder.querySelector("#thread");
        if (!fresh) return;
        thread.replaceWith(fresh);
        markRead(); // what was just shown has been seen
      });
  }

  // Opening a conversation is reading it: the page says so with a POST (a GET changes
  // nothing), once shown and after each live refresh. The answer is the new unread badge;
  // keepalive lets it finish when the staff member moves on at once.
  function markRead() {
    var open = document.querySelector("article.conversation");
    if (!open || !window.fetch) return;
    fetch("/conversations/" + open.dataset.conversationId + "/read", {
      method: "POST",
      credentials: "same-origin",
      keepalive: true,
      body: new URLSearchParams({ csrf: open.dataset.csrf })
    })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) showUnread(data.unread); })
      .catch(function () {}); // offline: the next open or refresh says it again
  }

  function showUnread(unread) {
    var badge = document.getElementById("unread-badge");
    if (!badge || typeof unread !== "number") return;
    badge.textContent = String(unread);
    badge.classList.toggle("zero", unread === 0);
    badge.parentElement.setAttribute("aria-label", "Messages: " + unread + " unread");
  }

  // The counter's words for a count from the server (/app/segments, or an automated
  // message's preview); the same words the automated messages page renders on load.
  function showCount(counter, c) {
    var over = c.length > c.limit;
    counter.textContent = c.length + " characters · " + c.segments + " segment" +
      (c.segments === 1 ? "" : "s") + " · " + c.encoding + " · " + c.units + " unit" +
      (c.units === 1 ? "" : "s") +
      (c.encoding === "UCS-2" && c.unicode_characters.length
        ? " (because of " + c.unicode_characters.join(" ") + ")" : "") +
      (over ? " · over the " + c.limit + "-character limit" : "");
    counter.dataset.segments = String(c.segments);
    counter.dataset.encoding = c.encoding;
    counter.classList.toggle("over", over);
    return over;
  }

  function connectCounter() {
    var body = document.getElementById("body");
    var counter = document.getElementById("counter");
    var send = document.getElementById("send");
    if (!body || !counter) return;
    var timer = null;
    var asked = 0;
    function update() {
      var mine = ++asked;
      fetch("/app/segments", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ body: body.value })
      })
        .then(function (r) { return r.json(); })
        .then(function (c) {
          if (mine !== asked) return; // a newer count is on its way
          var over = showCount(counter, c);
          // An acceptable-use rule the text breaks: said as staff type (the send would be
          // refused with the same words).
          var refusal = document.getElementById("content-refused");
          if (refusal) {
            refusal.hidden = !c.refused;
            refusal.textContent = c.refused ? c.refused.reason + " " : "";
            if (c.refused) {
              var link = document.createElement("a");
              link.href = c.refused.policy;
              link.rel = "noopener";
              link.textContent = "The policy";
              refusal.appendChild(link);
            }
          }
          if (send && !body.disabled) {
            send.disabled = over || Boolean(c.refused) || body.value.trim() === "";
          }
        });
    }
    body.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(update, 80);
    });
    update();
  }

  // Settings → Automated messages: each template's variable picker inserts "[Name]" at the
  // cursor, and its preview and counter follow the text (rendered by the server with the
  // same sample data as on load, so page and sends agree).
  function connectTemplateEditors() {
    document.querySelectorAll("[data-template-editor]").forEach(function (card) {
      var body = card.querySelector("[data-template-body]");
      var preview = card.querySelector("[data-preview]");
      var error = card.querySelector("[data-preview-error]");
      var counter = card.querySelector("[data-counter]");
      var warning = card.querySelector("[data-ucs2-warning]");
      if (!body) return;
      var url = "/app/automated-messages/" + encodeURIComponent(card.dataset.templateEditor) + "/preview";
      var timer = null;
      var asked = 0;
      function update() {
        var mine = ++asked;
        fetch(url, {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ body: body.value })
        })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (p) {
            if (!p || mine !== asked) return; // a newer preview is on its way
            preview.textContent = p.preview;
            error.textContent = p.error;
            error.hidden = !p.error;
            showCount(counter, p.count);
            warning.hidden = p.ucs2_from_values.length === 0;
            warning.textContent = "A variable's value (" + p.ucs2_from_values.join(" ") +
              ") switches this text to UCS-2: each segment holds 70 characters instead of 160, " +
              "so longer texts split into more segments.";
          });
      }
      body.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(update, 150);
      });
      card.querySelectorAll("[data-insert-variable]").forEach(function (button) {
        button.addEventListener("click", function () {
          var text = "[" + button.dataset.insertVariable + "]";
          var start = body.selectionStart, end = body.selectionEnd;
          body.setRangeText(text, start, end, "end");
          body.focus();
          body.dispatchEvent(new Event("input", { bubbles: true }));
        });
      });
    });
  }

  // The client profile checks the cell phone as it is typed, with the server's own rule.
  function connectPhoneCheck() {
    var input = document.getElementById("cell_phone");
    var hint = document.getElementById("cell-phone-check");
    if (!input || !hint) return;
    var timer = null;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () {
        fetch("/app/check-cell-phone?phone=" + encodeURIComponent(input.value), { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (c) {
            hint.textContent = c.message;
            hint.classList.toggle("bad", !c.ok);
            if (c.ok) input.removeAttribute("aria-invalid"); else input.setAttribute("aria-invalid", "true");
          });
      }, 200);
    });
  }

  // Meters and chart bars carry their size as data: the Content-Security-Policy allows no
  // inline style attributes, and sizes set from script are not inline markup.
  function applySizes() {
    document.querySelectorAll("[data-width]").forEach(function (el) {
      el.style.width = Number(el.dataset.width) + "%";
    });
    document.querySelectorAll("[data-height]").forEach(function (el) {
      el.style.height = Number(el.dataset.height) + "%";
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    applySizes();
    connectLive();
    connectCounter();
    connectPhoneCheck();
    connectTemplateEditors();
    markRead();
    var thread = document.getElementById("thread");
    var found = thread && thread.querySelector(".msg.found");
    if (found) found.scrollIntoView({ block: "center" }); // a search result's message
    else if (thread) thread.scrollTop = thread.scrollHeight;
  });
})();
