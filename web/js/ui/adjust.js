// The stage controls: each stage's amount up front, every other field in an expert section.
// Built entirely from mixmaster.params' description (label, unit, range, step, default, expert);
// there is no list of parameters here. The values shown are the current master's parameters;
// what the person changes is kept as overrides on top of the decision, and "Reset" drops them.

// Set by the intent controls (target, ceiling) and the download format (bits), not here.
const ELSEWHERE = new Set(["loudness.target_lufs", "limiter.ceiling_dbtp", "output.bits"]);

function formatValue(field, value) {
  if (field.type === "boolean") return value ? "on" : "off";
  if (field.type === "string") return String(value);
  const decimals = field.step != null && field.step < 1 ? Math.min(2, String(field.step).split(".")[1]?.length ?? 2) : 0;
  const text = Number(value).toFixed(decimals).replace("-", "\u2212");
  if (field.name === "amount") return `${Math.round(Number(value) * 100)} %`;
  return field.unit ? `${text} ${field.unit}` : text;
}

function control(stage, field, onInput) {
  const id = `param-${stage.name}-${field.name}`;
  const wrap = document.createElement("div");
  wrap.className = "param";
  const label = document.createElement("label");
  label.htmlFor = id;
  label.textContent = field.name === "amount" ? `${stage.label}` : field.label;
  label.title = field.doc;
  const out = document.createElement("output");
  out.htmlFor = id;
  let input;
  if (field.type === "boolean") {
    input = document.createElement("input");
    input.type = "checkbox";
  } else if (field.choices != null) {
    input = document.createElement("select");
    input.append(...field.choices.map((c) => new Option(String(c), String(c))));
  } else {
    input = document.createElement("input");
    input.type = "range";
    input.min = String(field.min);
    input.max = String(field.max);
    input.step = field.step == null ? "any" : String(field.step);
  }
  input.id = id;
  input.dataset.stage = stage.name;
  input.dataset.field = field.name;
  input.setAttribute("aria-describedby", `${id}-doc`);
  const doc = document.createElement("span");
  doc.id = `${id}-doc`;
  doc.className = "visually-hidden";
  doc.textContent = field.doc;
  const read = () => {
    if (field.type === "boolean") return input.checked;
    if (field.type === "string") return input.value;
    const n = Number(input.value);
    return field.type === "integer" ? Math.round(n) : n;
  };
  const show = (value) => {
    out.textContent = formatValue(field, value);
    if (input.type === "range") input.setAttribute("aria-valuetext", out.textContent);
  };
  input.addEventListener(field.type === "number" || field.type === "integer" ? "input" : "change", () => {
    const value = read();
    show(value);
    onInput(stage.name, field.name, value);
  });
  wrap.append(label, input, out, doc);
  return {
    el: wrap,
    input,
    set(value) {
      if (field.type === "boolean") input.checked = Boolean(value);
      else input.value = String(value);
      show(value);
    },
  };
}

// els: {amounts, expert, reset, edited}; onChange(overrides) after every edit; onReset().
export function createAdjust(els, onChange, onReset) {
  const controls = new Map(); // "stage.field" -> control
  let overrides = {};

  const edited = () => {
    const n = Object.values(overrides).reduce((sum, s) => sum + Object.keys(s).length, 0);
    els.edited.textContent = n === 0 ? "As decided." : `${n} setting${n === 1 ? "" : "s"} changed by you.`;
    els.reset.disabled = n === 0;
  };
  const onInput = (stage, field, value) => {
    overrides = { ...overrides, [stage]: { ...(overrides[stage] ?? {}), [field]: value } };
    edited();
    onChange(overrides);
  };
  els.reset.addEventListener("click", () => {
    overrides = {};
    edited();
    onReset();
  });

  return {
    // Build the controls once, from mixmaster.api.describe().
    build(description) {
      const groups = [];
      for (const stage of description.stages) {
        const fields = stage.fields.filter((f) => !ELSEWHERE.has(`${stage.name}.${f.name}`));
        const amount = fields.find((f) => f.name === "amount");
        if (amount) {
          const c = control(stage, amount, onInput);
          controls.set(`${stage.name}.amount`, c);
          els.amounts.append(c.el);
        }
        const rest = fields.filter((f) => f.name !== "amount" && ["number", "integer", "string", "boolean"].includes(f.type));
        if (rest.length === 0) continue;
        const group = document.createElement("fieldset");
        const legend = document.createElement("legend");
        legend.textContent = stage.label;
        group.append(legend);
        for (const field of rest) {
          const c = control(stage, field, onInput);
          controls.set(`${stage.name}.${field.name}`, c);
          group.append(c.el);
        }
        groups.push(group);
      }
      els.expert.append(...groups);
      edited();
    },
    // Show the parameters of the current master ({stage: {field: value}}).
    show(params) {
      for (const [key, c] of controls) {
        const [stage, field] = key.split(".");
        const value = params?.[stage]?.[field];
        if (value !== undefined) c.set(value);
      }
    },
    overrides() {
      return overrides;
    },
    clear() {
      overrides = {};
      edited();
    },
  };
}

// The decision's parameters with the person's overrides on top.
export function applyOverrides(params, overrides) {
  const out = {};
  for (const [stage, fields] of Object.entries(params)) out[stage] = { ...fields, ...(overrides[stage] ?? {}) };
  return out;
}
