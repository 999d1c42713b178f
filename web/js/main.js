// The only wiring file: connects the components, the engine (worker) and the server calls.
//
// One job = drop -> read/decode (this device) -> analyze (worker) -> decide (server, else the
// worker's rules; with a reference track, the worker matches it) -> master (worker) ->
// download, listen, adjust. Several files dropped together are an album: each is analysed,
// one decision and one album gain master them all, and a zip holds the masters.
// After a job, every change re-renders from what the worker keeps (the file is not read again):
// an intent change (platform, target, ceiling, style, intensity, reference) decides again, then
// masters; a stage setting masters with the decision plus the person's overrides; the format
// masters again at that depth. Changes are debounced, and a newer change interrupts the render
// still running. A job is reported to /api/jobs once, when its first master ends (or fails, or
// is cancelled); re-renders are not new jobs.

import { readAudioFile } from "./audio_file.js";
import { Engine } from "./engine.js";
import { ServiceUnavailable, decisionBody, reportJob, requestDecision } from "./service.js";
import { play } from "./sound.js";
import { applyOverrides, createAdjust } from "./ui/adjust.js";
import { createAlbumView } from "./ui/album.js";
import { drawSpectra, drawWaveforms } from "./ui/charts.js";
import { createDownload } from "./ui/download.js";
import { createDropzone } from "./ui/dropzone.js";
import { createIntentPicker } from "./ui/intent.js";
import { createPlayer } from "./ui/player.js";
import { createReceipt } from "./ui/receipt.js";
import { createReferencePicker } from "./ui/reference.js";
import { createReport } from "./ui/report.js";
import { createSoundToggle } from "./ui/sound_toggle.js";
import { createStatus } from "./ui/status.js";

const $ = (id) => document.getElementById(id);
const DEBOUNCE_MS = 350;

const status = createStatus($("status"), $("progress"));
const report = createReport({
  analysis: $("analysis"),
  analysisPanel: $("analysis-panel"),
  levels: $("levels"),
  platforms: $("platforms"),
  rows: $("report"),
  source: $("decision-source"),
  explanation: $("explanation"),
  result: $("result"),
});
const download = createDownload($("download"), $("recipe"));
const picker = createIntentPicker(
  {
    platform: $("platform"),
    target: $("target"),
    targetRow: $("target-row"),
    ceiling: $("ceiling"),
    style: $("style"),
    intensity: $("intensity"),
    intensityOut: $("intensity-out"),
    bits: $("bits"),
  },
  () => schedule("decide"),
  () => schedule("render", 0),
);
const adjust = createAdjust(
  { amounts: $("amounts"), expert: $("expert"), reset: $("reset"), edited: $("edited") },
  () => schedule("render"),
  () => schedule("render", 0),
);
const receipts = { track: createReceipt($("receipt")), album: createReceipt($("album-receipt")) };
const albumView = createAlbumView({
  section: $("album"),
  table: $("album-tracks"),
  summary: $("album-summary"),
  link: $("download-album"),
});
const referencePicker = createReferencePicker(
  { input: $("reference-input"), name: $("reference-name"), clear: $("reference-clear"), amounts: $("match-amounts") },
  { onFile: (file) => loadReference(file), onClear: () => clearReference(), onAmounts: () => schedule("decide") },
);
const player = createPlayer(
  {
    scope: $("result"),
    play: $("play"),
    toggle: $("ab-toggle"),
    hearing: $("hearing"),
    note: $("ab-note"),
    position: $("position"),
    time: $("time"),
    loop: $("loop"),
    loopStart: $("loop-start"),
    loopEnd: $("loop-end"),
    waveform: $("waveform"),
  },
  (region) => {
    view.region = region;
    drawCharts();
  },
);
const masterButton = $("master");
const cancelButton = $("cancel");
createSoundToggle(document.querySelector('[data-testid="sound-toggle"]'));
createDropzone($("dropzone"), $("file-input"), (files) =>
  files.length > 1 ? startAlbum(files) : startJob(files[0]),
);

let description = null; // the engine's describe(): limits, platforms, styles, parameters
let pendingFiles = null; // files dropped while the engine was still booting
let mode = null; // what the worker holds: "track", "album", or null
let loaded = null; // {file, features} of the track the worker holds
let albumSize = 0; // tracks of the album the worker holds
let decision = null; // {params, explanation, label} for the current intent
let runToken = 0; // each run takes a new token; answers for an older token are dropped
let renderId = 0; // the engine request id of the render running now (for interrupt)
let analysing = false; // reading and analysing: cancelling means a fresh engine
let jobStartedMs = 0;
let jobReported = true; // whether the current job's outcome went to /api/jobs
let hasResult = false; // whether a finished master (or album) of the current job is shown
let busy = false;
let timer = 0;
let pending = null; // "decide" | "render": what the debounced change will do
let reference = null; // {name} of the reference track the worker holds, or null
let referenceGen = 0; // a newer pick or removal makes an older reference answer stale
const view = { before: null, after: null, region: null }; // what the canvases draw

const engine = new Engine("/worker.js", {
  onBootProgress: (_stage, fraction) => {
    if (status.state === "booting") status.progress(fraction);
  },
});

status.set("booting", "Loading the audio engine…", 0);
boot();
registerServiceWorker();

masterButton.addEventListener("click", () => schedule("decide", 0));
cancelButton.addEventListener("click", () => cancel());
new ResizeObserver(() => drawCharts()).observe($("waveform"));

async function boot() {
  try {
    const versions = await engine.ready();
    performance.measure("mixmaster:boot", { start: 0, end: performance.now() });
    description = await engine.request("describe");
    picker.fill(description);
    adjust.build(description);
    referencePicker.build(description.match_amounts);
    referencePicker.show(null);
    $("limit-hint").textContent = ` · ${description.limits.summary}`;
    $("versions").textContent = `v${versions.app_version} · Pyodide ${versions.pyodide_version}`;
    if (pendingFiles !== null) {
      const files = pendingFiles;
      pendingFiles = null;
      if (files.length > 1) startAlbum(files);
      else startJob(files[0]);
    } else {
      status.set("idle", "Ready. Drop a mixed track, or choose a file, to master it.");
    }
  } catch (err) {
    if (typeof err?.code !== "string") console.error(err); // a bug of this page: for developers
    status.set("error", sentence(err));
  }
}

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js", { updateViaCache: "none" }).catch(() => {
    // without a service worker the app still works online; it just cannot start offline
  });
}

function setBusy(on) {
  busy = on;
  cancelButton.hidden = !on;
  masterButton.hidden = on || mode === null;
}

async function sha256Hex(bytes) {
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

// A new job: stop what runs, forget the previous job's results, start a new token.
function newJob(files) {
  play("drop");
  if (description === null) {
    pendingFiles = files;
    status.set("booting", `Got “${files[0].name}”${files.length > 1 ? ` and ${files.length - 1} more` : ""}. Still loading the audio engine…`);
    return null;
  }
  clearTimeout(timer);
  pending = null;
  engine.interrupt(renderId);
  const token = ++runToken;
  jobStartedMs = performance.now();
  jobReported = false;
  hasResult = false;
  mode = null;
  loaded = null;
  albumSize = 0;
  decision = null;
  adjust.clear();
  download.clear();
  report.hide();
  albumView.hide();
  player.unload();
  Object.assign(view, { before: null, after: null, region: null });
  setBusy(true);
  analysing = true;
  return token;
}

async function startJob(file) {
  const token = newJob([file]);
  if (token === null) return;
  receipts.track.reset();
  try {
    status.set("analyzing", `Reading “${file.name}”…`, 0);
    const input = await readAudioFile(file, description.limits);
    if (token !== runToken) return;
    const digest = await sha256Hex(input.args.wav ?? (await file.arrayBuffer()));
    if (token !== runToken) return;
    status.set("analyzing", `Analysing “${file.name}”…`, 0);
    const analyzeStart = performance.now();
    const analysis = await engine.request(
      "analyze",
      { ...input.args, input_sha256: digest },
      { transfer: input.transfer, onProgress: progressTo(token, "analyzing", "Analysing", "analyze") },
    );
    performance.measure("mixmaster:analyze", { start: analyzeStart, end: performance.now() });
    if (token !== runToken) return;
    mode = "track";
    loaded = { file, features: analysis.features };
    report.showAnalysis(analysis.analysis);
    view.before = analysis.view;
    player.loadOriginal(await engine.request("audio", { which: "original" }));
    if (token !== runToken) return;
    analysing = false;
    await decideAndMaster(token);
  } catch (err) {
    fail(err, token);
  }
}

// Several files: an album. Each is read and analysed in turn; one decision (on the album's
// combined measurements) and one album gain master them all; the zip comes from the worker.
async function startAlbum(files) {
  const token = newJob(files);
  if (token === null) return;
  receipts.album.reset();
  try {
    await engine.request("album_clear");
    for (const [i, file] of files.entries()) {
      const what = `track ${i + 1} of ${files.length}, “${file.name}”`;
      status.set("analyzing", `Reading ${what}…`, i / files.length);
      const input = await readAudioFile(file, description.limits);
      if (token !== runToken) return;
      status.set("analyzing", `Analysing ${what}…`, i / files.length);
      await engine.request("album_add", { ...input.args, name: file.name }, { transfer: input.transfer });
      if (token !== runToken) return;
    }
    mode = "album";
    albumSize = files.length;
    analysing = false;
    await decideAndMasterAlbum(token);
  } catch (err) {
    fail(err, token);
  }
}

// A change after a job: wait until the person pauses, then re-decide (intent) or re-render
// (stage settings, format). A decision includes a render, so it wins over a pending render.
// An album always decides again (it has no stage settings of its own).
function schedule(kind, delayMs = DEBOUNCE_MS) {
  if (mode === null || description === null || analysing) return;
  pending = pending === "decide" ? "decide" : kind;
  clearTimeout(timer);
  timer = setTimeout(() => {
    const what = pending;
    pending = null;
    engine.interrupt(renderId); // a newer change replaces the render still running
    const token = ++runToken;
    setBusy(true);
    let work;
    if (mode === "album") work = decideAndMasterAlbum(token);
    else if (what === "decide" || decision === null) work = decideAndMaster(token);
    else work = render(token);
    work.catch((err) => fail(err, token));
  }, delayMs);
}

async function decideAndMaster(token) {
  const intent = picker.value();
  status.set("deciding", "Choosing the mastering settings from the measurements…");
  const decided = await decide(loaded.features, intent, receipts.track);
  if (token !== runToken) return;
  decision = decided;
  await render(token);
}

// Master with the decision and the person's overrides, then show everything about the result.
async function render(token) {
  status.set("mastering", "Mastering…", 0);
  const masterStart = performance.now();
  const params = applyOverrides(decision.params, adjust.overrides());
  const out = await engine.request(
    "master",
    { params, bits: picker.bits() },
    { onProgress: progressTo(token, "mastering", "Mastering", "master"), onId: (id) => (renderId = id) },
  );
  // User Timing marks (local only) let bench/bench_browser.py read how long each step took.
  performance.measure("mixmaster:master", { start: masterStart, end: performance.now() });
  if (token !== runToken) return;
  download.show(out.wav, out.recipe, loaded.file.name);
  report.showMaster(out, decision);
  // the person may have moved a control since this render started: show their latest values
  adjust.show(applyOverrides(out.recipe.params, adjust.overrides()));
  view.after = out.view;
  drawCharts();
  const audio = await engine.request("audio", { which: "master" });
  if (token !== runToken) return;
  player.loadMaster(audio, loaded.features.integrated_lufs, out.report.after.integrated_lufs);
  hasResult = true;
  status.set("done", `Done. ${out.headline} Your master is ready to download.`);
  finishJob("done");
}

async function decideAndMasterAlbum(token) {
  const intent = picker.value();
  status.set("deciding", "Choosing one set of settings for the whole album…");
  const combined = await engine.request("album_features");
  const decided = await decide(combined, intent, receipts.album);
  if (token !== runToken) return;
  status.set("mastering", "Mastering the album…", 0);
  const out = await engine.request(
    "album_master",
    {
      intent,
      decision: { params: decided.params, explanation: decided.explanation },
      reference: reference !== null,
      amounts: referencePicker.amounts(),
      bits: picker.bits(),
    },
    {
      onProgress: progressTo(token, "mastering", "Mastering", "master"),
      onId: (id) => (renderId = id),
    },
  );
  if (token !== runToken) return;
  albumView.show(out);
  $("album-source").textContent = decided.label;
  $("album-explanation").replaceChildren(
    ...out.explanation.map((text) => Object.assign(document.createElement("li"), { textContent: text })),
  );
  hasResult = true;
  status.set("done", `Done. ${albumSize} tracks mastered as one album. Download them all as a zip.`);
  finishJob("done");
}

function drawCharts() {
  if (view.before === null) return;
  drawWaveforms($("waveform"), view.before.waveform, view.after?.waveform ?? null, view.region);
  drawSpectra($("spectrum"), description.band_centres_hz, view.before.spectrum_dbfs, view.after?.spectrum_dbfs ?? null);
}

// The server decides when it can; offline or on any failure, the worker's built-in rules do.
// With a reference track the worker matches it (both tracks' measurements stay here).
// The receipt records exactly what left the device for each decision.
async function decide(features, intent, receipt) {
  if (reference !== null) {
    receipt.nothingSent("with a reference track, the settings are chosen on this device from both tracks' measurements.");
    const amounts = referencePicker.amounts();
    const matched = await engine.request("decide", { features, intent, reference: true, amounts });
    return {
      params: matched.params,
      explanation: matched.explanation,
      label: `Matched to the reference “${reference.name}” by the built-in rules, on this device.`,
    };
  }
  const body = decisionBody(features, intent);
  try {
    const answer = await requestDecision(body);
    receipt.sent(body);
    const sentences = splitSentences(answer.explanation);
    if (answer.source === "claude") {
      return { params: answer.params, explanation: sentences, label: "Decided by Claude from the measurements (no audio was sent)." };
    }
    return { params: answer.params, explanation: sentences, label: `Decided by the server's built-in rules${rulesReason(answer.reason)}.` };
  } catch (err) {
    if (!(err instanceof ServiceUnavailable)) throw err;
    const why = err.reason === "offline" ? "offline" : "the server could not decide";
    if (err.reason === "offline") receipt.nothingSent("you are offline, so the rules decided on this device.");
    else receipt.sent(body, `${why}; the rules decided on this device`);
    const rules = await engine.request("decide", { features, intent });
    return { params: rules.params, explanation: rules.explanation, label: `Decided by the built-in rules (${why}), on this device.` };
  }
}

function rulesReason(reason) {
  const reasons = {
    no_api_key: " (no AI is configured on this server)",
    timeout: " (the AI took too long)",
    upstream_error: " (the AI was unavailable)",
    invalid_output: " (the AI's answer was unusable)",
    refusal: " (the AI declined)",
  };
  return reasons[reason] ?? "";
}

// The server's explanation is one paragraph; a sentence ends at ".", "!" or "?" followed by a
// space and a capital (so "-14.0 LUFS" stays whole).
function splitSentences(text) {
  return String(text ?? "")
    .split(/(?<=[.!?…])\s+(?=[A-Z“"(])/u)
    .map((s) => s.trim())
    .filter(Boolean);
}

// A reference track: analysed in the worker (only its features are kept there); the track or
// album is then decided and mastered again against it. The worker replaces its reference only
// once the new one is measured, so a failed pick keeps the one before.
async function loadReference(file) {
  if (description === null) return;
  const gen = ++referenceGen;
  try {
    const input = await readAudioFile(file, description.limits);
    if (gen !== referenceGen) return;
    referencePicker.show(file.name, " (analysing…)");
    await engine.request("reference", input.args, { transfer: input.transfer });
    if (gen !== referenceGen) return;
    reference = { name: file.name };
    referencePicker.show(file.name);
    schedule("decide", 0);
  } catch (err) {
    if (gen !== referenceGen) return;
    referencePicker.show(reference?.name ?? null);
    status.set("error", `The reference “${file.name}” could not be used. ${sentence(err)}`);
  }
}

async function clearReference() {
  ++referenceGen;
  reference = null;
  referencePicker.show(null);
  await engine.request("clear_reference").catch(() => {});
  schedule("decide", 0);
}

// `kind` is "analyze" or "master": the engine's description names their progress stages.
function progressTo(token, state, verb, kind) {
  const labels = description?.progress_labels?.[kind] ?? {};
  return (stage, fraction) => {
    if (token !== runToken) return;
    const what = labels[stage] ?? stage.replaceAll("_", " ");
    status.set(state, `${verb}: ${what}…`, fraction);
  };
}

// The job's one report to /api/jobs, the first time it ends (re-renders are not jobs); its body
// goes to the receipt of the track or the album (`which`).
function finishJob(outcome, which = mode) {
  setBusy(false);
  if (jobReported) return;
  if (outcome === "done") play("done"); // once a job, not at every re-render
  jobReported = true;
  const body = reportJob(outcome, (performance.now() - jobStartedMs) / 1000, picker.platformName());
  receipts[which === "album" ? "album" : "track"].jobReport(body);
}

// While a track or album is held and the page can interrupt, Cancel stops only the render: the
// analysis stays and the last finished master is still the download. Otherwise (reading,
// analysing, or no SharedArrayBuffer) a fresh engine starts and everything is dropped.
function cancel() {
  runToken++;
  clearTimeout(timer);
  pending = null;
  if (mode !== null && !analysing && engine.canInterrupt) {
    engine.interrupt(renderId);
    status.set(
      "idle",
      hasResult
        ? "Cancelled. The download is still the last finished master; change a setting to render again."
        : "Cancelled. Change a setting, or press Master again, to render.",
    );
    finishJob("cancelled");
    return;
  }
  engine.cancel();
  const held = mode;
  mode = null;
  loaded = null;
  decision = null;
  analysing = false;
  reference = null;
  ++referenceGen;
  referencePicker.show(null);
  player.unload();
  download.clear();
  report.hide();
  albumView.hide();
  status.set("idle", "Cancelled. Drop a file to start again.");
  finishJob("cancelled", held);
}

function fail(err, token) {
  if (token !== runToken) return;
  if (err?.code === "cancelled") return;
  const which = mode;
  if (err?.code === "engine_failed" || err?.code === "engine_crashed") {
    engine.cancel(); // start a clean engine for the next file
    mode = null;
    loaded = null;
    reference = null;
    ++referenceGen;
    referencePicker.show(null);
  }
  analysing = false;
  status.set("error", sentence(err));
  play("error");
  finishJob("error", which);
}

// Errors reach the person as one sentence, never a stack trace.
function sentence(err) {
  if (typeof err?.code === "string" && typeof err?.message === "string" && err.message) {
    return err.message;
  }
  return "Something went wrong on this page. Reload it and try again.";
}
