// What-if thresholds for a completed job: the curve "documents removed at threshold t" of one stage's threshold, the run's
// threshold marked, the count at a chosen t, and (operators only) the adjusted spec submitted as a new job — never an
// in-place change. Every value from the API is set with textContent or as an SVG attribute.
"use strict";
(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);
  const key = () => sessionStorage.getItem("curation.key") || "";
  const detail = $("job-detail");
  const shown = { job: null, answer: null, failedAt: 0 };
  const fmt = (n) => Number(n).toLocaleString("en-US", { maximumFractionDigits: 4 });
  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined) node.textContent = String(text);
    return node;
  }

  async function call(path, options = {}) {
    const response = await fetch(path, { ...options, headers: { "X-Api-Key": key(), ...(options.headers || {}) } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || (body.errors || []).map((e) => `${e.field}: ${e.message}`).join("; ") || response.statusText);
    return body;
  }

  const base = () => `/api/jobs/${encodeURIComponent(shown.job)}/whatif`;

  async function load(jobId) {
    shown.job = jobId;
    shown.answer = null;
    $("whatif-section").hidden = true;
    try {
      const options = await call(base());
      if (shown.job !== jobId || options.length === 0) return;
      $("whatif-field").replaceChildren(...options.flatMap((o) => o.fields.map((f) => {
        const option = document.createElement("option");
        option.value = `${o.folder}|${f}`;
        option.textContent = `${o.folder} · ${f}`;
        return option;
      })));
      $("whatif-section").hidden = false;
      await count(null);
    } catch (e) {
      // A failed load (the silo busy, a request cut) is tried again on a later refresh of the job view, not given up.
      $("whatif-result").textContent = e.message;
      if (shown.job === jobId) { shown.job = null; shown.failedAt = Date.now(); }
    }
  }

  async function count(threshold) {
    const [stage, field] = $("whatif-field").value.split("|");
    const query = new URLSearchParams({ stage, field });
    if (threshold !== null && threshold !== "" && !Number.isNaN(Number(threshold))) query.set("threshold", String(threshold));
    try {
      let answer = await call(`${base()}?${query}`);
      if (answer.threshold == null) { query.set("threshold", String(answer.current)); answer = await call(`${base()}?${query}`); }
      shown.answer = answer;
      $("whatif-threshold").value = answer.threshold;
      draw(answer);
      const now = `now ${fmt(answer.removed)} of ${fmt(answer.documents)} removed at ${answer.field} = ${fmt(answer.current)}`;
      $("whatif-result").textContent = `${answer.folder}: at ${answer.field} = ${fmt(answer.threshold)}, ${fmt(answer.removedAtThreshold)} ` +
        `documents removed (${answer.exact ? "exact" : "from the histogram, to its bin"}); ${now}.`;
      $("whatif-result").dataset.removed = answer.removedAtThreshold;
      $("whatif-result").dataset.exact = answer.exact;
    } catch (e) { $("whatif-result").textContent = e.message; }
  }

  function draw(answer) {
    const chart = $("whatif-curve");
    chart.replaceChildren();
    const curve = answer.curve;
    const xs = curve.map((p) => p.threshold), max = Math.max(1, ...curve.map((p) => p.removed));
    const lo = Math.min(...xs, answer.current), hi = Math.max(...xs, answer.current);
    // A measure binned on a log scale (characters, words) is drawn on one: its curve's points are evenly spaced there.
    const log = answer.histogram && answer.histogram.log;
    const scale = log ? (t) => Math.log1p(Math.max(0, t)) : (t) => t, unscale = log ? (v) => Math.expm1(v) : (v) => v;
    const x = (t) => 40 + 370 * (scale(t) - scale(lo)) / Math.max(1e-12, scale(hi) - scale(lo));
    chart.dataset.scale = log ? "log" : "linear";
    const y = (n) => 140 - 125 * n / max;
    chart.append(svg("line", { x1: 40, y1: 140, x2: 410, y2: 140, stroke: "#999" }), svg("line", { x1: 40, y1: 15, x2: 40, y2: 140, stroke: "#999" }),
      svg("text", { x: 2, y: 18 }, fmt(max)), svg("text", { x: 30, y: 140, "text-anchor": "end" }, "0"),
      svg("text", { x: 40, y: 156 }, fmt(lo)), svg("text", { x: 410, y: 156, "text-anchor": "end" }, fmt(hi)),
      svg("text", { x: 225, y: 168, "text-anchor": "middle" }, `${answer.field} (${answer.measure}${log ? ", log scale" : ""})`));
    chart.append(svg("polyline", { id: "whatif-line", points: curve.map((p) => `${x(p.threshold)},${y(p.removed)}`).join(" "),
      fill: "none", stroke: "#3d7bf7", "stroke-width": 2 }));
    const mark = (t, color, cls, label) => chart.append(
      svg("line", { x1: x(t), y1: 15, x2: x(t), y2: 140, stroke: color, "stroke-dasharray": "4 3", class: cls, "data-threshold": t }),
      svg("text", { x: x(t) > 330 ? x(t) - 3 : x(t) + 3, y: cls === "current" ? 26 : 38, fill: color, "text-anchor": x(t) > 330 ? "end" : "start" }, label));
    mark(answer.current, "#d33", "current", `run: ${fmt(answer.current)}`);
    if (answer.threshold !== answer.current) mark(answer.threshold, "#2e9e5b", "chosen", `what if: ${fmt(answer.threshold)}`);
    // A click on the chart asks for the count at that threshold.
    chart.onclick = (e) => {
      const box = chart.getBoundingClientRect();
      const px = (e.clientX - box.left) * 420 / box.width;
      if (px >= 40 && px <= 410) count(+unscale(scale(lo) + (scale(hi) - scale(lo)) * (px - 40) / 370).toFixed(4));
    };
  }

  $("whatif-form").addEventListener("submit", (e) => { e.preventDefault(); count($("whatif-threshold").value); });
  $("whatif-field").addEventListener("change", () => count(null));
  $("whatif-run").addEventListener("click", async () => {
    const spec = shown.answer?.adjustedSpec;
    if (!spec) return;
    try {
      const result = await call("/api/jobs", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(spec) });
      $("whatif-result").textContent = `Submitted ${result.jobId} (output ${spec.output.path}); this job's output is unchanged.`;
      $("whatif-result").dataset.submitted = result.jobId;
    } catch (e) { $("whatif-result").textContent = e.message; }
  });

  // The job view (app.js) marks the shown job and its state on #job-detail; a completed job gets its what-if.
  new MutationObserver(() => {
    const jobId = detail.dataset.job;
    if (detail.dataset.state === "Completed" && jobId && jobId !== shown.job && Date.now() - shown.failedAt > 3000) load(jobId);
    else if (detail.dataset.state !== "Completed") { shown.job = null; $("whatif-section").hidden = true; }
  }).observe(detail, { attributes: true, attributeFilter: ["data-job", "data-state"] });
})();
