// What was measured and done, as text: the analysis with its meanings, the loudness table, what
// each platform will do on playback, the engine's report rows, and how the parameters were
// decided. Every number and unit comes formatted from Python (mixmaster.studio / mixmaster.api).

function cells(tag, values) {
  const tr = document.createElement("tr");
  values.forEach((value, i) => {
    const cell = document.createElement(i === 0 ? "th" : tag);
    if (i === 0) cell.scope = "row";
    cell.textContent = value;
    tr.append(cell);
  });
  return tr;
}

function fillBody(table, rows) {
  table.tBodies[0].replaceChildren(...rows.map((values) => cells("td", values)));
}

// els: {analysis, analysisPanel, levels, platforms, rows, source, explanation, result}
export function createReport(els) {
  return {
    // rows: [{label, value, meaning}] (mixmaster.studio.analysis_rows)
    showAnalysis(rows) {
      fillBody(els.analysis, rows.map((r) => [r.label, r.value, r.meaning]));
      els.analysisPanel.hidden = false;
    },
    // out: the engine's master reply; decision: {label, explanation: [sentence]}
    showMaster(out, decision) {
      fillBody(els.levels, out.levels.map((r) => [r.label, r.before, r.after]));
      fillBody(
        els.platforms,
        out.platforms.map((r) => [r.label, r.target, r.text]),
      );
      els.rows.replaceChildren(
        ...out.rows.flatMap(({ label, value }) => {
          const dt = document.createElement("dt");
          dt.textContent = label;
          const dd = document.createElement("dd");
          dd.textContent = value;
          return [dt, dd];
        }),
      );
      els.source.textContent = decision.label;
      els.explanation.replaceChildren(
        ...decision.explanation.map((sentence) => {
          const li = document.createElement("li");
          li.textContent = sentence;
          return li;
        }),
      );
      els.result.hidden = false;
    },
    hide() {
      els.result.hidden = true;
      els.analysisPanel.hidden = true;
    },
  };
}
