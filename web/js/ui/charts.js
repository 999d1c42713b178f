// The two canvases: before/after waveforms on one amplitude scale, and before/after ⅓-octave
// spectra overlaid. They draw the decimated data the worker sends (mixmaster.studio), so a
// 60-minute file draws as fast as a 10-second one. Colours come from the stylesheet.

function colours(canvas) {
  const css = getComputedStyle(canvas);
  return {
    before: css.getPropertyValue("--chart-before").trim() || "#9aa6bf",
    after: css.getPropertyValue("--chart-after").trim() || "#34d399",
    grid: css.getPropertyValue("--chart-grid").trim() || "#2a3550",
    text: css.getPropertyValue("--chart-text").trim() || "#c9d1e3",
    region: css.getPropertyValue("--chart-region").trim() || "rgba(52, 211, 153, 0.15)",
  };
}

// Size the backing store to the element's CSS size (sharp on high-DPI screens).
function context2d(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = Math.max(1, Math.round(canvas.clientWidth * ratio));
  const height = Math.max(1, Math.round(canvas.clientHeight * ratio));
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, canvas.clientWidth, canvas.clientHeight);
  return { ctx, w: canvas.clientWidth, h: canvas.clientHeight };
}

function lane(ctx, env, x0, y0, w, h, colour) {
  const mid = y0 + h / 2;
  const n = env.min.length;
  ctx.fillStyle = colour;
  for (let px = 0; px < w; px++) {
    const a = Math.floor((px * n) / w);
    const b = Math.max(a + 1, Math.floor(((px + 1) * n) / w));
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = a; i < b && i < n; i++) {
      lo = Math.min(lo, env.min[i]);
      hi = Math.max(hi, env.max[i]);
    }
    if (hi < lo) continue;
    const top = mid - Math.min(1, hi) * (h / 2);
    const bottom = mid - Math.max(-1, lo) * (h / 2);
    ctx.fillRect(x0 + px, top, 1, Math.max(1, bottom - top));
  }
}

// before/after: {min: Float32Array, max: Float32Array}; region: [startFraction, endFraction] | null
export function drawWaveforms(canvas, before, after, region) {
  const { ctx, w, h } = context2d(canvas);
  const c = colours(canvas);
  const labelH = 16;
  const laneH = (h - 2 * labelH) / 2;
  ctx.font = "12px system-ui, sans-serif";
  ctx.textBaseline = "top";
  if (region) {
    ctx.fillStyle = c.region;
    ctx.fillRect(region[0] * w, 0, Math.max(1, (region[1] - region[0]) * w), h);
  }
  const lanes = [
    ["Original", before, c.before, 0],
    ["Master (same scale)", after, c.after, labelH + laneH],
  ];
  for (const [label, env, colour, y] of lanes) {
    ctx.fillStyle = c.text;
    ctx.fillText(label, 4, y + 2);
    ctx.strokeStyle = c.grid;
    ctx.beginPath();
    ctx.moveTo(0, y + labelH + laneH / 2);
    ctx.lineTo(w, y + labelH + laneH / 2);
    ctx.stroke();
    if (env) lane(ctx, env, 0, y + labelH, w, laneH, colour);
  }
}

const F_MIN_HZ = 20;
const F_MAX_HZ = 20000;

// centresHz: 31 band centres; before/after: dBFS per band (null where unmeasured)
export function drawSpectra(canvas, centresHz, before, after) {
  const { ctx, w, h } = context2d(canvas);
  const c = colours(canvas);
  const padL = 40;
  const padB = 18;
  const values = [...before, ...(after ?? [])].filter((v) => v !== null && Number.isFinite(v));
  const top = values.length ? Math.ceil(Math.max(...values) / 10) * 10 : 0;
  const bottom = top - 60;
  const x = (f) => padL + ((w - padL) * Math.log(f / F_MIN_HZ)) / Math.log(F_MAX_HZ / F_MIN_HZ);
  const y = (db) => ((top - db) / (top - bottom)) * (h - padB);
  ctx.font = "11px system-ui, sans-serif";
  ctx.strokeStyle = c.grid;
  ctx.fillStyle = c.text;
  ctx.textBaseline = "middle";
  for (let db = top; db >= bottom; db -= 20) {
    ctx.beginPath();
    ctx.moveTo(padL, y(db));
    ctx.lineTo(w, y(db));
    ctx.stroke();
    ctx.fillText(`${db}`.replace("-", "\u2212"), 2, Math.min(h - padB - 6, Math.max(6, y(db))));
  }
  ctx.textBaseline = "bottom";
  for (const [f, label] of [[100, "100"], [1000, "1k"], [10000, "10k"]]) {
    ctx.beginPath();
    ctx.moveTo(x(f), 0);
    ctx.lineTo(x(f), h - padB);
    ctx.stroke();
    const text = `${label} Hz`;
    const at = Math.min(x(f) + 2, w - ctx.measureText(text).width - 2);
    ctx.fillText(text, at, h);
  }
  const line = (levels, colour, width) => {
    ctx.strokeStyle = colour;
    ctx.lineWidth = width;
    ctx.beginPath();
    let pen = false;
    levels.forEach((db, i) => {
      if (db === null || !Number.isFinite(db)) {
        pen = false;
        return;
      }
      const px = x(centresHz[i]);
      const py = y(Math.max(bottom, db));
      if (pen) ctx.lineTo(px, py);
      else ctx.moveTo(px, py);
      pen = true;
    });
    ctx.stroke();
    ctx.lineWidth = 1;
  };
  line(before, c.before, 2);
  if (after) line(after, c.after, 2);
  ctx.textBaseline = "top";
  ctx.fillStyle = c.before;
  ctx.fillText("Original", padL + 6, 4);
  ctx.fillStyle = c.after;
  if (after) ctx.fillText("Master", padL + 70, 4);
}
