// The reference track (optional): a second picker (data-testid="reference-input") and one
// slider per aspect to match (data-testid="match-<aspect>"), built from the engine's
// description of the match amounts (label, meaning, range, default). Only the reference's
// measurements are used, on this device.

// els: {input, name, clear, amounts}; onFile(file), onClear(), onAmounts() after a slider moves
export function createReferencePicker(els, { onFile, onClear, onAmounts }) {
  const sliders = new Map();
  els.input.addEventListener("change", () => {
    const file = els.input.files?.[0];
    els.input.value = "";
    if (file) onFile(file);
  });
  els.clear.addEventListener("click", () => onClear());
  return {
    // `aspects` is describe().match_amounts: {aspect: {label, doc, min, max, step, default}}
    build(aspects) {
      for (const [aspect, field] of Object.entries(aspects)) {
        const id = `match-${aspect}`;
        const wrap = document.createElement("div");
        wrap.className = "param";
        const label = document.createElement("label");
        label.htmlFor = id;
        label.textContent = `Match ${field.label.toLowerCase()}`;
        const out = document.createElement("output");
        out.htmlFor = id;
        const input = document.createElement("input");
        Object.assign(input, {
          type: "range",
          id,
          min: String(field.min),
          max: String(field.max),
          step: String(field.step ?? "any"),
          value: String(field.default),
        });
        input.dataset.testid = id;
        input.setAttribute("aria-describedby", `${id}-doc`);
        const doc = document.createElement("span");
        doc.id = `${id}-doc`;
        doc.className = "visually-hidden";
        doc.textContent = field.doc;
        const show = () => {
          out.textContent = `${Math.round(Number(input.value) * 100)} %`;
        };
        input.addEventListener("input", () => {
          show();
          onAmounts();
        });
        show();
        wrap.append(label, input, out, doc);
        els.amounts.append(wrap);
        sliders.set(aspect, input);
      }
    },
    amounts() {
      return Object.fromEntries([...sliders].map(([aspect, input]) => [aspect, Number(input.value)]));
    },
    // Show the reference: its name, a note such as "analysing…", or null when there is none.
    show(name, note = "") {
      els.name.textContent =
        name === null ? "No reference: the master follows the platform and style." : `Reference: “${name}”${note}`;
      els.clear.hidden = name === null;
      els.amounts.hidden = name === null;
    },
  };
}
