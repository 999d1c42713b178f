// The sound on/off button (data-testid="sound-toggle"), backed by js/sound.js's preference.

import { setSoundEnabled, soundEnabled } from "../sound.js";

export function createSoundToggle(buttonEl) {
  const render = () => {
    const on = soundEnabled();
    buttonEl.setAttribute("aria-pressed", String(on));
    buttonEl.textContent = on ? "Sound: on" : "Sound: off";
  };
  buttonEl.addEventListener("click", () => {
    setSoundEnabled(!soundEnabled());
    render();
  });
  render();
}
