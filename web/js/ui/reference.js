// The reference track (optional): a second picker (data-testid="reference-input") and one
// slider per aspect to match (spectrum, loudness, width, dynamics), built from the engine's
// description. Only the reference's measurements are used, on this device.

import { capitalise } from "./intent.js";

const HELP = {
  spectrum: "tonal balance, mid and side separately",
  loudness: "its integrated loudness instead of the platform's",
  width: "its stereo width",
  dynamics: "its crest factor and peak-to-loudness ratio",
};

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
    // `defaults` is describe().match_amounts: {aspect: amount}
    build(defaults) {
      for (const [aspect, value] of Object.entries(defaults)) {
        const id = `match-${aspect}`;
        const wrap = document.createElement("div");
        wrap.className = "param";
        const label = document.createElement("label");
        label.htmlFor = id;
        label.textContent = `Match ${aspect}`;
        label.title = HELP[aspect] ?? capitalise(aspect);
        const out = document.createElement("output");
        out.htmlFor = id;
        const input = document.createElement("input");
        Object.assign(input, { type: "range", id, min: "0", max: "1", step: "0.05", value: String(value) });
        input.dataset.testid = id;
        const show = () => {
          out.textContent = `${Math.round(Number(input.value) * 100)} %`;
          input.setAttribute("aria-valuetext", `${out.textContent} of the reference's ${HELP[aspect] ?? aspect}`);
        };
        input.addEventListener("input", () => {
          show();
          onAmounts();
        });
        show();
        wrap.append(label, input, out);
        els.amounts.append(wrap);
        sliders.set(aspect, input);
      }
    },
    amounts() {
      return Object.fromEntries([...sliders].map(([aspect, input]) => [aspect, Number(input.value)]));
    },
    // Show the loaded reference (name, or null when there is none).
    show(name) {
      els.name.textContent = name === null ? "No reference: the master follows the platform and style." : `Reference: “${name}”`;
      els.clear.hidden = name === null;
      els.amounts.hidden = name === null;
    },
  };
}
