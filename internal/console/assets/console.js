// Live updates for the console: the page listens to /live (Server-Sent Events) and, on each
// change, fetches itself again and swaps its <main> in, without reloading. Without JavaScript
// the pages are the same, only still.
(function () {
  "use strict";
  var dot = document.getElementById("live");
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.href, { headers: { "X-Console-Live": "1" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) return;
        var next = new DOMParser().parseFromString(html, "text/html").getElementById("content");
        var main = document.getElementById("content");
        // Leave a form being filled in alone.
        if (next && main && !main.contains(document.activeElement && document.activeElement.form ? document.activeElement : null)) {
          main.innerHTML = next.innerHTML;
          document.body.dataset.refreshed = String(Number(document.body.dataset.refreshed || 0) + 1);
        }
      })
      .catch(function () {})
      .then(function () { busy = false; if (again) { again = false; refresh(); } });
  }
  if (!window.EventSource || document.body.dataset.page === "login") return;
  var es = new EventSource("/live");
  es.onopen = function () { if (dot) dot.className = "live on"; };
  es.onerror = function () { if (dot) dot.className = "live"; };
  es.addEventListener("change", refresh);
})();
