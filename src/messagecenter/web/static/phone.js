// The simulated client phone, live: texts the business sends and status reports appear
// without reloading. Each event about a message fetches the phone's thread again (the
// server's own rendering); a refresh asked for while one runs is done once it ends.
(function () {
  "use strict";

  function connect() {
    var live = document.getElementById("phone-live");
    if (!live || !live.dataset.number || !window.EventSource) return;
    var url = "/phone/thread?number=" + encodeURIComponent(live.dataset.number);
    var running = false, again = false;

    function refresh() {
      if (running) { again = true; return; }
      running = true;
      fetch(url, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) return;
          var holder = document.createElement("div");
          holder.innerHTML = html;
          var fresh = holder.querySelector("#phone-thread");
          var thread = document.getElementById("phone-thread");
          if (fresh && thread) thread.replaceWith(fresh);
        })
        .catch(function () {}) // offline: the next event or a reload shows it
        .then(function () {
          running = false;
          if (again) { again = false; refresh(); }
        });
    }

    var source = new EventSource("/app/events");
    source.addEventListener("message.created", refresh);
    source.addEventListener("message.status", refresh);
    source.addEventListener("open", function () { live.dataset.connected = "1"; });
  }

  document.addEventListener("DOMContentLoaded", connect);
})();
