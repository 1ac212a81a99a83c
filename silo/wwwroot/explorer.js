// Drop explorer: a document's fate, the chain of twins to the kept survivor, a drop beside its twin with the words
// that differ highlighted, and pages of drops. Read-only (no action controls, for viewers and operators alike).
// Every document text is set with textContent (or as text nodes): markup in a document stays text.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const key = () => sessionStorage.getItem("curation.key") || "";
  const job = () => $("job-detail").dataset.job;
  const node = (tag, cls, ...children) => {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    for (const c of children) n.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
    return n;
  };

  async function get(path) {
    const response = await fetch(path, { headers: { "X-Api-Key": key() } });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  // Word-level longest common subsequence: the words of `a` not matched in `b` are marked (bounded: long texts are cut).
  function marked(a, b) {
    const x = (a || "").split(/(\s+)/).slice(0, 1200), y = (b || "").split(/(\s+)/).slice(0, 1200);
    const n = x.length, m = y.length, t = Array.from({ length: n + 1 }, () => new Uint16Array(m + 1));
    for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) t[i][j] = x[i] === y[j] ? t[i + 1][j + 1] + 1 : Math.max(t[i + 1][j], t[i][j + 1]);
    const out = node("div", "doc-full");
    let i = 0, j = 0;
    while (i < n) {
      if (j < m && x[i] === y[j]) { out.append(document.createTextNode(x[i])); i++; j++; }
      else if (j < m && t[i][j + 1] >= t[i + 1][j]) j++;
      else { out.append(/^\s+$/.test(x[i]) ? document.createTextNode(x[i]) : node("mark", "", x[i])); i++; }
    }
    return out;
  }

  function similarity(step) {
    if (step.reason === "exact_duplicate") return "identical text (exact hash)";
    if (step.similarity) return step.similarity + (step.detail ? ` · ${step.detail}` : "");
    return step.detail || "";
  }

  function renderFate(fate) {
    const chain = fate.chain;
    const head = node("p", "meta", `${fate.id}: ${fate.fate}` + (fate.stage ? ` by ${fate.stage} (${fate.reason})` : ""));
    const steps = node("ol", "chain", ...chain.map((s) => node("li", s.fate,
      node("code", "", s.id), ` ${s.fate}`, s.stage ? ` · ${s.stage} · ${s.reason}` : "", s.detail ? ` · ${s.detail}` : "",
      s.twin ? ` → twin ${s.twin}` : "", s.snapshot != null ? ` · snapshot ${s.snapshot}` : "")));
    const pairs = [];
    for (let k = 0; k + 1 < chain.length; k++) {
      const [doc, twin] = [chain[k], chain[k + 1]];
      pairs.push(node("div", "pair",
        node("div", "side", node("h4", "", `${doc.id} (dropped: ${doc.reason})`), doc.text == null ? node("p", "meta", "text not available") : marked(doc.text, twin.text)),
        node("div", "side", node("h4", "", `${twin.id} (${twin.fate})`), twin.text == null ? node("p", "meta", "text not available") : marked(twin.text, doc.text)),
        node("p", "similarity", `decided by: ${similarity(doc)}`)));
    }
    if (chain.length === 1 && chain[0].text != null) pairs.push(node("div", "doc-full", chain[0].text));
    $("explorer-result").replaceChildren(head, steps, ...pairs);
  }

  async function explore(id) {
    if (!job() || !id) return;
    $("explorer-id").value = id;
    try { renderFate(await get(`/api/jobs/${encodeURIComponent(job())}/documents/${encodeURIComponent(id)}`)); }
    catch (e) { $("explorer-result").replaceChildren(node("p", "error", e.message)); }
  }

  async function drops(after) {
    if (!job()) return;
    const reason = $("explorer-reason").value.trim();
    try {
      const page = await get(`/api/jobs/${encodeURIComponent(job())}/drops?limit=20` + (reason ? `&reason=${encodeURIComponent(reason)}` : "") +
        (after ? `&after=${encodeURIComponent(after)}` : ""));
      const rows = page.drops.map((d) => {
        const tr = node("tr", "", node("td", "", d.id), node("td", "", d.stage), node("td", "", d.reason), node("td", "", d.twin || ""));
        tr.dataset.id = d.id;
        tr.addEventListener("click", () => explore(d.id));
        return tr;
      });
      $("explorer-drops").tBodies[0].replaceChildren(...rows);
      $("explorer-next").hidden = !page.next;
      $("explorer-next").dataset.after = page.next || "";
    } catch (e) { $("explorer-result").replaceChildren(node("p", "error", e.message)); }
  }

  $("explorer-form").addEventListener("submit", (e) => { e.preventDefault(); explore($("explorer-id").value.trim()); });
  $("explorer-list").addEventListener("click", () => drops(null));
  $("explorer-next").addEventListener("click", () => drops($("explorer-next").dataset.after));
  // The output's report.html, fetched with the key and opened as a page of its own (it holds no script).
  $("corpus-report").addEventListener("click", async () => {
    try {
      const response = await fetch(`/api/jobs/${encodeURIComponent(job())}/report.html`, { headers: { "X-Api-Key": key() } });
      if (!response.ok) throw new Error((await response.json().catch(() => ({}))).error || response.statusText);
      window.open(URL.createObjectURL(new Blob([await response.text()], { type: "text/html" })), "_blank");
    } catch (e) { $("explorer-result").replaceChildren(node("p", "error", e.message)); }
  });
  window.curationExplore = explore;
})();
