/* Keeps a tracking page (or its embed) current without a reload.
 *
 * The page names its progress view in data-progress and the version it shows
 * in data-etag; while the tab is visible this asks every data-poll-ms
 * (10 s by default) with If-None-Match, so an unchanged order costs a 304,
 * and rebuilds the status and the steps from the answer. A hidden tab does
 * not ask; it asks once as soon as it is shown again. Everything is written
 * with textContent: step names are the shop's text, and messages the
 * customer's and the shop's, never markup. The conversation (if the page
 * shows one) is rebuilt from the answer's "messages" too.
 *
 * Words: the answer's texts are in the page's language (its URL says which),
 * and the page's own phrases come translated in data-text-* attributes; this
 * file holds no English. Times: every <time datetime> is rewritten in the
 * reader's own zone and the page's language (Intl.DateTimeFormat); one marked
 * data-relative, where the sentence reads right either way, says "2 hours
 * ago" for the last day (Intl.RelativeTimeFormat), the full time in its title.
 * Without this script the server's text stands: the shop's zone, named.
 */
(function () {
  "use strict";
  var lang = document.documentElement.lang || "en";
  var absolute = null;
  var relative = null;
  try {
    absolute = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
    relative = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
  } catch (e) { /* an old browser keeps the server's text */ }
  var UNITS = [[60, "second", 1], [3600, "minute", 60], [86400, "hour", 3600]];

  function localize(node) {
    var when = new Date(node.getAttribute("datetime"));
    if (!absolute || isNaN(when)) { return; }
    var text = absolute.format(when);
    var ago = (when.getTime() - Date.now()) / 1000;
    if (relative && node.hasAttribute("data-relative") && Math.abs(ago) < 86400) {
      var unit = UNITS.filter(function (u) { return Math.abs(ago) < u[0]; })[0];
      node.title = text;
      text = unit[1] === "second" && Math.abs(ago) < 45
        ? relative.format(0, "second") : relative.format(Math.round(ago / unit[2]), unit[1]);
    }
    if (node.textContent !== text) { node.textContent = text; }
  }

  function localizeAll() {
    Array.prototype.forEach.call(document.querySelectorAll("time[datetime]"), localize);
  }

  localizeAll();
  var root = document.querySelector("[data-progress]");
  if (!root || !window.fetch) { return; }
  var url = root.getAttribute("data-progress");
  var every = parseInt(root.getAttribute("data-poll-ms"), 10) || 10000;
  var etag = root.getAttribute("data-etag");
  var compact = root.classList.contains("compact");
  var timer = null;
  var asking = false;

  function text(name) { return root.getAttribute("data-text-" + name) || ""; }
  // "since %(when)s" around a time: the words before and after it, in the page's order.
  var since = text("since").split("%(when)s");

  var note = document.querySelector(".live-note");
  if (note && text("live")) { note.textContent = text("live"); }
  var status = document.querySelector(".status");
  if (status) { status.setAttribute("aria-live", "polite"); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function time(iso, display, isRelative) {
    var node = el("time", null, display);
    node.setAttribute("datetime", iso);
    if (isRelative) { node.setAttribute("data-relative", ""); }
    localize(node);
    return node;
  }

  function renderStatus(data) {
    var label = el("p", "status-label", data.is_completed ? text("status") : text("current"));
    label.id = "status-heading";
    var children = [label, el("p", "headline" + (data.is_completed ? " headline-done" : ""), data.headline)];
    if (data.total) {
      var meter = el("div", "meter");
      var bar = el("progress", null, data.progress_text);
      bar.id = "progress";
      bar.max = data.total;
      bar.value = data.done;
      var caption = el("label", "meter-label", data.progress_text);
      caption.htmlFor = "progress";
      meter.appendChild(bar);
      meter.appendChild(caption);
      children.push(meter);
    }
    status.replaceChildren.apply(status, children);
  }

  function renderStep(step) {
    var item = el("li", "step step-" + step.status);
    if (step.status === "in_progress") { item.setAttribute("aria-current", "step"); }
    var marker = el("span", "marker");
    marker.setAttribute("aria-hidden", "true");
    var body = el("span", "step-body");
    body.appendChild(el("span", "step-name", step.name));
    if (step.description && !compact) {
      body.appendChild(el("span", "step-description", step.description));
    }
    var state = el("span", "step-status", step.label);
    if (!compact && step.completed_at) {
      state.append(" · ", time(step.completed_at, step.completed_display, true));
    } else if (!compact && step.started_at) {
      state.append(" · ", since[0], time(step.started_at, step.started_display, false),
                   since.slice(1).join(""));
    }
    body.appendChild(state);
    item.appendChild(marker);
    item.appendChild(body);
    return item;
  }

  // The estimate's sentences come translated from the page; a date the
  // order can no longer keep turns into the "taking longer" sentence at
  // late-after, even if no change arrives to say so.
  var estimate = document.querySelector("[data-estimate]");

  function renderEstimate(promise) {
    if (!estimate) { return; }
    var lateAfter = promise.late_after ? Date.parse(promise.late_after) : NaN;
    var late = promise.late || lateAfter < Date.now();
    estimate.className = "estimate" + (late ? " estimate-late" : "");
    if (late) {
      estimate.replaceChildren(estimate.getAttribute("data-late-text"));
    } else if (promise.ready_at) {
      estimate.replaceChildren(estimate.getAttribute("data-ready-text") + " ",
                               time(promise.ready_at, promise.ready_display));
    }
    estimate.hidden = !(late || promise.ready_at);
    if (promise.late_after) { estimate.setAttribute("data-late-after", promise.late_after); }
  }

  function checkEstimate() {
    var lateAfter = estimate && Date.parse(estimate.getAttribute("data-late-after") || "");
    if (lateAfter && lateAfter < Date.now() && !estimate.classList.contains("estimate-late")) {
      renderEstimate({ late: true });
    }
  }

  function renderMessage(thread, message) {
    var item = el("li", "msg msg-" + message.kind);
    item.id = "message-" + message.id;
    var meta = el("p", "msg-meta");
    var who = message.kind === "reply" ? thread.getAttribute("data-business")
      : (message.name || thread.getAttribute("data-you"));
    meta.append(el("span", "msg-who", who), " · ",
                time(message.created_at, message.created_display));
    item.appendChild(meta);
    item.appendChild(el("p", "msg-text", message.text));
    return item;
  }

  function renderThread(messages) {
    var thread = document.querySelector("ol.thread");
    if (!thread || !messages) { return; }
    thread.replaceChildren.apply(thread, messages.map(function (m) {
      return renderMessage(thread, m);
    }));
  }

  function render(data) {
    renderThread(data.messages);
    if (status) { renderStatus(data); }
    if (data.estimate) { renderEstimate(data.estimate); }
    var list = document.querySelector("ol.steps");
    if (list && data.steps.length) { list.replaceChildren.apply(list, data.steps.map(renderStep)); }
    var updated = document.querySelector(".card-foot time");
    if (updated) {
      updated.setAttribute("datetime", data.updated_at);
      updated.textContent = data.updated_display;
      localize(updated);
    }
  }

  function schedule() {
    checkEstimate();
    clearTimeout(timer);
    timer = document.visibilityState === "hidden" ? null : setTimeout(ask, every);
  }

  function ask() {
    if (asking || document.visibilityState === "hidden") { return; }
    asking = true;
    var headers = etag ? { "If-None-Match": '"' + etag + '"' } : {};
    fetch(url, { headers: headers, cache: "no-store", credentials: "omit" })
      .then(function (response) {
        if (response.status !== 200) { return null; }
        etag = (response.headers.get("ETag") || "").replace(/^W\//, "").replace(/"/g, "");
        return response.json();
      })
      .then(function (data) { if (data) { render(data); } })
      .catch(function () { /* offline or refused: the next turn asks again */ })
      .then(function () { asking = false; localizeAll(); schedule(); });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") {
      clearTimeout(timer);
      timer = null;
    } else {
      ask();
    }
  });
  schedule();
}());
