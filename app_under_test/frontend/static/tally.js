// Exodus 2045 projector: follow /api/tally/stream and redraw the tally and the newest wishes.
// Text only: every value goes in through textContent, never innerHTML, so a wish that holds
// markup shows as the characters it is. Served as a file: the page's CSP allows no inline script.
"use strict";
(function () {
  var STREAM = "/api/tally/stream";
  var FALLBACK_MS = 10000;  // refused (a full gate): the page refreshes itself instead
  var key = new URLSearchParams(window.location.search).get("projector");
  if (key) { STREAM += "?projector=" + encodeURIComponent(key); }
  var refused = 0;
  var NAMES = { mars: "Mars", jupiter: "Europa, Jupiter" };
  var status = document.getElementById("live-status");
  var list = document.getElementById("wishes");
  if (!window.EventSource || !status || !list) { return; }

  function setText(id, text) {
    var node = document.getElementById(id);
    if (node) { node.textContent = String(text); }
  }

  function when(epoch) {
    if (typeof epoch !== "number") { return ""; }
    return new Date(epoch * 1000).toISOString().slice(11, 19) + " UTC";
  }

  function item(wish) {
    var dest = String(wish.destination || "");
    var li = document.createElement("li");
    li.className = "wish wish-" + (NAMES.hasOwnProperty(dest) ? dest : "other");
    var message = document.createElement("p");
    message.className = "message";
    var text = document.createElement("bdi");  // isolated: no wish's direction leaks out
    text.textContent = String(wish.message || "");
    message.appendChild(text);
    var by = document.createElement("p");
    by.className = "by";
    var name = document.createElement("bdi");
    name.textContent = String(wish.evacuee || "");
    by.appendChild(name);
    by.appendChild(document.createTextNode(" · " + (NAMES[dest] || dest) + " · "));
    var time = document.createElement("time");
    time.textContent = when(wish.stored_at);
    by.appendChild(time);
    li.appendChild(message);
    li.appendChild(by);
    return li;
  }

  function render(snap) {
    var tally = snap.tally || {};
    var total = Number(snap.total) || 0;
    Object.keys(NAMES).forEach(function (dest) {
      var n = Number(tally[dest]) || 0;
      var share = total ? Math.round(100 * n / total) + "%" : "–";
      setText("count-" + dest, n);
      setText("share-" + dest, share);
      var bar = document.getElementById("bar-" + dest);
      if (bar) { bar.max = Math.max(total, 1); bar.value = n; bar.textContent = share; }
    });
    setText("count-total", total);
    var fresh = document.createDocumentFragment();
    (snap.wishes || []).forEach(function (wish) { fresh.appendChild(item(wish)); });
    if (!fresh.childNodes.length) {
      var empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = "No wishes yet.";
      fresh.appendChild(empty);
    }
    list.replaceChildren(fresh);
  }

  function connect() {
    var source = new EventSource(STREAM);
    source.addEventListener("tally", function (event) {
      refused = 0;
      try { render(JSON.parse(event.data)); } catch (err) { return; }
      status.textContent = "live";
      status.className = "live on";
    });
    source.onerror = function () {
      status.textContent = "reconnecting…";
      status.className = "live off";
      if (source.readyState === EventSource.CLOSED) {  // refused (full, or down)
        refused += 1;
        if (refused >= 2) {  // fall back to the server-rendered page, fresh every 10 s
          status.textContent = "not live: refreshes every 10 s";
          window.setTimeout(function () { window.location.reload(); }, FALLBACK_MS);
          return;
        }
        window.setTimeout(connect, 5000 + Math.floor(Math.random() * 5000));
      }
    };
  }

  connect();
})();
