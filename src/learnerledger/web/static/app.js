// learnerledger's web UI: keyboard review of duplicates and live progress of running jobs.
// Plain JavaScript, served by the app; the pages work without it.
(function () {
  "use strict";

  function pairs() {
    return Array.prototype.slice.call(document.querySelectorAll("article.pair"));
  }

  function focusPair(list, index) {
    if (!list.length) { return; }
    var target = list[Math.max(0, Math.min(index, list.length - 1))];
    target.focus();
    target.scrollIntoView({ block: "nearest" });
  }

  function currentIndex(list) {
    var active = document.activeElement;
    for (var i = 0; i < list.length; i++) {
      if (list[i] === active || list[i].contains(active)) { return i; }
    }
    return -1;
  }

  function decide(list, index, key) {
    if (index < 0) { return; }
    var button = list[index].querySelector('button[data-key="' + key + '"]');
    if (!button) { return; }
    var next = list[index].querySelector("input.next-pair");
    if (next && list[index + 1]) { next.value = list[index + 1].id; }
    button.click();
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea") { return; }
    var list = pairs();
    if (!list.length) { return; }
    var index = currentIndex(list);
    var key = event.key;
    if (key === "j" || key === "ArrowDown") {
      focusPair(list, index + 1);
    } else if (key === "k" || key === "ArrowUp") {
      focusPair(list, index < 0 ? 0 : index - 1);
    } else if (key === "c" || key === "r") {
      decide(list, index, key);
    } else {
      return;
    }
    event.preventDefault();
  }

  function forms() {
    // Deciding with the mouse also moves on to the next pair.
    pairs().forEach(function (pair, i, list) {
      var form = pair.querySelector("form.decide");
      if (!form) { return; }
      form.addEventListener("submit", function () {
        var next = form.querySelector("input.next-pair");
        if (next && list[i + 1]) { next.value = list[i + 1].id; }
      });
    });
  }

  function restoreFocus() {
    var list = pairs();
    if (!list.length) { return; }
    var wanted = window.location.hash ? document.getElementById(window.location.hash.slice(1)) : null;
    focusPair(list, wanted ? list.indexOf(wanted) : 0);
  }

  function showProgress(box, run) {
    var p = run.progress || {};
    var bar = box.querySelector("progress");
    var text = box.querySelector(".progress-text");
    if (bar && p.total) { bar.max = p.total; bar.value = p.done; }
    if (text && p.stage) {
      text.textContent = p.stage + ": " + p.done + (p.total ? " of " + p.total : "") +
        (p.note ? " (" + p.note + ")" : "");
    }
  }

  function watch(row) {
    var id = row.getAttribute("data-run");
    var box = row.querySelector('[data-progress="' + id + '"]');
    function poll() {
      fetch("/api/runs/" + id, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (run) {
          if (!run) { return; }
          if (run.status !== "running") { window.location.reload(); return; }
          if (box) { showProgress(box, run); }
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 1000);
  }

  // A job started here, followed by its task as /api/jobs lists it (a merge plan has no run
  // record to follow).
  function watchTask(box) {
    var id = Number(box.getAttribute("data-task"));
    var shown = box.querySelector('[data-progress="' + id + '"]');
    function poll() {
      fetch("/api/jobs", { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (found) {
          if (!found) { return; }
          var task = found.jobs.filter(function (t) { return t.id === id; })[0];
          if (!task || task.status !== "running") { window.location.reload(); return; }
          if (shown) { showProgress(shown, task); }
          window.setTimeout(poll, 1000);
        })
        .catch(function () { window.setTimeout(poll, 3000); });
    }
    window.setTimeout(poll, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (pairs().length) {
      document.addEventListener("keydown", onKey);
      forms();
      restoreFocus();
    }
    Array.prototype.forEach.call(document.querySelectorAll("[data-run]"), watch);
    Array.prototype.forEach.call(document.querySelectorAll("[data-task]"), watchTask);
  });
})();
