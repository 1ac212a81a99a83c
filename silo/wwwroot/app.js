// Curation dashboard: plain JS, polling the REST API with the key kept in sessionStorage.
// Every value that comes from the API (names, errors, document text) is set with textContent, never parsed as HTML.
"use strict";
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const state = { key: sessionStorage.getItem("curation.key") || "", role: null, selected: null, samples: {}, lastReport: null };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    // Inline style attributes are refused by the page's Content-Security-Policy; styles set through the CSSOM are not.
    for (const [k, v] of Object.entries(attrs || {})) if (k === "style") node.style.cssText = v; else node.setAttribute(k, v);
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
    return node;
  }
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = String(text);
    return node;
  }
  const fmt = (n) => (n === null || n === undefined) ? "" : Number(n).toLocaleString("en-US", { maximumFractionDigits: 1 });
  const time = (t) => t ? new Date(t).toLocaleTimeString() : "";
  const message = (text) => { $("message").textContent = text || ""; };

  async function api(path, options = {}) {
    const response = await fetch(path, { ...options, headers: { "X-Api-Key": state.key, ...(options.headers || {}) } });
    if (response.status === 401) throw new Error("This API key is not accepted (401).");
    if (response.status === 403) throw new Error("This API key's role may not do that (403).");
    const body = response.headers.get("content-type")?.includes("json") ? await response.json() : await response.text();
    if (!response.ok) { const e = new Error(body?.error || response.statusText); e.body = body; e.status = response.status; throw e; }
    return body;
  }

  async function login() {
    try {
      const me = await api("/api/me");
      state.role = me.role;
      $("role").textContent = me.role;
      for (const node of document.querySelectorAll(".operator-only")) node.hidden = me.role !== "operator";
      message("");
      await refresh();
    } catch (e) { state.role = null; $("role").textContent = ""; message(e.message); }
  }

  async function refresh() {
    if (!state.role) return;
    try {
      const [jobs, silos, schedules] = await Promise.all([api("/api/jobs"), api("/api/silos"), api("/api/schedules")]);
      renderJobs(jobs);
      renderSchedules(schedules);
      renderSilos(silos);
      // The selected job comes by its event stream; polling is the fallback when the stream is not open.
      if (state.selected && state.stream?.jobId !== state.selected) await refreshJob(state.selected);
    } catch (e) { message(e.message); }
  }

  // Server-sent events for the selected job (GET /api/jobs/{id}/events), read with fetch so the API key goes in a
  // header; when the stream cannot be opened or breaks, refresh() polls the job again.
  function follow(jobId) {
    state.stream?.controller.abort();
    state.stream = null;
    const controller = new AbortController();
    const stream = { jobId, controller };
    (async () => {
      try {
        const response = await fetch(`/api/jobs/${encodeURIComponent(jobId)}/events`, { headers: { "X-Api-Key": state.key }, signal: controller.signal });
        if (!response.ok || !response.body) return;
        state.stream = stream;
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
            if (data && state.selected === jobId) {
              const detail = $("job-detail");
              detail.dataset.events = String(Number(detail.dataset.events || 0) + 1); // how many views came pushed
              await showJob(JSON.parse(data));
            }
          }
        }
      } catch (e) {
        if (e.name !== "AbortError") console.debug("event stream closed", e);
      } finally {
        if (state.stream === stream) state.stream = null;
      }
    })();
  }

  function renderJobs(jobs) {
    const body = $("jobs").tBodies[0];
    body.replaceChildren(...jobs.map((j) => {
      const row = el("tr", { "data-job": j.jobId, class: j.jobId === state.selected ? "selected" : "" },
        el("td", {}, j.jobId), el("td", {}, el("span", { class: "state " + j.state }, j.state)),
        el("td", {}, `${j.tasksDone}/${j.tasksTotal}`), el("td", {}, fmt(j.inputRecords)), el("td", {}, fmt(j.kept)), el("td", {}, time(j.startedAt)));
      row.addEventListener("click", () => select(j.jobId));
      return row;
    }));
  }

  const when = (t) => t ? new Date(t).toLocaleString() : "";

  async function scheduleAction(id, action) {
    try {
      const path = `/api/schedules/${encodeURIComponent(id)}` + (action === "delete" ? "" : `/${action}`);
      await api(path, { method: action === "delete" ? "DELETE" : "POST" });
      await refresh();
    } catch (e) { message(e.message); }
  }

  function renderSchedules(schedules) {
    // Rebuilt only when something changed, so a button is not replaced under the operator's pointer every second.
    const key = state.role + JSON.stringify(schedules);
    if (key === state.schedulesKey) return;
    state.schedulesKey = key;
    $("schedules").tBodies[0].replaceChildren(...schedules.map((s) => {
      const last = s.lastRun;
      const lastCell = el("td", { class: "last-run" });
      if (last) {
        const link = el("a", { href: "#", class: "job-link", "data-job": last.jobId }, when(last.tick));
        link.title = last.jobId;
        link.addEventListener("click", (e) => { e.preventDefault(); select(last.jobId); });
        lastCell.append(link, " ", el("span", { class: "state " + last.state }, last.state));
      }
      if (s.queuedTick) lastCell.append(el("div", { class: "meta" }, `queued: ${when(s.queuedTick)}`));
      if (s.skippedTicks > 0) lastCell.append(el("div", { class: "meta" }, `skipped: ${fmt(s.skippedTicks)}`));
      const actions = el("div", { class: "operator-only actions" });
      actions.hidden = state.role !== "operator";
      const toggle = el("button", { type: "button", class: s.state === "paused" ? "resume" : "pause" }, s.state === "paused" ? "Resume" : "Pause");
      toggle.addEventListener("click", () => scheduleAction(s.id, s.state === "paused" ? "resume" : "pause"));
      const remove = el("button", { type: "button", class: "delete" }, "Delete");
      remove.addEventListener("click", () => { if (confirm(`Delete schedule ${s.id}?`)) scheduleAction(s.id, "delete"); });
      actions.append(toggle, " ", remove);
      return el("tr", { "data-schedule": s.id, "data-state": s.state },
        el("td", {}, s.id, el("div", { class: "meta" }, s.jobName)), el("td", { class: "cron" }, s.cron), el("td", {}, s.timeZone),
        el("td", {}, el("span", { class: "state " + s.state }, s.state), el("div", { class: "meta" }, s.overlap), actions),
        el("td", { class: "next-run" }, when(s.nextRun)), lastCell);
    }));
  }

  function renderSilos(silos) {
    $("silos").tBodies[0].replaceChildren(...silos.map((s) => el("tr", { "data-silo": s.address },
      el("td", {}, `${s.name} (${s.address})`), el("td", {}, el("span", { class: "state " + (s.healthy ? "Completed" : "Failed") }, s.status)),
      el("td", {}, s.roles.join(", ")), el("td", {}, time(s.startedAt)))));
  }

  async function select(jobId) {
    state.selected = jobId;
    state.lastReport = null;
    delete $("job-detail").dataset.events;
    $("job-detail").hidden = false;
    follow(jobId);
    await refresh();
  }

  async function refreshJob(jobId) {
    await showJob(await api(`/api/jobs/${encodeURIComponent(jobId)}`));
  }

  async function showJob(job) {
    const jobId = job.jobId;
    $("job-title").textContent = job.jobId;
    const badge = $("job-state");
    badge.textContent = job.state;
    badge.className = "state " + job.state;
    $("job-detail").dataset.state = job.state;
    $("job-detail").dataset.job = job.jobId;
    $("cancel").hidden = state.role !== "operator" || !(job.state === "Running" || job.state === "Pending");
    $("job-meta").textContent = `${job.shards} shards · started ${time(job.startedAt)}` +
      (job.elapsedSeconds != null ? ` · ${fmt(job.elapsedSeconds)} s` : "") + (job.output ? ` · output ${job.output}` : "") +
      (job.snapshot ? ` · snapshot ${job.snapshot.number}: ${fmt(job.snapshot.documents)} documents` +
        ` (${fmt(job.snapshot.carriedDocuments)} carried + ${fmt(job.snapshot.newDocuments)} new)` : "");
    $("job-error").textContent = [job.error, ...(job.warnings || [])].filter(Boolean).join(" · ");
    renderStages(job);
    await drawThroughput(job);
    renderFunnel(job.funnel || []);
    renderBooks(job);
    if (job.state === "Completed" && state.lastReport?.jobId !== job.jobId) {
      const report = await api(`/api/jobs/${encodeURIComponent(jobId)}/report`);
      const documents = await api(`/api/jobs/${encodeURIComponent(jobId)}/documents?limit=12`);
      state.lastReport = { jobId: job.jobId };
      renderHistograms(report);
      renderDocuments(documents);
      // The corpus report (report.json, written with the output): documents per language when the job identified them.
      renderLanguages(await api(`/api/jobs/${encodeURIComponent(jobId)}/report.json`).catch(() => null));
    } else if (job.state !== "Completed") {
      $("documents").tBodies[0].replaceChildren();
      $("cluster-figure").hidden = $("similarity-figure").hidden = true;
      $("language-figure").hidden = $("language-score-figure").hidden = true;
    }
  }

  function duration(seconds) {
    const s = Math.max(0, Math.round(seconds));
    return s >= 3600 ? `${Math.floor(s / 3600)} h ${Math.floor(s % 3600 / 60)} min` : s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
  }

  function renderStages(job) {
    $("stages").replaceChildren(...job.stages.map((s) => {
      // Finished tasks plus what the running tasks reported: a phase of one long task still moves.
      const pct = Math.round(100 * Math.max(s.fraction || 0, s.total > 0 ? s.done / s.total : 0));
      const bar = el("div", { class: "bar" }, el("div", { style: `width:${pct}%` }));
      const live = s.phaseDocumentsPerSecond != null && s.done < s.total
        ? ` · ${fmt(s.phaseDocumentsPerSecond)} docs/s now` + (s.phaseEtaSeconds != null ? ` · ETA ${duration(s.phaseEtaSeconds)}` : "")
        : ` · ${fmt(s.documentsPerSecond)} docs/s`;
      return el("div", { class: "stage", "data-stage": s.stage, "data-done": s.done, "data-total": s.total, "data-fraction": (s.fraction || 0).toFixed(3) },
        el("span", {}, `${s.stage} · ${s.currentPhase}`), bar, el("span", {}, `${s.done}/${s.total} · ${fmt(s.documentsIn)} docs${live}`));
    }));
  }

  // Throughput over time from the job's stored history (GET /api/jobs/{id}/history: documents processed in all, sampled
  // by the coordinator every few seconds), fetched again at most every 5 s: it survives reloads and shows finished jobs.
  async function drawThroughput(job) {
    const cached = state.samples[job.jobId];
    const now = Date.now() / 1000;
    if (!cached || (!cached.final && now - cached.fetched >= 5)) {
      const history = await api(`/api/jobs/${encodeURIComponent(job.jobId)}/history`);
      const points = history.map((h) => ({ t: Date.parse(h.at) / 1000, documents: h.documents }));
      state.samples[job.jobId] = { fetched: now, final: ["Completed", "Failed", "Cancelled"].includes(job.state), points };
    }
    const recorded = state.samples[job.jobId].points;
    const samples = recorded.slice(1).map((p, i) => ({ t: p.t, rate: Math.max(0, (p.documents - recorded[i].documents) / Math.max(0.001, p.t - recorded[i].t)) }));
    if (samples.length === 0) samples.push({ t: now, rate: 0 });
    const chart = $("throughput");
    chart.replaceChildren();
    const max = Math.max(1, ...samples.map((s) => s.rate));
    const t0 = samples[0].t, span = Math.max(1, samples[samples.length - 1].t - t0);
    const points = samples.map((s) => `${20 + 390 * (s.t - t0) / span},${140 - 120 * s.rate / max}`).join(" ");
    chart.append(svg("line", { x1: 20, y1: 140, x2: 410, y2: 140, stroke: "#999" }), svg("text", { x: 22, y: 14 }, `${fmt(max)} docs/s`),
      svg("polyline", { points, fill: "none", stroke: "#3d7bf7", "stroke-width": 2 }),
      svg("text", { x: 22, y: 155 }, `${fmt(span)} s of the job's history (${recorded.length} samples)`));
    const overall = job.stages.map((s) => `${s.stage}: ${fmt(s.documentsPerSecond)}`).join(" · ");
    chart.append(svg("title", {}, overall));
  }

  function renderFunnel(steps) {
    const chart = $("funnel");
    chart.replaceChildren();
    if (steps.length === 0) { chart.append(svg("text", { x: 10, y: 20 }, "The funnel appears when the job completed.")); return; }
    const max = Math.max(1, ...steps.map((s) => s.count));
    const h = Math.min(34, 190 / steps.length);
    steps.forEach((s, i) => {
      const w = Math.max(2, 300 * s.count / max);
      const g = svg("g", { "data-step": s.step, "data-count": s.count });
      g.append(svg("rect", { x: 90 + (300 - w) / 2, y: 5 + i * h, width: w, height: h - 6, fill: i === steps.length - 1 ? "#2e9e5b" : "#3d7bf7", rx: 3 }),
        svg("text", { x: 5, y: 5 + i * h + h / 2 }, s.step),
        svg("text", { x: 395, y: 5 + i * h + h / 2, "text-anchor": "end", class: "count" }, fmt(s.count)));
      chart.append(g);
    });
  }

  function renderBooks(job) {
    $("books").tBodies[0].replaceChildren(...job.stages.filter((s) => s.in != null).map((s) => el("tr", { "data-stage": s.stage },
      el("td", {}, s.stage), el("td", {}, fmt(s.in)), el("td", {}, fmt(s.kept)),
      el("td", {}, Object.entries(s.dropped).map(([k, v]) => `${k} ${fmt(v)}`).join(", ")),
      el("td", {}, Object.entries(s.quarantined).map(([k, v]) => `${k} ${fmt(v)}`).join(", ")),
      el("td", {}, fmt(s.documentsPerSecond)))));
  }

  function bars(chart, entries, label, line) {
    chart.replaceChildren();
    const max = Math.max(1, ...entries.map((e) => e[1]));
    const w = 390 / Math.max(1, entries.length);
    entries.forEach(([key, value], i) => {
      const h = 120 * value / max;
      chart.append(svg("rect", { x: 20 + i * w, y: 135 - h, width: Math.max(1, w - 2), height: h, fill: "#3d7bf7" }, undefined));
      chart.lastChild.append(svg("title", {}, `${label(key)}: ${fmt(value)}`));
      if (entries.length <= 12 || i % Math.ceil(entries.length / 10) === 0) chart.append(svg("text", { x: 20 + i * w, y: 150 }, label(key)));
    });
    if (line) {
      const x = 20 + 390 * line.at;
      chart.append(svg("line", { x1: x, y1: 10, x2: x, y2: 138, stroke: "#d33", "stroke-dasharray": "4 3", "data-eps": line.eps }),
        svg("text", { x: x - 4, y: 20, "text-anchor": "end", fill: "#d33" }, `1 − eps = ${1 - line.eps}`));
    }
  }

  function renderHistograms(report) {
    // From the semantic_dedup stage's structured report (manifest "reports"): cluster sizes in power-of-four buckets,
    // the histogram of M (highest similarity to an earlier member of the cluster) and the eps the run used.
    let clusters = null, similarity = null, eps = null;
    for (const r of Object.values(report.reports || {})) {
      if (!r || !r.maxSimilarityHistogram || !r.clusterSizes) continue;
      clusters = r.clusterSizes.buckets.map((b) => [b.upTo, b.clusters]);
      similarity = r.maxSimilarityHistogram.map((b) => [b.from, b.count]);
      eps = r.eps;
    }
    $("cluster-figure").hidden = !clusters;
    $("similarity-figure").hidden = !similarity;
    if (clusters) bars($("clusters"), clusters, (k) => `≤${k}`);
    if (similarity) bars($("similarity"), similarity, (k) => k.toFixed(2), eps == null ? null : { at: 1 - eps, eps });
  }

  function renderLanguages(corpus) {
    // Bars of the 12 most frequent languages (codes, counts in the tooltip) and the language_score histogram; labels are text nodes.
    const languages = (corpus?.languages || []).slice(0, 12).map((l) => [l.language, l.documents]);
    const scores = (corpus?.languageScores || []).map((b) => [b.from, b.count]);
    $("language-figure").hidden = languages.length === 0;
    $("language-score-figure").hidden = scores.length === 0;
    $("languages").dataset.languages = languages.map(([k, v]) => `${k}:${v}`).join(" ");
    if (languages.length) bars($("languages"), languages, (k) => String(k));
    if (scores.length) bars($("language-scores"), scores, (k) => k.toFixed(1));
  }

  function renderDocuments(documents) {
    $("documents").tBodies[0].replaceChildren(...documents.map((d) => el("tr", { "data-id": d.id },
      el("td", {}, d.id), el("td", { class: "doc-text" }, d.text))));
  }

  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    state.key = $("api-key").value.trim();
    sessionStorage.setItem("curation.key", state.key);
    login();
  });

  $("submit").addEventListener("click", async () => {
    $("submit-errors").replaceChildren();
    try {
      const result = await api("/api/jobs", { method: "POST", headers: { "Content-Type": "application/json" }, body: $("spec").value });
      message(`Submitted ${result.jobId}`);
      await select(result.jobId);
    } catch (e) {
      message(e.message);
      $("submit-errors").replaceChildren(...(e.body?.errors || []).map((x) => el("li", { "data-field": x.field }, `${x.field}: ${x.message}`)));
    }
  });

  $("cancel").addEventListener("click", async () => {
    if (!state.selected) return;
    try { await api(`/api/jobs/${encodeURIComponent(state.selected)}/cancel`, { method: "POST" }); await refresh(); }
    catch (e) { message(e.message); }
  });

  $("api-key").value = state.key;
  if (state.key) login();
  setInterval(refresh, 1000);
})();
