// What the master is for: platform (or a custom target), true-peak ceiling, style and intensity.
// Built from the engine's description (mixmaster.params is the single source of the platforms,
// styles, ranges and defaults); usable before or after a file is dropped.

const PLATFORM_LABELS = {
  spotify: "Spotify",
  apple: "Apple Music",
  youtube: "YouTube",
  tidal: "Tidal",
  amazon: "Amazon Music",
  deezer: "Deezer",
  club: "Club / CD",
};
const CUSTOM = "custom";

export const capitalise = (s) => s.charAt(0).toUpperCase() + s.slice(1);

function setRange(input, field, value) {
  input.min = String(field.min);
  input.max = String(field.max);
  input.step = String(field.step ?? "any");
  input.value = String(value);
}

// els: {platform, target, targetRow, ceiling, style, intensity, intensityOut}
export function createIntentPicker(els, onChange) {
  const all = [els.platform, els.target, els.ceiling, els.style, els.intensity];
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

  return {
    // `description` is mixmaster.api.describe(): platforms, styles, intent fields, defaults.
    fill(description) {
      defaults = description.default_intent;
      const fields = description.intent;
      els.platform.replaceChildren(
        ...Object.entries(description.platforms).map(([name, targetLufs]) => {
          const label = `${PLATFORM_LABELS[name] ?? capitalise(name)} (${targetLufs} LUFS)`;
          return new Option(label, name, false, name === defaults.platform);
        }),
        new Option("Custom target", CUSTOM),
      );
      els.style.replaceChildren(
        ...description.styles.map(
          (name) => new Option(capitalise(name), name, false, name === defaults.style),
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
    // For the /api/jobs count: the platform, or "custom".
    platformName() {
      return els.platform.value || "spotify";
    },
  };
}
