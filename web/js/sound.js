// Sound effects, synthesised with WebAudio (no audio files), and the on/off preference.
// The preference is the only thing this app stores: localStorage "mixmaster.sound" = "on"/"off",
// written only when the person flips the toggle. Nothing else is stored anywhere.

export const SOUND_KEY = "mixmaster.sound";

export function soundEnabled() {
  try {
    return window.localStorage.getItem(SOUND_KEY) !== "off";
  } catch {
    return true; // storage blocked: sounds stay on for this visit, nothing is stored
  }
}

export function setSoundEnabled(on) {
  try {
    window.localStorage.setItem(SOUND_KEY, on ? "on" : "off");
  } catch {
    // storage blocked (private mode, policy): the choice holds for this visit only
  }
}

let context = null;

function audioContext() {
  context ??= new AudioContext({ latencyHint: "interactive" });
  if (context.state === "suspended") context.resume().catch(() => {});
  return context;
}

// One enveloped oscillator note: `type` waveform from `fromHz` to `toHz` over `durationS`,
// starting `atS` seconds from now, peaking at `gainLin`.
function note(ctx, { type = "sine", fromHz, toHz = fromHz, atS = 0, durationS, gainLin = 0.15 }) {
  const start = ctx.currentTime + atS;
  const osc = new OscillatorNode(ctx, { type, frequency: fromHz });
  osc.frequency.setValueAtTime(fromHz, start);
  osc.frequency.exponentialRampToValueAtTime(toHz, start + durationS);
  const env = new GainNode(ctx, { gain: 0 });
  env.gain.setValueAtTime(0, start);
  env.gain.linearRampToValueAtTime(gainLin, start + 0.01);
  env.gain.exponentialRampToValueAtTime(0.0001, start + durationS);
  osc.connect(env).connect(ctx.destination);
  osc.start(start);
  osc.stop(start + durationS + 0.02);
}

const SOUNDS = {
  // A short rising blip: the file was taken.
  drop: (ctx) => note(ctx, { fromHz: 440, toHz: 880, durationS: 0.12 }),
  // A two-note chime, a fifth apart: the master is ready.
  done: (ctx) => {
    note(ctx, { fromHz: 659.25, durationS: 0.25, gainLin: 0.12 });
    note(ctx, { fromHz: 987.77, atS: 0.12, durationS: 0.4, gainLin: 0.12 });
  },
  // A low falling buzz: something went wrong.
  error: (ctx) => note(ctx, { type: "square", fromHz: 220, toHz: 110, durationS: 0.3, gainLin: 0.05 }),
};

export function play(name) {
  if (!soundEnabled()) return;
  try {
    SOUNDS[name](audioContext());
  } catch {
    // no audio output available: sounds are decoration, never an error
  }
}
