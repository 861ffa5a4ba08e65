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
 */
(function () {
  "use strict";
  var root = document.querySelector("[data-progress]");
  if (!root || !window.fetch) { return; }
  var url = root.getAttribute("data-progress");
  var every = parseInt(root.getAttribute("data-poll-ms"), 10) || 10000;
  var etag = root.getAttribute("data-etag");
  var compact = root.classList.contains("compact");
  var timer = null;
  var asking = false;

  var note = document.querySelector(".live-note");
  if (note) { note.textContent = "This page updates itself."; }
  var status = document.querySelector(".status");
  if (status) { status.setAttribute("aria-live", "polite"); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function time(iso, display) {
    var node = el("time", null, display);
    node.setAttribute("datetime", iso);
    return node;
  }

  function renderStatus(data) {
    var label = el("p", "status-label", data.is_completed ? "Status" : "Current step");
    label.id = "status-heading";
    var children = [label, el("p", "headline" + (data.is_completed ? " headline-done" : ""), data.headline)];
    if (data.total) {
      var meter = el("div", "meter");
      var bar = el("progress", null, data.done + " of " + data.total);
      bar.id = "progress";
      bar.max = data.total;
      bar.value = data.done;
      var caption = el("label", "meter-label", data.done + " of " + data.total + " steps done");
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
      state.append(" · ", time(step.completed_at, step.completed_display));
    } else if (!compact && step.started_at) {
      state.append(" · since ", time(step.started_at, step.started_display));
    }
    body.appendChild(state);
    item.appendChild(marker);
    item.appendChild(body);
    return item;
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
    var list = document.querySelector("ol.steps");
    if (list && data.steps.length) { list.replaceChildren.apply(list, data.steps.map(renderStep)); }
    var updated = document.querySelector(".card-foot time");
    if (updated) {
      updated.setAttribute("datetime", data.updated_at);
      updated.textContent = data.updated_display;
    }
  }

  function schedule() {
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
      .then(function () { asking = false; schedule(); });
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
