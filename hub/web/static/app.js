// Switchyard's UI script: the buttons call the hub's API with the session's
// CSRF token, and a build page streams its log from the build's events.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

async function call(button) {
  const method = button.dataset.api, url = button.dataset.url;
  const init = { method, headers: { "X-Csrf-Token": csrf() }, credentials: "same-origin" };
  if (button.dataset.bodyFrom) {
    init.body = JSON.stringify({ pin_comment: document.getElementById(button.dataset.bodyFrom).value });
    init.headers["Content-Type"] = "application/json";
  } else if (button.dataset.body) { init.body = button.dataset.body; init.headers["Content-Type"] = "application/json"; }
  button.disabled = true;
  try {
    const res = await fetch(url, init);
    if (res.status === 401) { location.href = "/login?redirect_uri=" + encodeURIComponent(location.pathname + location.search); return; }
    if (!res.ok) { alert(method + " " + url + ": " + res.status + " " + (await res.text())); return; }
    if (button.dataset.follow) {
      const b = await res.json().catch(() => null);
      if (b && b.id) { location.href = "/builds/" + b.id; return; }
    }
    location.reload();
  } finally { button.disabled = false; }
}

document.addEventListener("click", (e) => {
  const b = e.target.closest("button[data-api]");
  if (b) { e.preventDefault(); call(b); }
});

// ANSI SGR colours to spans; everything else is text.
function ansi(text) {
  const frag = document.createDocumentFragment();
  let cls = [];
  const parts = text.split(/\x1b\[([0-9;]*)m/);
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 1) {
      for (const code of (parts[i] || "0").split(";")) {
        if (code === "0" || code === "") cls = [];
        else if (code === "1" || (+code >= 30 && +code <= 37)) cls.push("a" + code);
      }
      continue;
    }
    if (!parts[i]) continue;
    if (cls.length) { const s = document.createElement("span"); s.className = cls.join(" "); s.textContent = parts[i]; frag.append(s); }
    else frag.append(parts[i]);
  }
  return frag;
}

function stream(root) {
  const sections = new Map();
  for (const s of root.querySelectorAll(".step")) sections.set(s.dataset.origin, s);
  const section = (id) => {
    let s = sections.get(id);
    if (!s) { s = sections.get(""); s.hidden = false; }
    return s;
  };
  // Lines are appended once a frame, so a log of many lines stays responsive.
  const pending = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    const byLog = new Map();
    for (const [log, node] of pending.splice(0)) {
      if (!byLog.has(log)) byLog.set(log, document.createDocumentFragment());
      byLog.get(log).append(node);
    }
    for (const [log, frag] of byLog) {
      const atEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
      log.append(frag);
      if (atEnd) log.scrollTop = log.scrollHeight;
    }
  };
  const append = (id, text, time, err) => {
    const log = section(id).querySelector(".log");
    const line = document.createDocumentFragment();
    if (time) {
      const t = document.createElement("span"); t.className = "t";
      t.textContent = new Date(time * 1000).toLocaleTimeString(); line.append(t);
    }
    if (err) { const s = document.createElement("span"); s.className = "err"; s.append(ansi(text)); line.append(s); }
    else line.append(ansi(text));
    pending.push([log, line]);
    if (!scheduled) { scheduled = true; requestAnimationFrame(flush); }
  };
  const state = (id, st) => {
    const el = section(id).querySelector(".state");
    if (el) { el.textContent = st; el.className = "state " + st; }
  };
  const es = new EventSource(root.dataset.events, { withCredentials: true });
  es.addEventListener("event", (m) => {
    const ev = JSON.parse(m.data), d = ev.data || {}, id = d.origin?.id || "";
    switch (ev.event) {
      case "log": append(id, d.payload, d.time, d.origin?.source === "stderr"); break;
      case "error": append(id, d.message + "\n", d.time, true); state(id, "errored"); break;
      case "selected-worker": { const s = section(id).querySelector(".spoke"); if (s) s.textContent = d.selected_worker; break; }
      case "initialize-task": case "initialize-get": case "initialize-put": case "initialize-check": state(id, "running"); break;
      case "finish-task": case "finish-get": case "finish-put": case "finish-check":
        state(id, d.exit_status === 0 || d.succeeded ? "succeeded" : "failed"); break;
      case "status": {
        const b = document.getElementById("build-status");
        if (b) { b.textContent = d.status; b.className = "badge " + d.status; }
        if (d.status !== "started" && d.status !== "pending") document.getElementById("abort")?.setAttribute("hidden", "");
        break;
      }
    }
  });
  es.addEventListener("end", () => { es.close(); flush(); });
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) flush(); };
}

document.addEventListener("DOMContentLoaded", () => {
  const steps = document.getElementById("steps");
  if (steps) stream(steps);
});
