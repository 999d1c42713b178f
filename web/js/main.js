// The only wiring file: connects the components, the engine (worker) and the server calls.
//
// One job = drop -> read/decode (this device) -> analyze (worker) -> decide (server, else the
// worker's rules; with a reference track, the worker matches it) -> master (worker) ->
// download, listen, adjust. Several files dropped together are an album: each is analysed,
// one decision and one album gain master them all, and a zip holds the masters.
// After a job, every change re-renders from the analysis the worker keeps (the file is not read
// again): an intent change (platform, target, ceiling, style, intensity) decides again, then
// masters; a stage setting masters with the decision plus the person's overrides; the bit depth
// re-encodes. Changes are debounced, and a newer change interrupts the render still running.

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
const download = createDownload($("download"), $("bits"), $("recipe"), (bits) => reencode(bits));
const picker = createIntentPicker(
  {
    platform: $("platform"),
    target: $("target"),
    targetRow: $("target-row"),
    ceiling: $("ceiling"),
    style: $("style"),
    intensity: $("intensity"),
    intensityOut: $("intensity-out"),
  },
  () => schedule("decide"),
);
const adjust = createAdjust(
  { amounts: $("amounts"), expert: $("expert"), reset: $("reset"), edited: $("edited") },
  () => schedule("render"),
  () => schedule("render", 0),
);
const receipt = createReceipt($("receipt"));
const albumReceipt = createReceipt($("album-receipt"));
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
    play: $("play"),
    toggle: $("ab-toggle"),
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
let pendingFile = null; // a file dropped while the engine was still booting
let loaded = null; // {file, features} of the input the worker holds
let decision = null; // {params, explanation, label} for the current intent
let runToken = 0; // each run takes a new token; answers for an older token are dropped
let jobStartedMs = 0;
let busy = false;
let timer = 0;
let pending = null; // "decide" | "render": what the debounced change will do
let reference = null; // {name} of the reference track the worker holds, or null
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
    if (pendingFile !== null) {
      const file = pendingFile;
      pendingFile = null;
      startJob(file);
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
  masterButton.hidden = on || loaded === null;
}

async function sha256Hex(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function startJob(file) {
  play("drop");
  if (description === null) {
    pendingFile = file;
    status.set("booting", `Got “${file.name}”. Still loading the audio engine…`);
    return;
  }
  clearTimeout(timer);
  pending = null;
  engine.interrupt();
  const token = ++runToken;
  jobStartedMs = performance.now();
  loaded = null;
  decision = null;
  adjust.clear();
  download.clear();
  report.hide();
  albumView.hide();
  receipt.reset();
  player.unload();
  Object.assign(view, { before: null, after: null, region: null });
  setBusy(true);
  try {
    status.set("analyzing", `Reading “${file.name}”…`, 0);
    const [input, digest] = await Promise.all([readAudioFile(file, description.limits), sha256Hex(file)]);
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
    loaded = { file, features: analysis.features };
    report.showAnalysis(analysis.analysis);
    view.before = analysis.view;
    player.loadOriginal(await engine.request("audio", { which: "original" }));
    if (token !== runToken) return;
    await decideAndMaster(token);
  } catch (err) {
    fail(err, token);
  }
}

// A change after a job: wait until the person pauses, then re-decide (intent) or re-render
// (stage settings). A decision includes a render, so it wins over a pending render.
function schedule(kind, delayMs = DEBOUNCE_MS) {
  if (loaded === null || description === null) return;
  pending = pending === "decide" ? "decide" : kind;
  clearTimeout(timer);
  timer = setTimeout(() => {
    const what = pending;
    pending = null;
    engine.interrupt(); // a newer change replaces the render still running
    const token = ++runToken;
    jobStartedMs = performance.now();
    setBusy(true);
    const work = what === "decide" || decision === null ? decideAndMaster(token) : render(token);
    work.catch((err) => fail(err, token));
  }, delayMs);
}

async function decideAndMaster(token) {
  const intent = picker.value();
  status.set("deciding", "Choosing the mastering settings from the measurements…");
  const decided = await decide(loaded.features, intent, receipt);
  if (token !== runToken) return;
  decision = decided;
  await render(token);
  if (token !== runToken) return;
  play("done");
  receipt.jobReport(reportJob("done", (performance.now() - jobStartedMs) / 1000, picker.platformName()));
}

// Master with the decision and the person's overrides, then show everything about the result.
async function render(token) {
  status.set("mastering", "Mastering…", 0);
  const masterStart = performance.now();
  const params = applyOverrides(decision.params, adjust.overrides());
  const out = await engine.request(
    "master",
    { params, bits: download.bits() },
    { onProgress: progressTo(token, "mastering", "Mastering", "master") },
  );
  // User Timing marks (local only) let bench/bench_browser.py read how long each step took.
  performance.measure("mixmaster:master", { start: masterStart, end: performance.now() });
  if (token !== runToken) return;
  await show(out, token);
}

async function show(out, token) {
  download.show(out.wav, out.recipe, loaded.file.name);
  report.showMaster(out, decision);
  adjust.show(out.recipe.params);
  view.after = out.view;
  drawCharts();
  const audio = await engine.request("audio", { which: "master" });
  if (token !== runToken) return;
  player.loadMaster(audio, loaded.features.integrated_lufs, out.report.after.integrated_lufs);
  status.set("done", `Done. ${out.headline} Your master is ready to download.`);
  setBusy(false);
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
    if (err.reason === "offline") receipt.nothingSent("you are offline, so the rules decided on this device.");
    else receipt.sent(body, "the server did not answer; the rules decided on this device");
    const rules = await engine.request("decide", { features, intent });
    const why = err.reason === "offline" ? "offline" : "the server did not answer";
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

// Another bit depth means mastering again with that depth's dither (the true-peak guarantee
// holds per depth); the worker reuses the parameters of the last master.
async function reencode(bits) {
  if (loaded === null || decision === null) return;
  if (busy) {
    schedule("render", 0); // the render in progress is for the old depth: replace it
    return;
  }
  const token = ++runToken;
  setBusy(true);
  try {
    status.set("mastering", "Mastering for the new format…", 0);
    const out = await engine.request(
      "encode",
      { bits },
      { onProgress: progressTo(token, "mastering", "Mastering", "master") },
    );
    if (token !== runToken) return;
    await show(out, token);
  } catch (err) {
    fail(err, token);
  }
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

// A reference track: analysed in the worker (only its features are kept there); after a job,
// the track is decided and mastered again against it.
async function loadReference(file) {
  if (description === null) return;
  try {
    const input = await readAudioFile(file, description.limits);
    referencePicker.show(`${file.name} (analysing…)`);
    await engine.request("reference", input.args, { transfer: input.transfer });
    reference = { name: file.name };
    referencePicker.show(file.name);
    schedule("decide", 0);
  } catch (err) {
    reference = null;
    referencePicker.show(null);
    if (err?.code !== "cancelled") status.set("error", `The reference could not be used: ${sentence(err)}`);
  }
}

async function clearReference() {
  reference = null;
  referencePicker.show(null);
  await engine.request("clear_reference").catch(() => {});
  schedule("decide", 0);
}

// Several files: an album. Each is read and analysed in turn; one decision (on the album's
// combined measurements) and one album gain master them all; the zip comes from the worker.
async function startAlbum(files) {
  play("drop");
  if (description === null) {
    status.set("booting", "Still loading the audio engine… Drop the files again in a moment.");
    return;
  }
  clearTimeout(timer);
  pending = null;
  engine.interrupt();
  const token = ++runToken;
  jobStartedMs = performance.now();
  loaded = null;
  decision = null;
  download.clear();
  report.hide();
  albumView.hide();
  player.unload();
  albumReceipt.reset();
  setBusy(true);
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
    const intent = picker.value();
    status.set("deciding", "Choosing one set of settings for the whole album…");
    const combined = await engine.request("album_features");
    const decided = await decide(combined, intent, albumReceipt);
    if (token !== runToken) return;
    status.set("mastering", "Mastering the album…", 0);
    const out = await engine.request(
      "album_master",
      {
        intent,
        decision: { params: decided.params, explanation: decided.explanation },
        reference: reference !== null,
        amounts: referencePicker.amounts(),
        bits: download.bits(),
      },
      {
        onProgress: (stage, fraction) => {
          if (token === runToken) status.set("mastering", `Mastering ${stage}…`, fraction);
        },
      },
    );
    if (token !== runToken) return;
    albumView.show(out);
    $("album-source").textContent = decided.label;
    $("album-explanation").replaceChildren(
      ...out.explanation.map((text) => Object.assign(document.createElement("li"), { textContent: text })),
    );
    status.set("done", `Done. ${files.length} tracks mastered as one album. Download them all as a zip.`);
    setBusy(false);
    play("done");
    albumReceipt.jobReport(reportJob("done", (performance.now() - jobStartedMs) / 1000, picker.platformName()));
  } catch (err) {
    fail(err, token);
  }
}

function cancel() {
  runToken++;
  clearTimeout(timer);
  pending = null;
  engine.cancel(); // a fresh worker boots; the loaded input and the reference are gone with it
  reference = null;
  referencePicker.show(null);
  loaded = null;
  decision = null;
  player.unload();
  setBusy(false);
  status.set("idle", "Cancelled. Drop a file to start again.");
  reportJob("cancelled", (performance.now() - jobStartedMs) / 1000, picker.platformName());
}

function fail(err, token) {
  if (token !== runToken) return;
  if (err?.code === "cancelled") return;
  if (err?.code === "engine_failed" || err?.code === "engine_crashed") {
    engine.cancel(); // start a clean engine for the next file
    loaded = null;
    reference = null;
    referencePicker.show(null);
  }
  setBusy(false);
  status.set("error", sentence(err));
  play("error");
  receipt.jobReport(reportJob("error", (performance.now() - jobStartedMs) / 1000, picker.platformName()));
}

// Errors reach the person as one sentence, never a stack trace.
function sentence(err) {
  if (typeof err?.code === "string" && typeof err?.message === "string" && err.message) {
    return err.message;
  }
  return "Something went wrong on this page. Reload it and try again.";
}
