// What the master is for: platform (or a custom target), true-peak ceiling, style, intensity and
// the output format.
// Built from the engine's description (mixmaster.params is the single source of the platforms,
// styles, ranges and defaults); usable before or after a file is dropped.

const CUSTOM = "custom";

export const capitalise = (s) => s.charAt(0).toUpperCase() + s.slice(1);

function setRange(input, field, value) {
  input.min = String(field.min);
  input.max = String(field.max);
  input.step = String(field.step ?? "any");
  input.value = String(value);
}

// els: {platform, target, targetRow, ceiling, style, intensity, intensityOut, bits};
// onChange() after an intent change, onBits(bits) after a format change.
export function createIntentPicker(els, onChange, onBits) {
  const all = [els.platform, els.target, els.ceiling, els.style, els.intensity, els.bits];
  for (const el of all) el.disabled = true;
  let defaults = null;

  const showTarget = () => {
    els.targetRow.hidden = els.platform.value !== CUSTOM;
  };
  const showIntensity = () => {
    els.intensityOut.textContent = `${Math.round(Number(els.intensity.value) * 100)} %`;
  };
  els.platform.addEventListener("change", () => {
    showTarget();
    onChange();
  });
  for (const el of [els.target, els.ceiling, els.style]) el.addEventListener("change", () => onChange());
  els.intensity.addEventListener("input", () => {
    showIntensity();
    onChange();
  });
  els.bits.addEventListener("change", () => onBits(els.bits.value));

  return {
    // `description` is mixmaster.api.describe(): platforms, styles, intent fields, defaults.
    fill(description) {
      defaults = description.default_intent;
      const fields = description.intent;
      els.platform.replaceChildren(
        ...Object.entries(description.platforms).map(([name, targetLufs]) => {
          const label = `${description.platform_labels[name] ?? capitalise(name)} (${targetLufs} LUFS)`;
          return new Option(label, name, false, name === defaults.platform);
        }),
        new Option("Custom target", CUSTOM),
      );
      els.style.replaceChildren(
        ...description.styles.map(
          (name) => new Option(capitalise(name), name, false, name === defaults.style),
        ),
      );
      els.bits.replaceChildren(
        ...description.bit_depths.map(
          (bits) => new Option(description.bit_depth_labels[bits], bits, false, bits === description.default_bits),
        ),
      );
      setRange(els.target, fields.target_lufs, defaults.target_lufs);
      setRange(els.ceiling, fields.ceiling_dbtp, defaults.ceiling_dbtp);
      setRange(els.intensity, fields.intensity, defaults.intensity);
      showTarget();
      showIntensity();
      for (const el of all) el.disabled = false;
    },
    // The intent sent to the decision (and shown in the privacy receipt).
    value() {
      const custom = els.platform.value === CUSTOM;
      const intent = custom
        ? { target_lufs: Number(els.target.value) }
        : { platform: els.platform.value || "spotify" };
      intent.ceiling_dbtp = Number(els.ceiling.value);
      intent.style = els.style.value || "balanced";
      intent.intensity = Number(els.intensity.value);
      return intent;
    },
    bits() {
      return els.bits.value || "24";
    },
    // For the /api/jobs count: the platform, or "custom".
    platformName() {
      return els.platform.value || "spotify";
    },
  };
}
