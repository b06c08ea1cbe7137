// Light progressive enhancement: the live unread badge, conversation list, message statuses,
// new messages and internal notes in an open conversation and @mention notices (server-sent
// events), earlier messages as staff scroll up, the composer (counter, draft, Ctrl/Cmd+Enter),
// the folding menu, tables as cards on a phone, and the automated messages editor (variable
// picker, live preview).
(function () {
  "use strict";

  function connectLive() {
    if (!document.body.dataset.live || !window.EventSource) return;
    var source = new EventSource("/app/events");
    source.addEventListener("unread.changed", function (e) {
      // The stream's first event comes once it has subscribed: from now on nothing slips by.
      document.body.dataset.liveReady = "1";
      // With the conversation list on the page, the badge changes with the list's folder
      // counts, both from one answer; elsewhere at once.
      if (refreshList()) return;
      if (document.body.dataset.badge === "mine") showOwnBadge();
      else showUnread(JSON.parse(e.data).unread);
    });
    source.addEventListener("conversation.assigned", function (e) {
      var data = JSON.parse(e.data);
      var me = Number(document.body.dataset.staffId);
      if (data.assignee_id === me && data.by_staff_id !== me) showAssigned(data);
      if (!refreshList() && document.body.dataset.badge === "mine") showOwnBadge();
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
      appendNewMessages(data.conversation_id);
      refreshList();
      if (data.direction === "inbound") notifyOfText(data);
    });
    source.addEventListener("presence", function (e) { heardPresence(JSON.parse(e.data)); });
    // A colleague's internal note in the open thread; a note naming this staff member
    // (the stream is the business's: each page keeps only its own mentions).
    source.addEventListener("note.created", function (e) {
      appendNewMessages(JSON.parse(e.data).conversation_id);
    });
    source.addEventListener("note.mentioned", function (e) {
      var data = JSON.parse(e.data);
      if (Number(document.body.dataset.staffId) === data.staff_id) showMention(data);
    });
    source.addEventListener("consent.changed", function (e) {
      var data = JSON.parse(e.data);
      var open = document.querySelector("article.conversation");
      if (open && Number(open.dataset.conversationId) === data.conversation_id) {
        window.location.reload(); // the composer's lock and its wording come from the server
      }
    });
  }

  // Colleagues on the open conversation: each page says it is there every 10 s and while
  // its text box is typed in; what others said shows until its time runs out.
  var present = {}; // staff id -> {name, typing, until, conversation}
  function openConversationId() {
    var open = document.querySelector("article.conversation");
    return open ? Number(open.dataset.conversationId) : null;
  }
  function sayPresent(typing) {
    var id = openConversationId();
    if (id === null || document.hidden) return;
    fetch("/app/presence/" + id, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ typing: Boolean(typing) })
    }).catch(function () {});
  }
  function heardPresence(data) {
    if (String(data.staff_id) === document.body.dataset.staffId) return;
    present[data.staff_id] = {
      name: data.name, typing: data.typing, conversation: data.conversation_id,
      until: Date.now() + data.seconds * 1000
    };
    showPresence();
    setTimeout(showPresence, data.seconds * 1000 + 50);
  }
  function showPresence() {
    var line = document.getElementById("presence");
    if (!line) return;
    var id = openConversationId(), now = Date.now(), typing = [], viewing = [];
    Object.keys(present).forEach(function (staff) {
      var p = present[staff];
      if (p.until <= now || p.conversation !== id) return;
      (p.typing ? typing : viewing).push(p.name);
    });
    var said = [];
    if (typing.length) said.push(typing.join(", ") + (typing.length > 1 ? " are" : " is") + " typing…");
    if (viewing.length) said.push(viewing.join(", ") + (viewing.length > 1 ? " are" : " is") + " viewing this conversation");
    line.textContent = said.join(" · ");
  }
  function connectPresence() {
    if (!document.body.dataset.live) return;
    var typingSince = null, stopTimer = null;
    sayPresent(false);
    setInterval(function () { sayPresent(typingSince !== null); showPresence(); }, 10000);
    document.addEventListener("input", function (e) {
      if (!e.target || e.target.id !== "body") return;
      if (typingSince === null || Date.now() - typingSince > 3000) {
        typingSince = Date.now();
        sayPresent(true);
      }
      clearTimeout(stopTimer);
      stopTimer = setTimeout(function () { typingSince = null; sayPresent(false); }, 4000);
    });
    document.addEventListener("conversation:shown", function () { sayPresent(false); showPresence(); });
  }

  // Browser notifications of new texts, switched on per browser (its own permission): the
  // server says which texts to show and what they say; the conversation open and in view is
  // not announced again.
  // Per staff member signed in here: a colleague on the same computer chooses for themself.
  var NOTIFY_KEY = "notify-new-texts:" + (document.body ? document.body.dataset.staffId : "");
  function notifying() {
    return window.Notification && Notification.permission === "granted" &&
      window.localStorage && localStorage.getItem(NOTIFY_KEY) === "on";
  }
  function notifyOfText(data) {
    if (!notifying()) return;
    if (!document.hidden && openConversationId() === data.conversation_id) return;
    fetch("/app/notices/" + data.message_id, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : { show: false }; })
      .then(function (notice) {
        if (!notice.show) return;
        var shown = new Notification(notice.title, { body: notice.body, tag: notice.tag });
        shown.onclick = function () { window.focus(); location.href = notice.url; };
      })
      .catch(function () {});
  }
  function connectNotifyToggle() {
    var toggle = document.getElementById("notify-toggle");
    if (!toggle || !window.Notification || !window.localStorage) return;
    function show() {
      var on = notifying();
      toggle.setAttribute("aria-pressed", on ? "true" : "false");
      toggle.textContent = on ? "Notifications on" : "Notify me of new texts";
      toggle.hidden = Notification.permission === "denied" && !on;
    }
    toggle.addEventListener("click", function () {
      if (notifying()) { localStorage.removeItem(NOTIFY_KEY); show(); return; }
      Notification.requestPermission().then(function (answer) {
        if (answer === "granted") localStorage.setItem(NOTIFY_KEY, "on");
        show();
      });
    });
    show();
  }

  // "Casey mentioned you in a note", with a link to it, until dismissed.
  function showMention(data) {
    var shown = document.getElementById("mention-notice");
    if (shown) shown.remove();
    var notice = document.createElement("div");
    notice.id = "mention-notice";
    notice.className = "mention-notice";
    notice.setAttribute("role", "status");
    var text = document.createElement("p");
    text.textContent = data.author + " mentioned you in a note: \u201c" + data.preview + "\u201d";
    var link = document.createElement("a");
    link.href = "/conversations/" + data.conversation_id + "#note-" + data.note_id;
    link.textContent = "Open the conversation";
    var close = document.createElement("button");
    close.type = "button";
    close.className = "secondary";
    close.textContent = "Dismiss";
    close.addEventListener("click", function () { notice.remove(); });
    notice.append(text, link, " ", close);
    document.body.appendChild(notice);
  }

  // The newest message the thread shows (notes are items of the thread too).
  function newestMessage(thread) {
    var all = thread ? thread.querySelectorAll("li.msg") : [];
    return all.length ? all[all.length - 1] : null;
  }

  var words = {
    queued: "Queued", sent: "Sent", delivered: "Delivered", read: "Read",
    undelivered: "Not delivered", failed: "Failed", canceled: "Canceled"
  };

  // The open thread's new messages, appended below the newest shown (the messages loaded
  // by scrolling up stay). A search result's older part of the thread stays that part.
  var appending = null;
  function appendNewMessages(conversationId) {
    var thread = document.getElementById("thread");
    if (!thread || Number(thread.dataset.conversationId) !== conversationId) return;
    if (document.getElementById("older-part")) return;
    if (appending) { appending.again = true; return; }
    var last = newestMessage(thread);
    var after = last ? "?after=" + last.dataset.messageId : "";
    var scroller = document.getElementById("thread-scroll");
    var atBottom = scroller && scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
    appending = { again: false };
    fetchThread(conversationId, after).then(function (fresh) {
      var again = appending.again;
      appending = null;
      if (fresh) {
        var news = [];
        fresh.querySelectorAll("li.msg, li.staff-note").forEach(function (item) {
          var shown = document.getElementById(item.id);
          if (shown) shown.replaceWith(item); else thread.appendChild(item);
          var body = item.querySelector(".bubble p");
          if (!shown && item.classList.contains("inbound") && body) news.push(body.textContent);
        });
        // Said to screen readers too: a new text from the client.
        var region = document.getElementById("thread-news");
        if (region && news.length) region.textContent = "New text: " + news.join(" · ");
        if (atBottom && scroller) scroller.scrollTop = scroller.scrollHeight;
        markRead(); // what was just shown has been seen
      }
      if (again) appendNewMessages(conversationId);
    });
  }

  function fetchThread(conversationId, query) {
    return fetch("/conversations/" + conversationId + "/thread" + query, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return null;
        var holder = document.createElement("div");
        holder.innerHTML = html;
        return holder.querySelector("#thread");
      })
      .catch(function () { return null; });
  }

  // Earlier messages load as staff scroll up (or follow the Earlier messages link), a page
  // at a time from the oldest shown: the same cursor as the API's `before`.
  function connectEarlier() {
    var thread = document.getElementById("thread");
    var scroller = document.getElementById("thread-scroll");
    var earlier = document.getElementById("earlier");
    var link = document.getElementById("earlier-link");
    if (!thread || !scroller || !earlier || !link) return;
    var loading = false;
    function loadEarlier() {
      var before = thread.dataset.before;
      if (loading || !before) return;
      loading = true;
      earlier.setAttribute("aria-busy", "true");
      fetchThread(thread.dataset.conversationId, "?before=" + before).then(function (older) {
        loading = false;
        earlier.removeAttribute("aria-busy");
        if (!older) return;
        var height = scroller.scrollHeight, top = scroller.scrollTop;
        var first = thread.firstElementChild;
        older.querySelectorAll("li.msg, li.staff-note").forEach(function (item) {
          if (!document.getElementById(item.id)) thread.insertBefore(item, first);
        });
        scroller.scrollTop = top + (scroller.scrollHeight - height); // stay where staff were
        thread.dataset.before = older.dataset.before;
        if (older.dataset.before) link.href = "?before=" + older.dataset.before;
        earlier.hidden = !older.dataset.before;
        thread.dispatchEvent(new CustomEvent("earlier-loaded"));
      });
    }
    link.addEventListener("click", function (e) { e.preventDefault(); loadEarlier(); });
    scroller.addEventListener("scroll", function () {
      if (scroller.scrollTop < 200) loadEarlier();
    }, { passive: true });
  }

  // The conversation list follows the inbox live: new conversations appear, the order
  // follows the newest texts, the folder counts and the badge change together (one answer).
  var listing = null;
  function refreshList() {
    var part = document.getElementById("conversation-list-part");
    if (!part) return false;
    if (listing) { listing.again = true; return true; }
    listing = { again: false };
    var open = document.querySelector("article.conversation");
    var url = "/inbox/list?" + part.dataset.listQuery +
      (open ? "&open_id=" + open.dataset.conversationId : "");
    fetch(url, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        var again = listing.again;
        listing = null;
        if (html) {
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#conversation-list-part");
          var shown = document.getElementById("conversation-list-part");
          if (fresh && shown) {
            shown.replaceWith(fresh);
            showUnread(Number(fresh.dataset.unread));
          }
        }
        if (again) refreshList();
      })
      .catch(function () { listing = null; });
    return true;
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

  // A badge that counts only the staff member's conversations asks for its own count.
  function showOwnBadge() {
    fetch("/app/badge", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) showUnread(data.unread); })
      .catch(function () {});
  }

  // A colleague assigned a conversation to this staff member: a notice on whatever page
  // they have open, with the way to it.
  function showAssigned(data) {
    var main = document.getElementById("main");
    if (!main) return;
    var notice = document.createElement("p");
    notice.className = "flash note assigned-notice";
    notice.setAttribute("role", "status");
    notice.dataset.assignedConversation = String(data.conversation_id);
    notice.appendChild(document.createTextNode(
      (data.by_name || "Someone") + " assigned you a conversation. "));
    var link = document.createElement("a");
    link.href = "/conversations/" + data.conversation_id;
    link.textContent = "Open it";
    notice.appendChild(link);
    main.insertBefore(notice, main.firstChild);
  }

  // The assignee changes (server-rendered after the thread) move in among the messages of
  // their time, so the thread reads in time order.
  function placeEventLines() {
    var thread = document.getElementById("thread");
    var events = document.getElementById("conversation-events");
    if (!thread || !events) return;
    var messages = Array.prototype.slice.call(thread.querySelectorAll("li.msg"));
    Array.prototype.slice.call(events.querySelectorAll("li.event-line")).forEach(function (line) {
      var at = Date.parse(line.querySelector("time").getAttribute("datetime"));
      var first = messages.length ? Date.parse(messages[0].querySelector("time").getAttribute("datetime")) : 0;
      if (at < first) return; // older than the part of the thread shown: stays out of it
      var later = null;
      for (var i = 0; i < messages.length; i++) {
        if (Date.parse(messages[i].querySelector("time").getAttribute("datetime")) > at) { later = messages[i]; break; }
      }
      // Newer than every message: it stays below the thread (the thread's last item is
      // always a message, which the live refresh and the composer read).
      if (later) thread.insertBefore(line, later);
    });
  }

  function showUnread(unread) {
    var badge = document.getElementById("unread-badge");
    if (!badge || typeof unread !== "number") return;
    badge.textContent = String(unread);
    badge.classList.toggle("zero", unread === 0);
    badge.parentElement.setAttribute("aria-label", "Messages: " + unread + " unread");
  }

  // The counter's words for a count from the server (/app/segments, or an automated
  // message's preview); the same words the automated messages page renders on load. The
  // composer's counter speaks plainly, with the segments and encoding in its details.
  function showCount(counter, c) {
    var over = c.length > c.limit;
    var technical = c.length + " characters · " + c.segments + " segment" +
      (c.segments === 1 ? "" : "s") + " · " + c.encoding + " · " + c.units + " unit" +
      (c.units === 1 ? "" : "s");
    var because = c.encoding === "UCS-2" && c.unicode_characters.length
      ? " (because of " + c.unicode_characters.join(" ") + ")" : "";
    var limit = over ? " · over the " + c.limit + "-character limit" : "";
    var details = document.getElementById("counter-details");
    if (details && counter.id === "counter") {
      details.textContent = technical + because + limit;
      var allowance = counter.dataset.allowance;
      counter.textContent = (c.segments === 1 ? "1 text" : c.segments + " texts, joined on the phone") +
        (allowance ? " · uses " + c.units + " of your " + allowance + " this month" : "") +
        (because ? (c.segments > 1 ? " · longer" + because
          : " · " + c.unicode_characters.join(" ") + " lets 70 characters fit in a text, not 160") : "") +
        limit;
    } else {
      counter.textContent = technical + because + limit;
    }
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
    connectDraft(body);
    connectSavedReplies(body);
    update();
  }

  // A draft survives moving to another conversation and back (per conversation, for this
  // tab); Ctrl/Cmd+Enter sends; after a send the text box has the focus again. A refused
  // send keeps its draft (the page comes back with the error and the text).
  function connectDraft(body) {
    var form = document.getElementById("composer");
    var send = document.getElementById("send");
    if (!form || !window.sessionStorage) return;
    var key = "draft:" + form.dataset.conversationId;
    var sent = sessionStorage.getItem("sent:" + form.dataset.conversationId);
    sessionStorage.removeItem("sent:" + form.dataset.conversationId);
    var refused = document.querySelector(
      "article.conversation > p.error[role=alert], p.flash.error[role=alert]"
    );
    if (sent !== null && !refused) sessionStorage.removeItem(key);
    var draft = sessionStorage.getItem(key);
    if (draft && !body.disabled && !body.value) body.value = draft;
    if (sent !== null && !body.disabled) body.focus();
    body.addEventListener("input", function () {
      if (body.value) sessionStorage.setItem(key, body.value);
      else sessionStorage.removeItem(key);
    });
    body.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) {
        e.preventDefault();
        // Not waiting for the counter's answer (the send button waits for it): the server
        // refuses what the counter would have, with the same words.
        var refusal = document.getElementById("content-refused");
        var counter = document.getElementById("counter");
        var blocked = (refusal && !refusal.hidden) || (counter && counter.classList.contains("over"));
        if (send && !body.disabled && body.value.trim() !== "" && !blocked) form.requestSubmit(send);
      }
    });
    form.addEventListener("submit", function () {
      sessionStorage.setItem("sent:" + form.dataset.conversationId, "1");
      // What staff have on screen now, new texts shown live included: a text someone sent
      // after it stops this one (the server shows it and keeps the draft).
      var seen = document.getElementById("last-seen");
      var newest = newestMessage(document.getElementById("thread"));
      if (seen && newest) seen.value = newest.dataset.messageId;
    });
  }

  // Saved replies in the composer: "/" and a name's first letters (or the button) list them,
  // filled in for this client by the server; arrows choose, Enter or Tab (or a click) puts
  // the text in place of "/name", Escape closes. One the client's profile cannot fill says why.
  function connectSavedReplies(body) {
    var box = document.getElementById("saved-replies");
    var list = document.getElementById("saved-reply-list");
    var button = document.getElementById("saved-replies-button");
    var problem = document.getElementById("saved-reply-problem");
    if (!box || !list || !button) return;
    var replies = null, shown = [], active = 0, from = null; // from: where "/name" starts

    function load() {
      if (replies) return Promise.resolve(replies);
      return fetch(box.dataset.url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : { items: [] }; })
        .then(function (data) { replies = data.items; return replies; });
    }
    function close() {
      list.hidden = true; from = null;
      button.setAttribute("aria-expanded", "false");
      body.removeAttribute("aria-activedescendant");
    }
    function show(prefix) {
      load().then(function (all) {
        shown = all.filter(function (r) { return r.name.indexOf(prefix) === 0; });
        list.innerHTML = "";
        if (!shown.length) {
          var none = document.createElement("li");
          none.className = "muted";
          none.textContent = all.length ? "No saved reply starts with that." : "No saved replies yet (Settings → Saved replies).";
          list.appendChild(none);
        }
        shown.forEach(function (r, i) {
          var item = document.createElement("li");
          item.id = "saved-reply-option-" + r.name;
          item.setAttribute("role", "option");
          item.dataset.name = r.name;
          var name = document.createElement("strong");
          name.textContent = "/" + r.name;
          var text = document.createElement("span");
          text.textContent = " " + (r.text || r.problem);
          item.appendChild(name); item.appendChild(text);
          if (r.problem) item.setAttribute("aria-disabled", "true");
          item.addEventListener("mousedown", function (e) { e.preventDefault(); insert(i); });
          list.appendChild(item);
        });
        active = 0; mark();
        list.hidden = false;
        button.setAttribute("aria-expanded", "true");
      });
    }
    function mark() {
      list.querySelectorAll("[role=option]").forEach(function (item, i) {
        item.setAttribute("aria-selected", i === active ? "true" : "false");
        if (i === active) body.setAttribute("aria-activedescendant", item.id);
      });
    }
    function insert(i) {
      var reply = shown[i];
      if (!reply) return;
      if (reply.problem) { problem.textContent = reply.problem; problem.hidden = false; return; }
      problem.hidden = true;
      var end = body.selectionStart;
      var start = from === null ? end : from;
      body.value = body.value.slice(0, start) + reply.text + body.value.slice(end);
      body.selectionStart = body.selectionEnd = start + reply.text.length;
      close();
      body.focus();
      body.dispatchEvent(new Event("input", { bubbles: true })); // the counter and the draft
    }
    body.addEventListener("input", function () {
      var before = body.value.slice(0, body.selectionStart);
      var typed = /(?:^|\s)\/([a-z0-9-]*)$/.exec(before);
      if (typed) { from = before.length - typed[1].length - 1; show(typed[1]); }
      else if (from !== null) close();
    });
    body.addEventListener("keydown", function (e) {
      if (list.hidden || e.ctrlKey || e.metaKey) return;
      if (e.key === "ArrowDown" || e.key === "ArrowUp") {
        e.preventDefault();
        var step = e.key === "ArrowDown" ? 1 : -1;
        active = Math.max(0, Math.min(shown.length - 1, active + step)); mark();
      } else if ((e.key === "Enter" || e.key === "Tab") && shown.length) {
        e.preventDefault(); insert(active);
      } else if (e.key === "Escape") {
        e.preventDefault(); close();
      }
    });
    button.addEventListener("click", function () {
      if (!list.hidden) { close(); return; }
      from = null; show(""); body.focus();
    });
    body.addEventListener("blur", function () { setTimeout(function () { if (document.activeElement !== button) close(); }, 150); });
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

  // Below 1,024 px the main menu folds behind a button.
  function connectMenu() {
    var button = document.getElementById("menu-button");
    var menu = document.getElementById("main-menu");
    if (!button || !menu) return;
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", String(open));
      menu.classList.toggle("open", open);
    });
  }

  // On a narrow screen tables show as cards: each cell is labelled with its column's
  // heading (data-label, which the style sheet shows before it).
  function labelTableCells() {
    document.querySelectorAll("table.report").forEach(function (table) {
      var heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) {
        return th.textContent.trim();
      });
      table.querySelectorAll("tbody tr").forEach(function (row) {
        Array.prototype.forEach.call(row.children, function (cell, i) {
          if (heads[i] && !cell.dataset.label) cell.dataset.label = heads[i];
        });
      });
    });
  }

  // From 1,024 px the list stays while another conversation opens beside it: the page's
  // conversation and client panel are swapped for the new page's, and its address pushed,
  // so back and forward (popstate) swap them again. Anything unexpected loads the page.
  var wide = window.matchMedia ? window.matchMedia("(min-width: 1024px)") : null;
  function connectSwitching() {
    var list = document.querySelector(".conversation-open .list-pane");
    if (!list || !wide || !window.history.pushState || !window.DOMParser) return;
    history.replaceState({ conversation: true }, "", location.href);
    list.addEventListener("click", function (e) {
      var link = e.target.closest("#conversation-list a");
      if (!link || !wide.matches || e.ctrlKey || e.metaKey || e.shiftKey || e.altKey || e.button) return;
      e.preventDefault();
      openConversation(link.href, true);
    });
    window.addEventListener("popstate", function (e) {
      if (e.state && e.state.conversation) openConversation(location.href, false);
    });
  }

  function openConversation(url, push) {
    fetch(url, { credentials: "same-origin" })
      .then(function (r) {
        if (!r.ok || r.redirected) throw new Error("not a conversation");
        return r.text();
      })
      .then(function (html) {
        var page = new DOMParser().parseFromString(html, "text/html");
        var article = page.querySelector("article.conversation");
        var panel = page.getElementById("client-panel");
        var shown = document.querySelector("article.conversation");
        var shownPanel = document.getElementById("client-panel");
        if (!article || !panel || !shown || !shownPanel) throw new Error("not a conversation");
        shown.replaceWith(document.adoptNode(article));
        shownPanel.replaceWith(document.adoptNode(panel));
        document.title = page.title;
        if (push) history.pushState({ conversation: true }, "", url);
        var id = article.dataset.conversationId;
        document.querySelectorAll("#conversation-list li").forEach(function (item) {
          var open = item.dataset.conversationId === id;
          item.classList.toggle("open", open);
          var link = item.querySelector("a");
          if (open) link.setAttribute("aria-current", "true"); else link.removeAttribute("aria-current");
        });
        showThread();
        document.dispatchEvent(new Event("conversation:shown"));
      })
      .catch(function () { location.href = url; });
  }

  // The list beside a conversation is the one staff came from (its folder, search, dates
  // and page, kept for this tab): the conversation's own page renders the whole inbox.
  function keepListState() {
    var part = document.getElementById("conversation-list-part");
    if (!part || !window.sessionStorage) return;
    if (!document.querySelector("article.conversation")) {
      sessionStorage.setItem("inbox-list", part.dataset.listQuery);
      return;
    }
    var kept = sessionStorage.getItem("inbox-list");
    var back = document.getElementById("back-to-list");
    var filters = document.getElementById("list-filters");
    if (!kept || kept === part.dataset.listQuery) return;
    if (back) back.href = "/inbox?" + kept;
    if (filters) filters.href = "/inbox?" + kept;
    part.dataset.listQuery = kept;
    refreshList();
  }

  // A conversation as it opens: its composer, its earlier pages, read, at its newest message
  // (or a search result's).
  function showThread() {
    placeEventLines();
    connectCounter();
    connectEarlier();
    markRead();
    var thread = document.getElementById("thread");
    var scroller = document.getElementById("thread-scroll");
    var found = thread && thread.querySelector(".msg.found");
    if (found) found.scrollIntoView({ block: "center" });
    else if (scroller) scroller.scrollTop = scroller.scrollHeight;
  }

  document.addEventListener("DOMContentLoaded", function () {
    applySizes();
    connectMenu();
    labelTableCells();
    connectLive();
    connectPresence();
    connectNotifyToggle();
    var print = document.getElementById("print-page"); // a conversation's printable page
    if (print) print.addEventListener("click", function () { window.print(); });
    connectPhoneCheck();
    connectTemplateEditors();
    connectSwitching();
    keepListState();
    showThread();
    var open = document.querySelector(".conversations li.open");
    if (open && open.scrollIntoView) open.scrollIntoView({ block: "nearest" });
  });
})();
