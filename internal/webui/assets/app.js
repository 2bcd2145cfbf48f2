// The sparse web UI: reads nimbus's REST API (docs/api.md) and draws the page its path
// names. Plain JavaScript, no build step. The API token stays in this tab's
// sessionStorage and travels only in the Authorization header, never in a URL.
"use strict";

const TOKEN_KEY = "sparse.token";
const REFRESH_MS = 5000;
let me = null; // GET /api/v1/whoami
let timer = null;

// --- the API

class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, opts = {}) {
  const headers = Object.assign({}, opts.headers || {});
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers["Authorization"] = "Bearer " + token;
  const resp = await fetch(path, { method: opts.method || "GET", headers, body: opts.body, cache: "no-store", credentials: "omit" });
  const type = resp.headers.get("Content-Type") || "";
  if (!resp.ok) {
    let msg = resp.status + " " + resp.statusText;
    if (type.startsWith("application/json")) {
      try { const e = await resp.json(); msg = e.errorMessage || msg; } catch (_) { /* keep the status */ }
    }
    throw new APIError(resp.status, msg);
  }
  return type.startsWith("application/json") ? resp.json() : resp.text();
}

// --- building the page from DOM nodes, never from HTML strings: everything the API says is text

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? "" : v);
  }
  for (const k of kids.flat()) {
    if (k === undefined || k === null) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
  return e;
}

const fmt = new Intl.NumberFormat();
function num(v) { return v === undefined || v === null ? "" : fmt.format(v); }
function ms(v) { return v ? v.toFixed(3) : ""; }

// table draws rows; a column is {h: heading, f: row => cell, num: right-aligned, cls: row => class}.
function table(caption, cols, rows, empty) {
  if (!rows || rows.length === 0) return el("p", { class: "muted" }, empty || "None.");
  return el("table", {},
    el("caption", {}, caption),
    el("thead", {}, el("tr", {}, cols.map(c => el("th", { scope: "col", class: c.num ? "num" : null }, c.h)))),
    el("tbody", {}, rows.map(r => el("tr", {}, cols.map((c, i) => {
      const cls = [c.num ? "num" : "", c.cls ? c.cls(r) : ""].join(" ").trim() || null;
      const v = c.f(r);
      return i === 0 && c.rowHeader ? el("th", { scope: "row", class: cls }, v) : el("td", { class: cls }, v);
    })))));
}

// keyValues is a two-column table of a record.
function keyValues(caption, pairs) {
  return el("table", {}, el("caption", {}, caption),
    el("tbody", {}, pairs.map(([k, v]) => el("tr", {}, el("th", { scope: "row" }, k), el("td", {}, v)))));
}

function capacityClass(r) {
  if (!r.capacity) return "";
  if (r.capacity >= 0.9) return "hot";
  if (r.capacity >= 0.7) return "warm";
  return "";
}

function link(href, text) { return el("a", { href }, text); }
function topoHref(id) { return "/ui/topology/" + encodeURIComponent(id); }
function compHref(id, c) { return topoHref(id) + "/component/" + encodeURIComponent(c); }
function logHref(id, w) { return topoHref(id) + "/worker/" + encodeURIComponent(w) + "/log"; }
function apiTopo(id) { return "/api/v1/topology/" + encodeURIComponent(id); }

// --- the window and the status line

function windowParam() { return document.getElementById("window").value; }

function setStatus(text, error) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.className = error ? "error" : "";
}

function crumbs(...parts) {
  const c = document.getElementById("crumbs");
  c.replaceChildren(...parts.flatMap(p => [" › ", p]));
}

// --- pages: each returns the nodes of #content, and may draw #actions once

async function clusterPage() {
  crumbs();
  const w = encodeURIComponent(windowParam());
  const [cs, nim, sups, topos] = await Promise.all([api("/api/v1/cluster/summary"), api("/api/v1/nimbus/summary"),
    api("/api/v1/supervisor/summary"), api("/api/v1/topology/summary?window=" + w)]);
  document.title = "Cluster · sparse";
  return [
    el("h1", {}, "Cluster"),
    keyValues("Summary", [["Version", cs.sparseVersion], ["Leader", cs.leader], ["This nimbus", cs.nimbus + " (up " + cs.nimbusUptime + ")"],
      ["Supervisors", num(cs.supervisors)], ["Slots used / free / total", num(cs.slotsUsed) + " / " + num(cs.slotsFree) + " / " + num(cs.slotsTotal)],
      ["Executors", num(cs.executorsTotal)], ["Topologies", num(cs.topologies)]]),
    el("h2", {}, "Topologies"),
    table("Topologies, spouts' figures in the last " + topos.windowHint, [
      { h: "Name", f: t => link(topoHref(t.id), t.name), rowHeader: true }, { h: "Id", f: t => t.id }, { h: "Status", f: t => t.status },
      { h: "Owner", f: t => t.owner }, { h: "Uptime", f: t => t.uptime }, { h: "Workers", f: t => num(t.workersTotal), num: true },
      { h: "Executors", f: t => num(t.executorsTotal), num: true }, { h: "Tasks", f: t => num(t.tasksTotal), num: true },
      { h: "Emitted", f: t => t.stats ? num(t.stats.emitted) : "", num: true }, { h: "Acked", f: t => t.stats ? num(t.stats.acked) : "", num: true },
      { h: "Failed", f: t => t.stats ? num(t.stats.failed) : "", num: true }], topos.topologies, "No topology runs."),
    el("h2", {}, "Nimbus"),
    table("Nimbus servers", [{ h: "Id", f: n => n.id, rowHeader: true }, { h: "Status", f: n => n.status }, { h: "Address", f: n => n.address },
      { h: "UI", f: n => n.httpAddress ? link(location.protocol + "//" + n.httpAddress + "/ui/", n.httpAddress) : "" }, { h: "Version", f: n => n.version }, { h: "Uptime", f: n => n.nimbusUpTime }], nim.nimbuses),
    el("h2", {}, "Supervisors"),
    table("Supervisors", [{ h: "Id", f: s => s.id, rowHeader: true }, { h: "Host", f: s => s.host }, { h: "Uptime", f: s => s.uptime },
      { h: "Slots", f: s => num(s.slotsTotal), num: true }, { h: "Used", f: s => num(s.slotsUsed), num: true },
      { h: "Free", f: s => num(s.slotsFree), num: true }], sups.supervisors, "No supervisor is registered."),
  ];
}

function windowTable(caption, stats) {
  return table(caption, [{ h: "Window", f: s => s.windowPretty, rowHeader: true }, { h: "Emitted", f: s => num(s.emitted), num: true },
    { h: "Transferred", f: s => num(s.transferred), num: true }, { h: "Acked", f: s => num(s.acked), num: true },
    { h: "Failed", f: s => num(s.failed), num: true }, { h: "Complete latency (ms)", f: s => ms(s.completeLatency), num: true },
    { h: "Executed", f: s => num(s.executed), num: true }, { h: "Execute latency (ms)", f: s => ms(s.executeLatency), num: true }], stats);
}

function lastError(r) {
  if (!r.lastError) return "";
  return el("span", { class: "err", title: r.errorTime || "" }, r.lastError + (r.errorLapsedSecs !== null && r.errorLapsedSecs !== undefined ? " (" + r.errorLapsedSecs + "s ago)" : ""));
}

let configOpen = false; // the configuration stays open across refreshes once opened

async function topologyPage(id) {
  const w = encodeURIComponent(windowParam());
  const [t, svg] = await Promise.all([api(apiTopo(id) + "?window=" + w), api(apiTopo(id) + "/visualization?format=svg").catch(e => e)]);
  document.title = t.name + " · sparse";
  crumbs(link(topoHref(t.id), t.name));
  drawActions(t);
  const graph = el("div", { id: "graph" });
  if (svg instanceof Error) graph.append(el("p", { class: "err" }, "The graph: " + svg.message));
  else graph.append(parseSVG(svg));
  const comp = r => link(compHref(t.id, r.spoutId || r.boltId), r.spoutId || r.boltId);
  return [
    el("h1", {}, "Topology " + t.name),
    keyValues("Summary", [["Id", t.id], ["Status", el("strong", { id: "topology-status" }, t.status)], ["Owner", t.owner || "(none)"], ["Uptime", t.uptime],
      ["Workers", num(t.workersTotal) + " (requested " + num(t.requestedWorkers) + ")"], ["Executors", num(t.executorsTotal)], ["Tasks", num(t.tasksTotal)],
      ["Message timeout", t.msgTimeout + " s"], ["Figures since", t.statsSince + (t.statsAvailable ? "" : " (no worker has reported yet)")]]),
    actionsBox,
    windowTable("The topology's spouts, by window", t.topologyStats),
    el("h2", {}, "Spouts (" + t.windowHint + ")"),
    table("Spouts in the last " + t.windowHint, [{ h: "Id", f: comp, rowHeader: true }, { h: "Executors", f: r => num(r.executors), num: true },
      { h: "Tasks", f: r => num(r.tasks), num: true }, { h: "Emitted", f: r => num(r.emitted), num: true },
      { h: "Transferred", f: r => num(r.transferred), num: true }, { h: "Complete latency (ms)", f: r => ms(r.completeLatency), num: true },
      { h: "Acked", f: r => num(r.acked), num: true, cls: () => "acked" }, { h: "Failed", f: r => num(r.failed), num: true },
      { h: "Timed out", f: r => num(r.timedOut || 0), num: true }, { h: "Pending", f: r => num(r.pending || 0), num: true },
      { h: "Last error", f: lastError }], t.spouts),
    el("h2", {}, "Bolts (" + t.windowHint + ")"),
    table("Bolts in the last " + t.windowHint, [{ h: "Id", f: comp, rowHeader: true }, { h: "Executors", f: r => num(r.executors), num: true },
      { h: "Tasks", f: r => num(r.tasks), num: true }, { h: "Emitted", f: r => num(r.emitted), num: true },
      { h: "Transferred", f: r => num(r.transferred), num: true }, { h: "Capacity", f: r => (r.capacity || 0).toFixed(3), num: true, cls: capacityClass },
      { h: "Execute latency (ms)", f: r => ms(r.executeLatency), num: true }, { h: "Executed", f: r => num(r.executed || 0), num: true },
      { h: "Process latency (ms)", f: r => ms(r.processLatency), num: true }, { h: "Acked", f: r => num(r.acked), num: true },
      { h: "Failed", f: r => num(r.failed), num: true }, { h: "Queue fill", f: r => (r.queueFill || 0).toFixed(2), num: true },
      { h: "Last error", f: lastError }], t.bolts),
    el("h2", {}, "Graph"),
    el("p", { class: "muted" }, "Components and streams with their groupings; a wider edge carries more tuples (last 10 minutes)."),
    graph,
    el("h2", {}, "Workers"),
    table("Workers", [{ h: "Worker", f: x => x.id, rowHeader: true }, { h: "Supervisor", f: x => x.supervisorId }, { h: "Host", f: x => x.host },
      { h: "Port", f: x => x.port, num: true }, { h: "Alive", f: x => x.alive ? "yes" : "no" }, { h: "Uptime", f: x => x.uptime },
      { h: "Tasks", f: x => x.tasks.join(", ") }, { h: "Log", f: x => el("a", { href: logHref(t.id, x.id), class: "log-link" }, "log") }], t.workers, "No worker runs."),
    el("h2", {}, "Errors"),
    t.errors.length ? el("ul", {}, t.errors.map(e => el("li", { class: "err" }, e))) : el("p", { class: "muted" }, "None."),
    el("h2", {}, "Configuration"),
    el("details", { id: "config", open: configOpen, ontoggle: ev => { configOpen = ev.target.open; } },
      el("summary", {}, Object.keys(t.configuration).length + " settings"),
      table("Configuration", [{ h: "Key", f: kv => kv[0], rowHeader: true }, { h: "Value", f: kv => typeof kv[1] === "string" ? kv[1] : JSON.stringify(kv[1]) }],
        Object.entries(t.configuration).sort((a, b) => a[0].localeCompare(b[0])))),
  ];
}

// parseSVG makes nodes of the graph nimbus draws (internal/graph), as an image of its own.
function parseSVG(text) {
  const doc = new DOMParser().parseFromString(text, "image/svg+xml");
  const root = doc.documentElement;
  if (root.nodeName !== "svg") return el("p", { class: "err" }, "The graph could not be read.");
  for (const s of root.querySelectorAll("script, foreignObject")) s.remove();
  return document.importNode(root, true);
}

async function componentPage(id, name) {
  const w = encodeURIComponent(windowParam());
  const c = await api(apiTopo(id) + "/component/" + encodeURIComponent(name) + "?window=" + w);
  document.title = name + " · " + c.name + " · sparse";
  crumbs(link(topoHref(c.topologyId), c.name), link(compHref(c.topologyId, name), name));
  return [
    el("h1", {}, "Component " + name),
    keyValues("Summary", [["Topology", link(topoHref(c.topologyId), c.name)], ["Type", c.componentType], ["Executors", num(c.executors)],
      ["Tasks", num(c.tasks)], ["Figures since", c.statsSince]]),
    windowTable("By window", c.stats),
    el("h2", {}, "Executors (" + c.windowHint + ")"),
    table("Executors in the last " + c.windowHint, [{ h: "Tasks", f: x => x.id, rowHeader: true },
      { h: "Worker", f: x => x.workerId ? link(logHref(c.topologyId, x.workerId), x.workerId) : "" },
      { h: "Host", f: x => x.host }, { h: "Port", f: x => x.port, num: true }, { h: "Emitted", f: x => num(x.emitted), num: true },
      { h: "Transferred", f: x => num(x.transferred), num: true }, { h: "Acked", f: x => num(x.acked), num: true },
      { h: "Failed", f: x => num(x.failed), num: true }, { h: "Complete latency (ms)", f: x => ms(x.completeLatency), num: true },
      { h: "Executed", f: x => num(x.executed || 0), num: true }, { h: "Execute latency (ms)", f: x => ms(x.executeLatency), num: true },
      { h: "Capacity", f: x => (x.capacity || 0).toFixed(3), num: true, cls: capacityClass },
      { h: "Queue fill", f: x => (x.queueFill || 0).toFixed(2), num: true }, { h: "Last report", f: x => x.lastReportSecs + "s ago" }],
    c.executorStats, "No executor has reported in this window."),
    el("h2", {}, "Errors"),
    table("Last errors", [{ h: "Time", f: e => e.time, rowHeader: true }, { h: "Host", f: e => e.errorHost + ":" + e.errorPort },
      { h: "Error", f: e => el("span", { class: "err" }, e.error) }], c.componentErrors, "None."),
  ];
}

const logOpts = { tail: "200", grep: "" };

async function logPage(id, worker) {
  crumbs(link(topoHref(id), id), el("span", {}, "worker " + worker));
  document.title = "log of " + worker + " · sparse";
  const q = new URLSearchParams({ tail: logOpts.tail });
  if (logOpts.grep) q.set("grep", logOpts.grep);
  const text = await api(apiTopo(id) + "/worker/" + encodeURIComponent(worker) + "/log?" + q);
  const form = el("form", { class: "actions", id: "log-form", onsubmit: ev => { ev.preventDefault(); logOpts.tail = form.tail.value; logOpts.grep = form.grep.value; refresh(); } },
    el("label", {}, "Last lines", el("select", { name: "tail" }, ["200", "1000", "5000"].map(n => el("option", { value: n, selected: n === logOpts.tail }, n)))),
    el("label", {}, "Only lines matching (a Go regular expression)", el("input", { name: "grep", type: "search", value: logOpts.grep })),
    el("button", { type: "submit" }, "Show"));
  const pre = el("pre", { class: "log", id: "log", tabindex: "0", "aria-label": "log lines" }, text || "(no lines)");
  const out = [el("h1", {}, "Log of worker " + worker), form, pre];
  // Keep the reader where they were: at the end unless they scrolled up.
  const old = document.getElementById("log");
  const atEnd = !old || old.scrollTop + old.clientHeight >= old.scrollHeight - 4;
  setTimeout(() => { if (atEnd) pre.scrollTop = pre.scrollHeight; else if (old) pre.scrollTop = old.scrollTop; }, 0);
  return out;
}

// --- actions: shown only to a caller the API would let act

function mayChange(t) {
  if (!me || !me.acl) return true;
  return me.role === "admin" || (me.role === "deployer" && t.owner !== "" && t.owner === me.name);
}

let actionsFor = null;
// actionsBox keeps its forms across refreshes, so what the user types stays.
const actionsBox = el("div", { id: "actions" });

function drawActions(t) {
  const box = actionsBox;
  if (!mayChange(t)) { box.replaceChildren(); actionsFor = null; return; }
  if (actionsFor === t.id) return; // keep what the user is typing
  actionsFor = t.id;
  const base = apiTopo(t.id);
  const act = (label, question, path, body, done) => async () => {
    if (!await confirmDialog(question)) return;
    try {
      await api(base + path(), { method: "POST", body: body ? JSON.stringify(body()) : undefined, headers: body ? { "Content-Type": "application/json" } : {} });
      await refresh();
      setStatus(label + ": done. " + (done ? done() : ""));
    } catch (e) { setStatus(label + " failed: " + e.message, true); }
  };
  const comps = [...t.spouts.map(c => c.spoutId), ...t.bolts.map(c => c.boltId)];
  const rb = el("form", { "aria-label": "rebalance", onsubmit: ev => { ev.preventDefault(); rebalance(); } },
    el("label", {}, "Workers (0: as now)", el("input", { type: "number", name: "workers", min: "0", value: "0", id: "rebalance-workers" })),
    el("label", {}, "Component", el("select", { name: "component" }, el("option", { value: "" }, "(none)"), comps.map(c => el("option", { value: c }, c)))),
    el("label", {}, "Executors", el("input", { type: "number", name: "executors", min: "1", id: "rebalance-executors" })),
    el("label", {}, "Wait (s)", el("input", { type: "number", name: "wait", min: "-1", value: "-1", id: "rebalance-wait" })),
    el("button", { type: "submit", id: "action-rebalance" }, "Rebalance"));
  const rebalance = act("Rebalance", "Rebalance topology " + t.name + "?", () => "/rebalance/" + Number(rb.wait.value || -1),
    () => {
      const o = { rebalanceOptions: { numWorkers: Number(rb.workers.value || 0) } };
      if (rb.component.value && rb.executors.value) o.rebalanceOptions.executors = { [rb.component.value]: Number(rb.executors.value) };
      return o;
    });
  const kf = el("form", { "aria-label": "kill", onsubmit: ev => { ev.preventDefault(); kill(); } },
    el("label", {}, "Wait (s)", el("input", { type: "number", name: "wait", min: "-1", value: "-1", id: "kill-wait" })),
    el("button", { type: "submit", class: "danger", id: "action-kill" }, "Kill"));
  const kill = act("Kill", "Kill topology " + t.name + "? Its spouts stop now, and it is removed after the wait.", () => "/kill/" + Number(kf.wait.value || -1),
    null, () => "The topology is removed once the wait is over.");
  box.replaceChildren(el("section", { "aria-labelledby": "actions-h" }, el("h2", { id: "actions-h", class: "visually-hidden" }, "Actions"),
    el("div", { class: "actions" },
      el("button", { type: "button", id: "action-activate", onclick: act("Activate", "Activate topology " + t.name + "?", () => "/activate") }, "Activate"),
      el("button", { type: "button", id: "action-deactivate", onclick: act("Deactivate", "Deactivate topology " + t.name + "? Its spouts stop emitting.", () => "/deactivate") }, "Deactivate"),
      rb, kf)));
}

function confirmDialog(question) {
  const d = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = question;
  d.returnValue = "";
  return new Promise(resolve => {
    d.addEventListener("close", () => resolve(d.returnValue === "ok"), { once: true });
    d.showModal();
  });
}

// --- routing, refresh and sign-in

function route() {
  const p = location.pathname.replace(/^\/ui\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (p.length === 0) return () => clusterPage();
  if (p[0] === "topology" && p.length === 2) return () => topologyPage(p[1]);
  if (p[0] === "topology" && p.length === 4 && p[2] === "component") return () => componentPage(p[1], p[3]);
  if (p[0] === "topology" && p.length === 5 && p[2] === "worker" && p[4] === "log") return () => logPage(p[1], p[3]);
  return async () => [el("h1", {}, "Not found"), el("p", {}, "No such page. "), link("/ui/", "The cluster")];
}

let busy = false;

async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const nodes = await route()();
    const content = document.getElementById("content");
    // Keep the window scrolled where it was.
    const y = window.scrollY;
    content.replaceChildren(...nodes);
    window.scrollTo(0, y);
    setStatus("Updated " + new Date().toLocaleTimeString() + "; refreshes every " + REFRESH_MS / 1000 + " s.");
  } catch (e) {
    if (e.status === 401) { showLogin(e.message); return; }
    if (e.status === 404) {
      document.getElementById("content").replaceChildren(el("h1", {}, "Not found"), el("p", {}, e.message + " "), link("/ui/", "The cluster"));
    }
    setStatus(e.message, true);
  } finally {
    busy = false;
  }
}

function showLogin(why) {
  clearInterval(timer);
  document.getElementById("login").hidden = false;
  document.getElementById("content").replaceChildren();
  actionsBox.replaceChildren();
  setStatus(sessionStorage.getItem(TOKEN_KEY) ? why : "", !!sessionStorage.getItem(TOKEN_KEY));
  document.getElementById("token").focus();
}

async function start() {
  const sel = document.getElementById("window");
  const saved = sessionStorage.getItem("sparse.window");
  if (saved) sel.value = saved;
  sel.addEventListener("change", () => { sessionStorage.setItem("sparse.window", sel.value); actionsFor = null; refresh(); });
  document.getElementById("login-form").addEventListener("submit", ev => {
    ev.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value.trim());
    location.reload();
  });
  document.getElementById("signout").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); location.reload(); });
  try {
    me = await api("/api/v1/whoami");
  } catch (e) {
    if (e.status === 401) { showLogin(e.message); return; }
    setStatus(e.message, true);
    return;
  }
  if (me.acl) {
    document.getElementById("who").textContent = me.name + " (" + me.role + ")";
    document.getElementById("signout").hidden = false;
  }
  await refresh();
  timer = setInterval(refresh, REFRESH_MS);
}

document.addEventListener("DOMContentLoaded", start);
