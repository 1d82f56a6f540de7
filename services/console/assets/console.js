// leadwheel console: live streams and countdowns; everything else is htmx.
// A [data-stream] element listens to server-sent events: each "fragment"
// event carries server-rendered HTML whose top element has an id; it
// replaces the element with that id, or is added at the top. A [data-deadline]
// element (absolute UTC ms from the server) shows the seconds left in its
// [data-countdown]; the server decides what is late, this only displays.
(function () {
  "use strict";
  var skew = 0; // server clock minus this browser's clock, in ms

  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll("[data-deadline]").forEach(function (el) {
      var left = Math.max(0, Math.ceil((Number(el.dataset.deadline) - now) / 1000));
      el.querySelectorAll("[data-countdown]").forEach(function (out) {
        out.textContent = String(left);
      });
      if (left === 0 && !el.classList.contains("time-up")) {
        el.classList.add("time-up");
        el.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      }
    });
  }

  // Closing updates (and claim/pass answers) come without the lead's
  // summary ([data-bare]): the card keeps the title and details it showed.
  var summaries = {};
  function adopt(card) {
    if (!card.id) return;
    var kept = summaries[card.id];
    if (card.hasAttribute("data-bare")) {
      if (kept) {
        ["h2", "dl"].forEach(function (tag, i) {
          var now = card.querySelector(tag);
          if (now && kept[i]) now.replaceWith(kept[i].cloneNode(true));
        });
      }
    } else {
      summaries[card.id] = ["h2", "dl"].map(function (tag) {
        var node = card.querySelector(tag);
        return node && node.cloneNode(true);
      });
    }
  }

  // Opt-in desktop notification and sound for new offers: the button asks
  // the browser's permission (the click also unlocks audio); the choice is
  // kept in this browser.
  var audio = null;
  function notifyOn() { return localStorage.getItem("lw-notify") === "1"; }
  function setUpNotify() {
    var button = document.querySelector("[data-notify]");
    if (!button || !("Notification" in window)) return;
    button.hidden = false;
    function show() { if (notifyOn()) { button.textContent = button.dataset.on; button.disabled = true; } }
    show();
    button.addEventListener("click", function () {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      Notification.requestPermission().then(function (answer) {
        if (answer === "granted") { localStorage.setItem("lw-notify", "1"); show(); }
      });
    });
  }
  var announced = {};
  function announce(card) {
    // A reconnection replays open offers: announce each once.
    if (!notifyOn() || announced[card.id]) return;
    announced[card.id] = true;
    var title = card.querySelector("h2");
    var button = document.querySelector("[data-notify]");
    if (Notification.permission === "granted") {
      new Notification(button ? button.dataset.title : "leadwheel", { body: title ? title.textContent.trim() : "", tag: card.id });
    }
    if (audio) {
      var tone = audio.createOscillator();
      tone.frequency.value = 880;
      tone.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.2);
    }
  }

  function showEmpty(box) {
    var empty = box.querySelector("[data-empty]");
    if (empty) empty.hidden = box.querySelector("[data-item]") !== null;
  }

  function upsert(box, html) {
    var template = document.createElement("template");
    template.innerHTML = html.trim();
    var fresh = template.content.firstElementChild;
    if (!fresh) return;
    adopt(fresh);
    var old = fresh.id ? document.getElementById(fresh.id) : null;
    if (old) {
      old.replaceWith(fresh);
    } else {
      var list = box.querySelector("[data-list]") || box;
      list.prepend(fresh);
      if (fresh.dataset.state === "open") announce(fresh);
    }
    if (window.htmx) window.htmx.process(fresh);
    showEmpty(box);
    tick();
  }

  function connect(box) {
    var status = box.querySelector("[data-connection]");
    var source = new EventSource(box.dataset.stream);
    source.addEventListener("open", function () {
      box.dataset.connected = "1";
      if (status) status.hidden = true;
    });
    source.addEventListener("error", function () {
      // EventSource reconnects by itself; say so meanwhile.
      box.dataset.connected = "0";
      if (status) { status.textContent = status.dataset.reconnecting; status.hidden = false; }
    });
    source.addEventListener("hello", function (event) {
      // The server read its clock a little before this arrived, so the
      // difference is the hello's travel time plus any real clock
      // difference. Only a difference of a second or more is a clock to
      // correct; below that, "correcting" by the travel time would show
      // more time left than the offer's window.
      var measured = Number(event.data) - Date.now();
      skew = Math.abs(measured) >= 1000 ? measured : 0;
      // A (re)connection replays what is open now: cards still shown as
      // open may have closed while we were away, so they go.
      box.querySelectorAll("[data-item][data-state='open']").forEach(function (el) { el.remove(); });
      showEmpty(box);
    });
    source.addEventListener("unavailable", function (event) {
      // The server could not reach the wheel; the browser retries by itself.
      if (status) { status.textContent = event.data; status.hidden = false; }
    });
    source.addEventListener("fragment", function (event) { upsert(box, event.data); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (window.htmx) {
      window.htmx.onLoad(function (elt) {
        if (elt.matches && elt.matches("[data-item]")) adopt(elt);
      });
    }
    setUpNotify();
    document.querySelectorAll("[data-stream]").forEach(connect);
    document.querySelectorAll("[data-stream]").forEach(showEmpty);
    setInterval(tick, 250);
    tick();
  });
})();

// The rep's forms: a snooze "until" time is typed in the browser's local
// time; tell the server the browser's offset (without JavaScript: UTC).
(function () {
  "use strict";
  function offsets(root) {
    (root.querySelectorAll ? root : document).querySelectorAll("[data-tz-offset]").forEach(function (input) {
      input.value = String(new Date().getTimezoneOffset());
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    offsets(document);
    if (window.htmx) window.htmx.onLoad(offsets);
  });
})();
