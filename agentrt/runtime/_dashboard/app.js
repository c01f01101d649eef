// agentrt dashboard: Alpine.js for the pages, uPlot for the charts (both vendored).
// Every figure comes from the introspection endpoint's JSON routes; the Overview follows
// /events (server-sent events, read through fetch so the bearer token can be sent).
"use strict";

const HOUR = 3600;
const REFRESH_MS = 2000; // the non-overview pages re-read their route this often
const TOKEN_KEY = "agentrt-token";
// The periodic reads accept a view computed up to this many seconds ago (the sampling
// interval): one costly pass over the agents then serves several refreshes and viewers.
// A click (sort, filter, page) asks for a new page, which is computed fresh.
const MAX_AGE = 2;

function headers(token) {
  return token ? { Authorization: "Bearer " + token } : {};
}

// The SSE wire format (text/event-stream): events separated by a blank line.
async function followEvents(token, onSample, signal) {
  const response = await fetch("../events", { headers: headers(token), signal });
  if (!response.ok) throw new Error("/events: " + response.status);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      let event = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) event = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (event === "sample" && data.length) onSample(JSON.parse(data.join("\n")));
    }
  }
}

const SERIES = {
  "chart-rate": { title: "turns/s", keys: [["turns_per_s", "turns/s", "#2f6fdf"], ["errors_per_s", "errors/s", "#d33"]] },
  "chart-latency": { title: "turn latency (ms)", keys: [["p50", "p50", "#2a9d5c"], ["p95", "p95", "#e08a00"], ["p99", "p99", "#d33"]] },
  "chart-agents": { title: "agents", keys: [["live", "live", "#2f6fdf"], ["passivated", "passivated", "#888"]] },
  "chart-rss": { title: "RSS (MB) and loop lag (ms)", keys: [["rss_mb", "RSS MB", "#7a4fd6"], ["loop_lag_ms", "loop lag ms", "#e08a00"]] },
};

function makeCharts() {
  const charts = {};
  for (const [id, spec] of Object.entries(SERIES)) {
    const el = document.getElementById(id);
    const width = Math.max(320, el.clientWidth || 480);
    const opts = {
      title: spec.title, width, height: 200,
      series: [{}, ...spec.keys.map(([, label, stroke]) => ({ label, stroke, width: 1.5 }))],
      axes: [{}, { size: 60 }],
    };
    charts[id] = new uPlot(opts, [[], ...spec.keys.map(() => [])], el);
  }
  return charts;
}

document.addEventListener("alpine:init", () => {
  Alpine.data("dashboard", () => ({
    page: "overview",
    agentId: null,
    token: sessionStorage.getItem(TOKEN_KEY) || "",
    tokenInput: "",
    error: "",
    live: false,
    s: {},
    point: {},
    points: [],
    nodes: [],
    nodeStats: { nodes: [], totals: null },
    agents: { agents: [], matched: 0, total: 0 },
    agentsQuery: { by: "p95", order: "desc", offset: 0, limit: 50, q: "", state: "" },
    sortColumns: [
      { by: "p95", label: "p95" }, { by: "turns", label: "turns" }, { by: "errors", label: "errors" },
      { by: "cost", label: "cost" }, { by: "tokens", label: "tokens out" }, { by: "mailbox", label: "mailbox" },
      { by: "bytes", label: "memory" }, { by: "restarts", label: "restarts" },
    ],
    agent: {},
    actionResult: "",
    llm: { providers: [] },
    alerts: { active: [], recent: [] },
    treeClosed: new Set(),
    _charts: null,
    _stream: null,

    get lat() { return this.s.turn_latency_ms?.recent || {}; },

    boot() {
      window.addEventListener("hashchange", () => this.route());
      this.route();
      this.startStream();
      setInterval(() => this.refresh(), REFRESH_MS);
    },

    route() {
      const parts = (location.hash || "#/overview").slice(2).split("/");
      const page = parts[0] || "overview";
      if (page === "agent" && parts.length > 1) {
        this.agentId = decodeURIComponent(parts.slice(1).join("/"));
        this.agent = {};
        this.actionResult = "";
      }
      this.page = ["overview", "nodes", "agents", "agent", "tree", "llm"].includes(page) ? page : "overview";
      this.refresh();
      if (this.page === "overview") this.$nextTick(() => this.drawCharts());
    },

    saveToken() {
      this.token = this.tokenInput.trim();
      this.tokenInput = "";
      if (this.token) sessionStorage.setItem(TOKEN_KEY, this.token);
      else sessionStorage.removeItem(TOKEN_KEY);
      this.error = "";
      this.restartStream();
      this.refresh();
    },

    async get(path) {
      const response = await fetch(".." + path, { headers: headers(this.token) });
      const body = await response.json();
      if (response.status === 401) throw new Error("this endpoint needs its token: type it above");
      if (!response.ok) throw new Error(body.error || path + ": " + response.status);
      return body;
    },

    async refresh() {
      try {
        if (this.page === "overview") {
          if (!this.live) this.s = await this.get("/summary?max_age=" + MAX_AGE);
          this.alerts = await this.get("/alerts"); // the active ones also come with each sample
        } else if (this.page === "nodes") {
          const body = await this.get("/nodes");
          this.nodes = body.nodes;
          this.nodeStats = body.stats && body.stats.totals ? body.stats : { nodes: [], totals: null };
        }
        else if (this.page === "agents") await this.loadAgents();
        else if (this.page === "agent" && this.agentId !== null) this.agent = await this.get("/agents/" + encodeURIComponent(this.agentId));
        else if (this.page === "tree") this.drawTree(await this.get("/tree"));
        else if (this.page === "llm") this.llm = await this.get("/llm");
        this.error = "";
      } catch (e) {
        this.error = e.message;
      }
    },

    async loadAgents() {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(this.agentsQuery)) if (v !== "") q.set(k, v);
      q.set("max_age", MAX_AGE);
      this.agents = await this.get("/agents?" + q);
    },

    sortBy(by) {
      if (this.agentsQuery.by === by) this.agentsQuery.order = this.agentsQuery.order === "desc" ? "asc" : "desc";
      else { this.agentsQuery.by = by; this.agentsQuery.order = "desc"; }
      this.agentsQuery.offset = 0;
      this.loadAgents().catch((e) => { this.error = e.message; });
    },

    page_(step) {
      const q = this.agentsQuery;
      q.offset = Math.max(0, q.offset + step * q.limit);
      this.loadAgents().catch((e) => { this.error = e.message; });
    },

    openAgent(id) { location.hash = "#/agent/" + encodeURIComponent(id); },

    async act(action) {
      this.actionResult = action + "…";
      try {
        const response = await fetch("../agents/" + encodeURIComponent(this.agentId) + "/" + action,
          { method: "POST", headers: headers(this.token) });
        const body = await response.json();
        this.actionResult = response.ok ? action + (body.ok ? ": done" : ": not done (busy or not running)") : body.error;
      } catch (e) {
        this.actionResult = e.message;
      }
      this.refresh();
    },

    // -- the overview's live charts ---------------------------------------------------
    async startStream() {
      try {
        const history = await this.get("/history");
        this.points = history.points;
        if (this.points.length) this.point = this.points[this.points.length - 1];
        this.drawCharts();
      } catch (e) {
        this.error = e.message;
      }
      const controller = new AbortController();
      this._stream = controller;
      while (this._stream === controller) {
        try {
          await followEvents(this.token, (msg) => this.onSample(msg), controller.signal);
        } catch (e) {
          if (controller.signal.aborted) return;
        }
        this.live = false;
        await new Promise((r) => setTimeout(r, 2000));
      }
    },

    restartStream() {
      if (this._stream) this._stream.abort();
      this._stream = null;
      this.live = false;
      this.startStream();
    },

    onSample(msg) {
      this.live = true;
      this.s = msg.summary;
      this.point = msg.point;
      this.points.push(msg.point);
      const oldest = msg.point.t - HOUR;
      while (this.points.length && this.points[0].t < oldest) this.points.shift();
      this.drawCharts();
    },

    drawCharts() {
      if (this.page !== "overview" || typeof uPlot === "undefined") return;
      if (!this._charts) this._charts = makeCharts();
      const t = this.points.map((p) => p.t);
      for (const [id, spec] of Object.entries(SERIES)) {
        const columns = spec.keys.map(([key]) => this.points.map((p) => key === "rss_mb" ? p.rss / 1048576 : p[key]));
        this._charts[id].setData([t, ...columns]);
      }
    },

    // -- the supervision tree (built with DOM nodes: names are text, never markup) ----
    drawTree(root) {
      const box = document.getElementById("tree");
      box.replaceChildren(this.treeNode(root, ""));
    },

    treeNode(node, prefix) {
      const path = prefix ? prefix + "/" + node.name : node.name;
      const label = document.createElement("span");
      label.className = "node " + (node.running ? "up" : "down");
      if (node.kind !== "supervisor") {
        const leaf = document.createElement("div");
        leaf.className = "leaf";
        const extra = node.restarts !== undefined ? " · " + node.restarts + " restarts" : "";
        label.textContent = node.name + " · " + node.kind + (node.running ? "" : " · down") + extra;
        leaf.appendChild(label);
        return leaf;
      }
      label.textContent = node.name + " · supervisor" + (node.running
        ? " · " + node.child_count + " children · " + node.restarts + " restarts · intensity " +
          node.recent_restarts + "/" + node.max_restarts + " in " + node.max_seconds + " s (" +
          Math.round(node.intensity_use * 100) + "%)"
        : " · down");
      const details = document.createElement("details");
      details.open = !this.treeClosed.has(path);
      details.addEventListener("toggle", () => {
        if (details.open) this.treeClosed.delete(path); else this.treeClosed.add(path);
      });
      const summary = document.createElement("summary");
      summary.appendChild(label);
      details.appendChild(summary);
      const list = document.createElement("div");
      list.className = "children";
      const rows = node.children || [];
      for (const child of rows) list.appendChild(this.treeNode(child, path));
      if (rows.length < node.child_count) {
        const more = document.createElement("a");
        more.href = "#/agents";
        more.textContent = "… " + (node.child_count - rows.length) + " more on the Agents page";
        list.appendChild(more);
      }
      details.appendChild(list);
      return details;
    },

    // -- formatting -------------------------------------------------------------------
    stale(n) { return n.status !== "alive" || Date.now() / 1000 - n.last_seen > 30; },
    fmt(v) { return v === undefined || v === null ? "—" : Number(v).toLocaleString("en-US"); },
    num(v, digits) { return v === undefined || v === null ? "—" : Number(v).toFixed(digits); },
    ms(v) { return v === undefined || v === null ? "—" : Number(v).toFixed(v < 10 ? 2 : 0) + " ms"; },
    pct(v) { return v === undefined || v === null ? "—" : (v * 100).toFixed(1) + "%"; },
    money(v) { return v === undefined || v === null ? "—" : "$" + Number(v).toFixed(4); },
    bytes(v) {
      if (v === undefined || v === null) return "—";
      const units = ["B", "KB", "MB", "GB"];
      let i = 0;
      while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
      return v.toFixed(i ? 1 : 0) + " " + units[i];
    },
    dur(s) {
      if (s === undefined) return "—";
      const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
      return h ? h + " h " + m + " m" : m ? m + " m " + Math.floor(s % 60) + " s" : Math.floor(s) + " s";
    },
    ago(t) { return Math.max(0, Date.now() / 1000 - t).toFixed(1) + " s ago"; },
    clock(t) { return new Date(t * 1000).toLocaleTimeString(); },
    stepText(st) {
      return st.kind === "llm"
        ? "LLM " + st.name + " " + this.ms(st.ms) + " (" + st.input_tokens + "→" + st.output_tokens + " tokens)"
        : "tool " + st.name + " " + this.ms(st.ms) + (st.ok ? "" : " failed");
    },
  }));
});
