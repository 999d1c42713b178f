// The platform and style pickers, built from the engine's description (Python is the single
// source of the platform targets and the style names). Usable before or after a file is dropped.

const PLATFORM_LABELS = {
  spotify: "Spotify",
  apple: "Apple Music",
  youtube: "YouTube",
  tidal: "Tidal",
  amazon: "Amazon Music",
  deezer: "Deezer",
  club: "Club / CD",
};

const capitalise = (s) => s.charAt(0).toUpperCase() + s.slice(1);

export function createIntentPicker(platformEl, styleEl, noteEl, onChange) {
  platformEl.disabled = true;
  styleEl.disabled = true;
  const changed = () => onChange();
  platformEl.addEventListener("change", changed);
  styleEl.addEventListener("change", changed);
  return {
    // `description` is describe()'s {platforms: {name: target_lufs}, styles: [...], defaults}.
    fill(description) {
      platformEl.replaceChildren(
        ...Object.entries(description.platforms).map(([name, targetLufs]) => {
          const label = `${PLATFORM_LABELS[name] ?? capitalise(name)} (${targetLufs} LUFS)`;
          return new Option(label, name, false, name === description.default_intent.platform);
        }),
      );
      styleEl.replaceChildren(
        ...description.styles.map(
          (name) => new Option(capitalise(name), name, false, name === description.default_intent.style),
        ),
      );
      noteEl.textContent = `True-peak ceiling ${description.default_intent.ceiling_dbtp} dBTP.`;
      platformEl.disabled = false;
      styleEl.disabled = false;
    },
    // The intent sent to the decision: platform and style; the rest takes the defaults.
    value() {
      return { platform: platformEl.value || "spotify", style: styleEl.value || "balanced" };
    },
  };
}
