// arena-bench leaderboard: renders the embedded data with DOM calls only (textContent, never
// innerHTML), so no string from a submission can run as code.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("data").textContent);
  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text !== undefined && text !== null) e.textContent = text;
    return e;
  };
  const fmt = (e) => (e && e.mean !== null && e.mean !== undefined ? e.mean.toFixed(3) : "-");
  const ci = (e) => (e && e.lo !== null && e.lo !== undefined ? "[" + e.lo.toFixed(3) + ", " + e.hi.toFixed(3) + "]" : "");

  function metricCell(e) {
    const td = el("td", { "data-value": e && e.mean !== null ? e.mean : -1e9 });
    td.appendChild(document.createTextNode(fmt(e)));
    const c = ci(e);
    if (c) td.appendChild(el("span", { class: "ci" }, c));
    return td;
  }

  function sortable(table) {
    const headers = table.querySelectorAll("th");
    headers.forEach((th, col) => {
      th.addEventListener("click", () => {
        const desc = !th.classList.contains("sorted-desc");
        headers.forEach((h) => h.classList.remove("sorted-desc", "sorted-asc"));
        th.classList.add(desc ? "sorted-desc" : "sorted-asc");
        const body = table.tBodies[0];
        const rows = Array.from(body.rows);
        rows.sort((a, b) => {
          const x = a.cells[col].getAttribute("data-value"), y = b.cells[col].getAttribute("data-value");
          const nx = parseFloat(x), ny = parseFloat(y);
          const cmp = !isNaN(nx) && !isNaN(ny) ? nx - ny : String(x).localeCompare(String(y));
          return desc ? -cmp : cmp;
        });
        rows.forEach((r) => body.appendChild(r));
      });
    });
  }

  function leaderboardTable(target) {
    if (!data.entries.length) {
      target.appendChild(el("p", { class: "note", id: "no-entries" }, data.empty_note ||
        "No run on this split has been accepted yet."));
      return;
    }
    const cols = data.columns;
    const table = el("table", { id: "leaderboard" });
    const head = el("tr");
    ["Rank", "Rank 95% CI", "Model"].forEach((h, i) => head.appendChild(el("th", { class: i === 2 ? "name" : "" }, h)));
    head.appendChild(el("th", { title: "self-reported: a submitted run (the panel's moves verified, the model's own cannot be); maintainers: run by the maintainers" }, "Source"));
    cols.forEach((c) => head.appendChild(el("th", { title: c.definition || "" }, c.label)));
    if (data.heldout) {
      head.appendChild(el("th", { title: "Arena Score on the maintainers' held-out set" }, "Held-out Arena Score"));
      head.appendChild(el("th", { title: "public minus held-out, 95% interval; flagged when it is above 0" },
        "Public - held-out"));
    }
    head.appendChild(el("th", {}, "Games"));
    table.appendChild(el("thead")).appendChild(head);
    const body = el("tbody");
    data.entries.forEach((entry) => {
      const tr = el("tr", { "data-model": entry.model });
      tr.appendChild(el("td", { "data-value": entry.rank }, String(entry.rank)));
      tr.appendChild(el("td", { "data-value": entry.rank_interval[0] }, entry.rank_interval[0] + "-" + entry.rank_interval[1]));
      const name = el("td", { class: "name", "data-value": entry.model });
      if (entry.page) name.appendChild(el("a", { href: "models/" + entry.page }, entry.model));
      else name.textContent = entry.model + (entry.people ? " (" + entry.people + ")" : "");
      tr.appendChild(name);
      tr.appendChild(el("td", { class: "source source-" + (entry.source || "self-reported"), "data-value": entry.source || "" },
        entry.source || "self-reported"));
      cols.forEach((c) => tr.appendChild(metricCell(entry.metrics[c.key])));
      if (data.heldout) {
        tr.appendChild(metricCell(entry.heldout));
        const gap = entry.contamination;
        const td = el("td", { class: "gap", "data-value": gap ? gap.gap : -1e9 });
        if (gap) {
          td.appendChild(document.createTextNode(gap.gap.toFixed(3)));
          td.appendChild(el("span", { class: "ci" }, "[" + gap.lo.toFixed(3) + ", " + gap.hi.toFixed(3) + "]"));
          if (gap.flag) td.appendChild(el("span", { class: "flag", title: "public score above held-out beyond the interval" },
            "contamination?"));
        } else {
          td.appendChild(document.createTextNode("-"));
        }
        tr.appendChild(td);
      }
      tr.appendChild(el("td", { "data-value": entry.games }, String(entry.games)));
      body.appendChild(tr);
    });
    table.appendChild(body);
    target.appendChild(table);
    sortable(table);
  }

  const colour = (v) => "hsl(" + Math.round(v * 120) + ",60%," + (75 - v * 25) + "%)";

  function heatmap(target) {
    if (!data.entries.length) {
      target.appendChild(el("p", { class: "note" }, "Nothing to show until a run is accepted."));
      return;
    }
    const rows = data.entries.map((e) => e.model);
    // columns in the rows' rank order, then the opponents that have no row of their own
    const ranked = rows.filter((r) => data.opponents.includes(r));
    const cols = ranked.concat(data.opponents.filter((o) => !rows.includes(o)).sort());
    const cw = 62, ch = 24, left = 220, top = 110;
    // room on the right for the last label, drawn at 45 degrees, and for the colour legend
    const longest = Math.max(0, ...cols.map((c) => c.length));
    const right = Math.max(40, Math.round(longest * 6 * 0.71)) + 10;
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", left + cols.length * cw + right);
    svg.setAttribute("height", top + rows.length * ch + 50);
    svg.setAttribute("id", "crossplay");
    const text = (x, y, s, anchor, rot) => {
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", x); t.setAttribute("y", y);
      if (anchor) t.setAttribute("text-anchor", anchor);
      if (rot) t.setAttribute("transform", "rotate(-45 " + x + " " + y + ")");
      t.textContent = s;
      svg.appendChild(t);
    };
    cols.forEach((c, j) => text(left + j * cw + cw / 2, top - 8, c, "start", true));
    rows.forEach((r, i) => {
      text(left - 6, top + i * ch + 16, r, "end");
      cols.forEach((c, j) => {
        const e = (data.crossplay[r] || {})[c];
        const rect = document.createElementNS(ns, "rect");
        rect.setAttribute("x", left + j * cw); rect.setAttribute("y", top + i * ch);
        rect.setAttribute("width", cw - 2); rect.setAttribute("height", ch - 2);
        const v = e && e.mean !== null ? Math.max(0, Math.min(1, e.mean)) : null;
        rect.setAttribute("fill", v === null ? "#eeeeee" : colour(v));
        const title = document.createElementNS(ns, "title");
        title.textContent = r + " vs " + c + ": " + fmt(e) + " " + ci(e);
        rect.appendChild(title);
        svg.appendChild(rect);
        if (v !== null) text(left + j * cw + cw / 2 - 1, top + i * ch + 16, e.mean.toFixed(2), "middle");
      });
    });
    // the legend: the colour scale from 0 to 1, and grey for pairs that never played
    const ly = top + rows.length * ch + 18, steps = 10, sw = 16;
    const legend = document.createElementNS(ns, "g");
    legend.setAttribute("id", "crossplay-legend");
    svg.appendChild(legend);
    const put = (node) => legend.appendChild(node);
    for (let k = 0; k <= steps; k++) {
      const r = document.createElementNS(ns, "rect");
      r.setAttribute("x", left + k * sw); r.setAttribute("y", ly);
      r.setAttribute("width", sw); r.setAttribute("height", 12);
      r.setAttribute("fill", colour(k / steps));
      put(r);
    }
    const label = (x, s, anchor) => {
      const t = document.createElementNS(ns, "text");
      t.setAttribute("x", x); t.setAttribute("y", ly + 24);
      if (anchor) t.setAttribute("text-anchor", anchor);
      t.textContent = s;
      put(t);
    };
    label(left, "0", "start");
    label(left + (steps + 1) * sw, "1", "end");
    const caption = document.createElementNS(ns, "text");
    caption.setAttribute("x", left - 6); caption.setAttribute("y", ly + 10);
    caption.setAttribute("text-anchor", "end");
    caption.textContent = "Arena Score of row vs column";
    put(caption);
    const grey = document.createElementNS(ns, "rect");
    grey.setAttribute("x", left + (steps + 1) * sw + 24); grey.setAttribute("y", ly);
    grey.setAttribute("width", sw); grey.setAttribute("height", 12); grey.setAttribute("fill", "#eeeeee");
    put(grey);
    const gl = document.createElementNS(ns, "text");
    gl.setAttribute("x", left + (steps + 2) * sw + 28); gl.setAttribute("y", ly + 10);
    gl.textContent = "not played";
    put(gl);
    target.appendChild(svg);
  }

  function strata(target) {
    if (!data.entries.length) {
      target.appendChild(el("p", { class: "note" }, "Nothing to show until a run is accepted."));
      return;
    }
    const table = el("table", { id: "strata" });
    const head = el("tr");
    head.appendChild(el("th", { class: "name" }, "Model"));
    data.strata.forEach((s) => head.appendChild(el("th", {}, s)));
    table.appendChild(el("thead")).appendChild(head);
    const body = el("tbody");
    data.entries.forEach((entry) => {
      const tr = el("tr");
      tr.appendChild(el("td", { class: "name", "data-value": entry.model }, entry.model));
      data.strata.forEach((s) => tr.appendChild(metricCell((data.by_stratum[entry.model] || {})[s])));
      body.appendChild(tr);
    });
    table.appendChild(body);
    target.appendChild(table);
    sortable(table);
  }

  function transcripts(target) {
    (data.transcripts || []).forEach((g) => {
      const box = el("div", { class: "transcript" });
      box.appendChild(el("strong", {}, g.title));
      g.lines.forEach((line) => {
        box.appendChild(el("div", { class: "turn" }, line.text));
        if (line.message) box.appendChild(el("div", { class: "msg" }, "\u201c" + line.message + "\u201d"));
      });
      box.appendChild(el("div", { class: "turn" }, g.result));
      target.appendChild(box);
    });
  }

  const slots = {
    "leaderboard-slot": leaderboardTable, "crossplay-slot": heatmap, "strata-slot": strata, "transcripts-slot": transcripts,
  };
  for (const [id, fn] of Object.entries(slots)) {
    const target = document.getElementById(id);
    if (target) fn(target);
  }
})();
