// Switchyard's UI script: the buttons call the hub's API with the session's
// CSRF token, and a build page streams its log from the build's events.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

async function call(button) {
  const method = button.dataset.api, url = button.dataset.url;
  const init = { method, headers: { "X-Csrf-Token": csrf() }, credentials: "same-origin" };
  if (button.dataset.bodyFrom) {
    init.body = JSON.stringify({ [button.dataset.bodyKey]: document.getElementById(button.dataset.bodyFrom).value });
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
    if (!s) { s = sections.get(""); s.hidden = false; sections.set(id, s); }
    return s;
  };
  // Lines wait for the next frame and go in together: plain text joins
  // into one text node per log, a timestamp is shown when the second
  // changes, so a log of many lines stays cheap and the page responsive.
  // They go into blocks of about blockLines lines: the browser lays out
  // again only the block that grew, not the whole log.
  const blockLines = 500;
  const logs = new Map(); // origin id -> {el, frag, text, last, block, lines, fragLines, whole}
  const logOf = (id) => {
    let l = logs.get(id);
    if (!l) { l = { el: section(id).querySelector(".log"), frag: null, text: "", last: 0, block: null, lines: 0, fragLines: 0, whole: true }; logs.set(id, l); }
    return l;
  };
  let scheduled = false;
  const pendingLogs = new Set();
  const spill = (l) => { if (l.text) { (l.frag ||= document.createDocumentFragment()).append(l.text); l.text = ""; } };
  const flush = () => {
    scheduled = false;
    for (const l of pendingLogs) {
      spill(l);
      const el = l.el, atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
      if (l.frag) {
        // A new block starts only after a whole line.
        if (!l.block || (l.lines >= blockLines && l.whole)) { l.block = document.createElement("div"); el.append(l.block); l.lines = 0; }
        l.block.append(l.frag);
        l.lines += l.fragLines;
        l.whole = l.endsLine;
      }
      l.frag = null;
      l.fragLines = 0;
      if (atEnd) el.scrollTop = el.scrollHeight;
    }
    pendingLogs.clear();
  };
  const append = (id, text, time, err) => {
    const l = logOf(id);
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) l.fragLines++;
    l.endsLine = text.endsWith("\n");
    if (time && time !== l.last) {
      spill(l);
      l.last = time;
      const t = document.createElement("span"); t.className = "t";
      t.textContent = new Date(time * 1000).toLocaleTimeString();
      (l.frag ||= document.createDocumentFragment()).append(t);
    }
    if (err || text.includes("\x1b[")) {
      spill(l);
      const node = ansi(text);
      if (err) { const s = document.createElement("span"); s.className = "err"; s.append(node); (l.frag ||= document.createDocumentFragment()).append(s); }
      else (l.frag ||= document.createDocumentFragment()).append(node);
    } else {
      l.text += text;
    }
    pendingLogs.add(l);
    if (!scheduled) { scheduled = true; requestAnimationFrame(flush); }
  };
  const state = (id, st) => {
    const el = section(id).querySelector(".state");
    if (el) { el.textContent = st; el.className = "state " + st; }
  };
  // A build that had no plan yet when the page was made (pending) gets its
  // steps from a reload once it starts; once per build, so a plan that
  // never comes does not loop.
  const replan = () => {
    const key = "replanned-" + root.dataset.build;
    if (root.dataset.planless === "true" && !sessionStorage.getItem(key)) { sessionStorage.setItem(key, "1"); location.reload(); return true; }
    return false;
  };
  const handle = (ev) => {
    const d = ev.data || {}, id = d.origin?.id || "";
    if (id && !sections.has(id) && replan()) return;
    switch (ev.event) {
      case "log": append(id, d.payload, d.time, d.origin?.source === "stderr"); break;
      case "error": append(id, d.message + "\n", d.time, true); state(id, "errored"); break;
      case "selected-worker": {
        const s = section(id).querySelector(".spoke");
        if (s) { s.textContent = d.selected_worker; s.previousElementSibling?.removeAttribute("hidden"); }
        break;
      }
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
  };
  // A long log comes as its last lines; the earlier ones on a click.
  const earlier = (before) => {
    const b = document.createElement("button");
    b.className = "earlier";
    b.textContent = "Show the earlier lines";
    b.addEventListener("click", async () => {
      b.disabled = true;
      const r = await fetch(root.dataset.log + "?before=" + before, { credentials: "same-origin" });
      if (!r.ok) { b.disabled = false; return; }
      const byLog = new Map();
      for (const c of (await r.json()).chunks) {
        const el = logOf(c.origin).el;
        if (!byLog.has(el)) byLog.set(el, document.createDocumentFragment());
        const node = ansi(c.text);
        if (c.source === "stderr") { const s = document.createElement("span"); s.className = "err"; s.append(node); byLog.get(el).append(s); }
        else byLog.get(el).append(node);
      }
      for (const [el, frag] of byLog) { const d = document.createElement("div"); d.append(frag); el.prepend(d); }
      b.remove();
    });
    root.prepend(b);
  };
  const ended = () => { flush(); root.dataset.ended = "true"; root.dataset.shownAt = Math.round(performance.now()); };
  const follow = (after) => {
    const es = new EventSource(root.dataset.events + "?after=" + after, { withCredentials: true });
    es.addEventListener("event", (m) => handle(JSON.parse(m.data)));
    es.addEventListener("end", () => { es.close(); ended(); });
  };
  // What the build logged so far comes in one answer (a long log opens at
  // once); the event stream goes on from its end.
  fetch(root.dataset.log, { credentials: "same-origin" }).then((r) => r.ok ? r.json() : Promise.reject(r.status)).then((log) => {
    for (const c of log.chunks) append(c.origin, c.text, c.time, c.source === "stderr");
    if (log.before > 1) earlier(log.before);
    for (const e of log.events) handle({ event: e.event, data: e.data });
    if (log.ended) ended(); else follow(log.last_id);
  }).catch(() => follow(-1));
}

// changes keeps the dashboard's cards and the pipeline page's jobs up to
// date: every 5 s it asks which pipelines' builds changed and redraws
// those only.
function changes(el) {
  let since = el.dataset.since;
  const only = el.dataset.pipelineId;
  const rank = { "no-builds": 0, paused: 0, succeeded: 1, aborted: 2, errored: 3, failed: 4 };
  // An instance group's card shows the worst of its instances.
  const regroup = (card) => {
    let worst = "no-builds", running = false;
    for (const sq of card.querySelectorAll("li[data-instance-id]")) {
      const [st, r] = sq.className.split(" ");
      running ||= r === "running";
      if ((rank[st] || 0) > rank[worst]) worst = st;
    }
    const status = worst + (running ? " running" : "");
    card.className = "card group " + status;
    const el = card.querySelector(".status");
    el.textContent = el.textContent.replace(/·.*/, "· " + status);
  };
  const apply = (p) => {
    for (const card of document.querySelectorAll(`li.card[data-pipeline-id="${p.id}"]`)) {
      if (!card.classList.contains("paused")) {
        card.className = "card " + p.status;
        card.querySelector(".status").textContent = p.status;
      }
      for (const j of p.jobs) card.querySelector(`li[data-job="${CSS.escape(j.name)}"]`)?.setAttribute("class", j.status + (j.running ? " running" : ""));
    }
    for (const sq of document.querySelectorAll(`li[data-instance-id="${p.id}"]`)) {
      if (sq.classList.contains("paused")) continue;
      sq.className = p.status;
      regroup(sq.closest("li.card.group"));
    }
    if (only !== String(p.id)) return;
    for (const j of p.jobs) {
      const cls = j.status + (j.running ? " running" : "");
      const node = document.getElementById("job-" + j.name);
      if (node) node.setAttribute("class", "node job " + cls);
      const item = document.querySelector(`.list li[data-job="${CSS.escape(j.name)}"]`);
      if (item) { item.className = j.status; item.querySelector(".status").textContent = j.status + (j.running ? " (running)" : ""); }
    }
    refresh();
  };
  const tick = async () => {
    try {
      const r = await fetch("/api/v1/ui/changes?since=" + encodeURIComponent(since), { credentials: "same-origin" });
      if (r.ok) {
        const c = await r.json();
        since = c.since;
        for (const p of c.pipelines) if (!only || only === String(p.id)) apply(p);
      }
    } finally { setTimeout(tick, 5000); }
  };
  setTimeout(tick, 5000);
}

// refresh redraws a page's live parts (elements with data-live and an id)
// from the page loaded again, unless the reader is typing in one.
async function refresh() {
  const live = [...document.querySelectorAll("[data-live][id]")];
  const busy = (el) => (el.contains(document.activeElement) && document.activeElement.matches("input, textarea")) || el.querySelector("details[open]");
  if (!live.length || live.some(busy)) return;
  const r = await fetch(location.href, { credentials: "same-origin" });
  if (!r.ok) return;
  const doc = new DOMParser().parseFromString(await r.text(), "text/html");
  for (const el of live) {
    const fresh = doc.getElementById(el.id);
    if (fresh && fresh.innerHTML !== el.innerHTML) el.replaceWith(fresh);
  }
}

// versionBuilds fills an opened version's builds: those it was an input
// to and those it was an output of.
async function versionBuilds(details) {
  const box = details.querySelector(".version-builds");
  if (box.dataset.loaded) return;
  box.dataset.loaded = "true";
  for (const [path, label] of [["/input_to", "Input to"], ["/output_of", "Output of"]]) {
    const u = details.dataset.builds.replace(/(\?|$)/, path + "$1");
    const r = await fetch(u, { credentials: "same-origin" });
    const p = document.createElement("p");
    p.className = path.slice(1);
    p.append(label + ": ");
    const builds = r.ok ? await r.json() : [];
    if (!builds.length) p.append(r.ok ? "no builds" : "could not read them (" + r.status + ")");
    for (const b of builds) {
      const a = document.createElement("a");
      a.href = "/builds/" + b.id;
      a.className = "badge " + b.status;
      a.textContent = (b.job_name ? b.job_name + " " : "") + "#" + b.name;
      p.append(a, " ");
    }
    box.append(p);
  }
}

document.addEventListener("toggle", (e) => {
  if (e.target.matches?.("details[data-builds]") && e.target.open) versionBuilds(e.target);
}, true);

// favourites keeps the pipelines a reader starred (in this browser) in a
// section of their own at the top of the dashboard.
function favourites(section) {
  const key = "switchyard.favourites";
  let ids = new Set(JSON.parse(localStorage.getItem(key) || "[]"));
  const draw = () => {
    const list = section.querySelector("ul");
    list.replaceChildren();
    for (const card of document.querySelectorAll("section.team li.card[data-pipeline-id]")) {
      const on = ids.has(card.dataset.pipelineId);
      card.querySelector(".fav").setAttribute("aria-pressed", String(on));
      if (on) list.append(card.cloneNode(true));
    }
    section.hidden = !list.children.length;
  };
  for (const card of document.querySelectorAll("section.team li.card[data-pipeline-id]")) {
    const b = document.createElement("button");
    b.className = "fav";
    b.textContent = "★";
    b.setAttribute("aria-label", "Favourite " + card.dataset.pipeline);
    card.prepend(b);
  }
  document.addEventListener("click", (e) => {
    const b = e.target.closest("button.fav");
    if (!b) return;
    const id = b.closest("li.card").dataset.pipelineId;
    if (ids.has(id)) ids.delete(id); else ids.add(id);
    localStorage.setItem(key, JSON.stringify([...ids]));
    draw();
  });
  draw();
}

// highlight marks, while a graph node is under the pointer or has the
// focus, the node, its edges and the nodes at their other ends.
function highlight(svg) {
  const figure = svg.closest(".graph");
  const clear = () => { figure.classList.remove("highlighting"); for (const el of svg.querySelectorAll(".hl")) el.classList.remove("hl"); };
  const mark = (node) => {
    clear();
    figure.classList.add("highlighting");
    node.classList.add("hl");
    for (const e of svg.querySelectorAll("path.edge")) {
      if (e.dataset.from !== node.id && e.dataset.to !== node.id) continue;
      e.classList.add("hl");
      document.getElementById(e.dataset.from === node.id ? e.dataset.to : e.dataset.from)?.classList.add("hl");
    }
  };
  for (const type of ["mouseover", "focusin"]) svg.addEventListener(type, (e) => { const n = e.target.closest("a.node"); if (n) mark(n); });
  for (const type of ["mouseleave", "focusout"]) svg.addEventListener(type, clear);
}

document.addEventListener("DOMContentLoaded", () => {
  // A page refused to this user offers to sign in as someone else and come
  // back here (the page's path is not echoed by the hub: it may name what
  // the user may not see).
  const back = document.querySelector("a[data-back]");
  if (back) back.href = "/sky/logout?redirect_uri=" + encodeURIComponent(location.pathname + location.search);
  const graph = document.getElementById("graph");
  if (graph) highlight(graph);
  const steps = document.getElementById("steps");
  if (steps) stream(steps);
  const ch = document.getElementById("changes");
  if (ch) changes(ch);
  const every = document.querySelector("[data-refresh]");
  if (every) setInterval(refresh, +every.dataset.refresh);
  const fav = document.getElementById("favourites");
  if (fav) favourites(fav);
});
