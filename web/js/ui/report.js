// What was done: the engine's report rows (label/value pairs written by mixmaster.api, so the
// numbers and their units come from Python) and how the parameters were decided.

export function createReport(sectionEl, listEl, sourceEl, explanationEl) {
  return {
    show(rows, decision) {
      listEl.replaceChildren(
        ...rows.flatMap(({ label, value }) => {
          const dt = document.createElement("dt");
          dt.textContent = label;
          const dd = document.createElement("dd");
          dd.textContent = value;
          return [dt, dd];
        }),
      );
      sourceEl.textContent = decision.label;
      explanationEl.replaceChildren(
        ...decision.explanation.map((sentence) => {
          const li = document.createElement("li");
          li.textContent = sentence;
          return li;
        }),
      );
      sectionEl.hidden = false;
    },
    hide() {
      sectionEl.hidden = true;
    },
  };
}
