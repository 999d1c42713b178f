// The engine: a module worker that boots Pyodide once, loads numpy, scipy and our wheel, and
// answers requests by calling `mixmaster.api` -- the only Python it touches. No Python source
// lives in this file.
//
// Protocol (see js/engine.js):
//   in:  {id, action, args}            action is a key of `actions` below
//   out: {id, result} | {id, error: {code, message}} | {id, progress: {stage, fraction}}
// Requests run one at a time, in arrival order. State kept between requests lives in the
// Python `Session` (the decoded input and the last master, so re-mastering and re-encoding do
// not need the file again); a new `analyze` replaces it.

let pyodide = null;
let session = null;
let bootPromise = null;
// Shared with the page (js/engine.js): [0] the id of a request asked to stop. null where the
// page is not cross-origin isolated.
let flags = null;

async function loadManifest() {
  const response = await fetch("/vendor/manifest.json");
  if (!response.ok) {
    throw engineError("assets_missing", "The app's engine files are missing on this server.");
  }
  return response.json();
}

async function bootOnce(progress) {
  progress("runtime", 0);
  const manifest = await loadManifest();
  const { loadPyodide } = await import(`${manifest.pyodide_index_url}pyodide.mjs`);
  pyodide = await loadPyodide({
    indexURL: manifest.pyodide_index_url,
    stdout: () => {},
    stderr: () => {},
  });
  progress("packages", 0.4);
  await pyodide.loadPackage(manifest.packages, { messageCallback: () => {} });
  progress("mixmaster", 0.85);
  await pyodide.loadPackage(manifest.wheel_url, { messageCallback: () => {} });
  const api = pyodide.pyimport("mixmaster.api");
  progress("modules", 0.9);
  api.warm_up().destroy();
  session = api.Session();
  api.destroy();
  progress("ready", 1);
  return { app_version: manifest.app_version, pyodide_version: manifest.pyodide_version };
}

function engineError(code, message) {
  return Object.assign(new Error(message), { code });
}

// Turn a Python reply (a PyProxy of a dict) into plain JS; bytes and float32 arrays become
// typed arrays, which are then transferred rather than copied. Python's None arrives as
// undefined, which JSON.stringify would drop (a silent track's levels, an unsteady tempo), so
// it becomes null, as JSON has it.
function toPlain(proxy) {
  try {
    return nullForNone(proxy.toJs({ dict_converter: Object.fromEntries, create_pyproxies: false }));
  } finally {
    proxy.destroy();
  }
}

function nullForNone(value) {
  if (value === undefined) return null;
  if (Array.isArray(value)) return value.map(nullForNone);
  if (value && typeof value === "object" && !ArrayBuffer.isView(value)) {
    for (const key of Object.keys(value)) value[key] = nullForNone(value[key]);
  }
  return value;
}

function transferables(value, found = new Set()) {
  if (ArrayBuffer.isView(value)) {
    found.add(value.buffer);
  } else if (Array.isArray(value)) {
    for (const v of value) transferables(v, found);
  } else if (value && typeof value === "object") {
    for (const v of Object.values(value)) transferables(v, found);
  }
  return found;
}

// Call a Session action. The Python side maps every failure to {code, message}; a reply
// always has exactly one of `result` / `error`.
function callPython(action, args, progress) {
  if (session === null) {
    throw engineError("not_booted", "The audio engine has not started yet.");
  }
  const pyArgs = pyodide.toPy(args);
  try {
    const reply = toPlain(session.call(action, pyArgs, progress));
    if (reply.error) {
      // An unexpected failure's Python detail goes to the developer console only.
      if (reply.error.detail) console.error(`mixmaster.api ${action}: ${reply.error.detail}`);
      throw engineError(reply.error.code, reply.error.message);
    }
    return reply.result;
  } finally {
    pyArgs.destroy();
  }
}

const actions = {
  async boot(args, progress) {
    flags = args.flags ?? null;
    bootPromise ??= bootOnce(progress).catch((err) => {
      if (typeof err?.code === "string") throw err;
      throw engineError(
        "boot_failed",
        "The audio engine could not be loaded. Check your connection and reload the page.",
      );
    });
    return bootPromise;
  },
  // args: {wav: ArrayBuffer} (parsed in Python at its native rate and depth) or
  //       {channels: Float32Array[], sample_rate_hz} (decoded by WebAudio on the page),
  //       and input_sha256 (of the file, for the recipe)
  //   -> {track, features, analysis (rows with meanings), view (waveform, spectrum)}
  analyze: (args, progress) => callPython("analyze", args, progress),
  // args: {features, intent} -> the built-in rules' decision
  decide: (args, progress) => callPython("decide", args, progress),
  // args: {params, bits} -> {wav (Uint8Array), bits, report, rows, headline, levels,
  //   platforms, view, recipe}
  master: (args, progress) => callPython("master", args, progress),
  // args: {which: "original" | "master"} -> {channels: Float32Array[], sample_rate_hz}
  audio: (args, progress) => callPython("audio", args, progress),
  // args: {wav | channels, sample_rate_hz} -> {track, features, analysis}: the reference's
  //   measurements (its audio is not kept); `decide` with {reference: true, amounts} matches it
  reference: (args, progress) => callPython("reference", args, progress),
  clear_reference: (args, progress) => callPython("clear_reference", args, progress),
  // Album: album_add {wav | channels, sample_rate_hz, name} per track, album_features (what the
  // server decides on), album_master {intent, decision, reference, amounts, bits} -> {zip,
  // tracks, album, table, explanation}, album_clear
  album_add: (args, progress) => callPython("album_add", args, progress),
  album_features: (args, progress) => callPython("album_features", args, progress),
  album_master: (args, progress) => callPython("album_master", args, progress),
  album_clear: (args, progress) => callPython("album_clear", args, progress),
  // args: {intent?} -> parameter description, limits, and the resolved intent
  describe: (args, progress) => callPython("describe", args, progress),
};

let queue = Promise.resolve();

self.onmessage = (event) => {
  const { id, action, args } = event.data;
  queue = queue.then(() => handle(id, action, args ?? {}));
};

async function handle(id, action, args) {
  // Returns true when the page asked this request to stop (mixmaster.api.cancellable).
  const progress = (stage, fraction) => {
    self.postMessage({ id, progress: { stage: String(stage), fraction: Number(fraction) } });
    return flags !== null && Atomics.load(flags, 0) === id;
  };
  try {
    const run = actions[action];
    if (run === undefined) {
      throw engineError("unknown_action", `The engine has no action called "${action}".`);
    }
    const result = await run(args, progress);
    self.postMessage({ id, result }, [...transferables(result)]);
  } catch (err) {
    const code = typeof err?.code === "string" ? err.code : "engine_failed";
    const message =
      code === "engine_failed"
        ? "The audio engine failed unexpectedly. Reload the page and try again."
        : String(err.message);
    self.postMessage({ id, error: { code, message } });
  }
}
