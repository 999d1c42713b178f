// Loudness-matched A/B: the original and the master play together, in sync, each through its
// own gain; the switch crossfades in 30 ms, so the playback position is kept and nothing
// clicks. The louder of the two is turned down to the quieter one's integrated loudness (as
// measured by mixmaster), so what you compare is the processing, not the level.
// Keys: A = original, B = master, while the focus is in the result panel (not in a field), so
// single-key shortcuts never fire elsewhere on the page (WCAG 2.1.4). Looping plays a region over
// and over; the region can also be dragged on the waveform.

const FADE_S = 0.03;

const db = (gainDb) => 10 ** (gainDb / 20);
const clock = (s) => {
  const t = Math.max(0, Math.floor(s));
  return `${Math.floor(t / 60)}:${String(t % 60).padStart(2, "0")}`;
};

// Gains (dB) that play both at the quieter one's loudness; 0 dB each when either is silent.
export function matchGains(originalLufs, masterLufs) {
  if (!Number.isFinite(originalLufs) || !Number.isFinite(masterLufs)) return { original: 0, master: 0 };
  const quieter = Math.min(originalLufs, masterLufs);
  return { original: quieter - originalLufs, master: quieter - masterLufs };
}

// els: {scope, play, toggle, hearing, note, position, time, loop, loopStart, loopEnd, waveform}
// onRegion(region | null) redraws the waveform's highlighted region.
export function createPlayer(els, onRegion) {
  let ctx = null;
  let buffers = { original: null, master: null };
  let gains = { original: 0, master: 0 };
  let nodes = null; // {sources: {original, master}, faders: {original, master}}
  let side = "master";
  let startedAt = 0; // context time at which offset 0 would have played
  let playedLoop = null; // the loop region [a, b] the running sources play, or null
  let pausedAt = 0; // seconds into the track while stopped
  let duration = 0;
  let raf = 0;

  const audio = () => {
    ctx ??= new AudioContext({ latencyHint: "interactive" });
    return ctx;
  };
  const playing = () => nodes !== null;
  // From what the sources were started with, not the controls' current state.
  const position = () => {
    if (!playing()) return pausedAt;
    const t = ctx.currentTime - startedAt;
    if (playedLoop === null) return Math.min(t, duration);
    const [a, b] = playedLoop;
    return t < b ? t : a + ((t - a) % (b - a));
  };
  const region = () => {
    const a = Math.max(0, Math.min(Number(els.loopStart.value) || 0, duration));
    const b = Math.max(0, Math.min(Number(els.loopEnd.value) || duration, duration));
    return b - a > 0.05 ? [a, b] : [0, duration];
  };

  const render = () => {
    els.hearing.textContent = side === "master" ? "Now: B, the master" : "Now: A, the original";
    els.toggle.dataset.playing = side;
    els.toggle.dataset.originalGainDb = gains.original.toFixed(2);
    els.toggle.dataset.masterGainDb = gains.master.toFixed(2);
    els.play.textContent = playing() ? "Pause" : "Play";
  };
  const tick = () => {
    const t = position();
    els.time.textContent = `${clock(t)} / ${clock(duration)}`;
    if (document.activeElement !== els.position) els.position.value = String(t);
    if (playing() && playedLoop === null && t >= duration) stop();
    if (playing()) raf = requestAnimationFrame(tick);
  };

  function start(offset) {
    const c = audio();
    if (c.state === "suspended") c.resume().catch(() => {});
    const loop = els.loop.checked;
    const [a, b] = region();
    const at = loop ? Math.min(Math.max(offset, a), b) : Math.min(offset, duration);
    playedLoop = loop ? [a, b] : null;
    const make = (name) => {
      const source = c.createBufferSource();
      source.buffer = buffers[name];
      source.loop = loop;
      source.loopStart = a;
      source.loopEnd = b;
      const fader = c.createGain();
      fader.gain.value = name === side ? db(gains[name]) : 0;
      source.connect(fader).connect(c.destination);
      return { source, fader };
    };
    const o = make("original");
    const m = make("master");
    const when = c.currentTime + 0.02;
    o.source.start(when, at);
    m.source.start(when, at);
    nodes = { sources: { original: o.source, master: m.source }, faders: { original: o.fader, master: m.fader } };
    startedAt = when - at;
    render();
    cancelAnimationFrame(raf);
    raf = requestAnimationFrame(tick);
  }

  function stop() {
    if (!playing()) return;
    pausedAt = position();
    for (const s of Object.values(nodes.sources)) s.stop();
    nodes = null;
    render();
    tick();
  }

  function restartAt(offset) {
    if (playing()) {
      for (const s of Object.values(nodes.sources)) s.stop();
      nodes = null;
      start(offset);
    } else {
      pausedAt = offset;
      tick();
    }
  }

  function choose(next) {
    side = next;
    if (playing()) {
      const now = ctx.currentTime;
      for (const name of ["original", "master"]) {
        const g = nodes.faders[name].gain;
        g.cancelScheduledValues(now);
        g.setValueAtTime(g.value, now);
        g.linearRampToValueAtTime(name === side ? db(gains[name]) : 0, now + FADE_S);
      }
    }
    render();
  }

  const loopChanged = () => {
    const [a, b] = region();
    onRegion(els.loop.checked ? [a / duration, b / duration] : null);
    if (playing()) restartAt(position());
  };

  els.play.addEventListener("click", () => (playing() ? stop() : start(pausedAt >= duration ? 0 : pausedAt)));
  els.toggle.addEventListener("click", () => choose(side === "master" ? "original" : "master"));
  els.position.addEventListener("change", () => restartAt(Number(els.position.value)));
  els.loop.addEventListener("change", loopChanged);
  els.loopStart.addEventListener("change", loopChanged);
  els.loopEnd.addEventListener("change", loopChanged);
  els.scope.addEventListener("keydown", (event) => {
    if (buffers.master === null || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLElement && target.closest("input, select, textarea, [contenteditable]")) return;
    const key = event.key.toLowerCase();
    if (key === "a" || key === "b") {
      event.preventDefault();
      choose(key === "a" ? "original" : "master");
    }
  });

  // Drag on the waveform to pick the loop region.
  let dragFrom = null;
  const fraction = (event) => {
    const rect = els.waveform.getBoundingClientRect();
    return Math.min(1, Math.max(0, (event.clientX - rect.left) / rect.width));
  };
  els.waveform.addEventListener("pointerdown", (event) => {
    if (duration === 0) return;
    dragFrom = fraction(event);
    els.waveform.setPointerCapture(event.pointerId);
  });
  els.waveform.addEventListener("pointerup", (event) => {
    if (dragFrom === null) return;
    const to = fraction(event);
    const [a, b] = [Math.min(dragFrom, to), Math.max(dragFrom, to)];
    dragFrom = null;
    if (b - a < 0.005) {
      restartAt(a * duration); // a click seeks
      return;
    }
    els.loopStart.value = (a * duration).toFixed(1);
    els.loopEnd.value = (b * duration).toFixed(1);
    els.loop.checked = true;
    loopChanged();
  });

  const toBuffer = ({ channels, sample_rate_hz: sampleRate }) => {
    const buffer = new AudioBuffer({ numberOfChannels: channels.length, length: channels[0].length, sampleRate });
    channels.forEach((samples, i) => buffer.copyToChannel(samples, i));
    return buffer;
  };

  return {
    // A new track: drop what was playing. `audio` is {channels: Float32Array[], sample_rate_hz}.
    loadOriginal(audio) {
      stop();
      buffers = { original: toBuffer(audio), master: null };
      pausedAt = 0;
      duration = buffers.original.duration;
      for (const el of [els.position, els.loopStart, els.loopEnd]) {
        el.max = String(duration);
        el.step = "0.1";
      }
      els.loopStart.value = "0";
      els.loopEnd.value = duration.toFixed(1);
      els.loop.checked = false;
      onRegion(null);
      tick();
    },
    // A new master of the same track: keep playing from where we are.
    loadMaster(audio, originalLufs, masterLufs) {
      buffers.master = toBuffer(audio);
      gains = matchGains(originalLufs, masterLufs);
      const louder = gains.original < gains.master ? "original" : "master";
      const by = Math.abs(gains[louder]);
      els.note.textContent =
        by < 0.05
          ? "Both play at the same loudness already."
          : `Level-matched: the ${louder} plays ${by.toFixed(1)} dB quieter, so you compare the sound, not the loudness.`;
      if (playing()) restartAt(position());
      render();
    },
    unload() {
      stop();
      buffers = { original: null, master: null };
      duration = 0;
    },
  };
}
