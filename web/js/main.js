// The only wiring file: connects the components, the engine (worker) and the server calls.
//
// One job = drop -> read/decode (this device) -> analyze (worker) -> decide (server, else the
// worker's rules) -> master (worker) -> download link. Changing the platform or style after a
// job re-decides and re-masters from the input the worker keeps; changing the bit depth only
// re-encodes the last master.

import { readAudioFile } from "./audio_file.js";
import { Engine } from "./engine.js";
import { ServiceUnavailable, reportJob, requestDecision } from "./service.js";
import { play } from "./sound.js";
import { createDownload, masterFileName } from "./ui/download.js";
import { createDropzone } from "./ui/dropzone.js";
import { createIntentPicker } from "./ui/intent.js";
import { createReport } from "./ui/report.js";
import { createSoundToggle } from "./ui/sound_toggle.js";
import { createStatus } from "./ui/status.js";

const $ = (id) => document.getElementById(id);

const status = createStatus($("status"), $("progress"));
const report = createReport($("result"), $("report"), $("decision-source"), $("explanation"));
const download = createDownload($("download"), $("bits"), (bits) => reencode(bits));
const picker = createIntentPicker($("platform"), $("style"), $("intent-note"), () => remaster());
const masterButton = $("master");
const cancelButton = $("cancel");
createSoundToggle(document.querySelector('[data-testid="sound-toggle"]'));
createDropzone($("dropzone"), $("file-input"), (file) => startJob(file));

let description = null; // the engine's describe(): limits, platforms, styles, stage labels
let pendingFile = null; // a file dropped while the engine was still booting
let loaded = null; // {file, features} of the input the worker holds
let runToken = 0; // each run takes a new token; answers for an older token are dropped
let jobStartedMs = 0;
let busy = false;
let lastDecision = null; // how the current master's parameters were decided, for the report

const engine = new Engine("/worker.js", {
  onBootProgress: (_stage, fraction) => {
    if (status.state === "booting") status.progress(fraction);
  },
});

status.set("booting", "Loading the audio engine…", 0);
boot();
registerServiceWorker();

masterButton.addEventListener("click", () => remaster());
cancelButton.addEventListener("click", () => cancel());

async function boot() {
  try {
    const versions = await engine.ready();
    performance.measure("mixmaster:boot", { start: 0, end: performance.now() });
    description = await engine.request("describe");
    picker.fill(description);
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

async function startJob(file) {
  play("drop");
  if (description === null) {
    pendingFile = file;
    status.set("booting", `Got “${file.name}”. Still loading the audio engine…`);
    return;
  }
  const token = ++runToken;
  jobStartedMs = performance.now();
  loaded = null;
  download.clear();
  report.hide();
  setBusy(true);
  try {
    status.set("analyzing", `Reading “${file.name}”…`, 0);
    const input = await readAudioFile(file, description.limits);
    if (token !== runToken) return;
    status.set("analyzing", `Analysing “${file.name}”…`, 0);
    const analyzeStart = performance.now();
    const analysis = await engine.request("analyze", input.args, {
      transfer: input.transfer,
      onProgress: progressTo(token, "analyzing", "Analysing", "analyze"),
    });
    performance.measure("mixmaster:analyze", { start: analyzeStart, end: performance.now() });
    if (token !== runToken) return;
    loaded = { file, features: analysis.features };
    await decideAndMaster(token);
  } catch (err) {
    fail(err, token);
  }
}

// Re-decide and re-master the loaded input (after a platform/style change or "Master again").
async function remaster() {
  if (loaded === null || description === null) return;
  const token = ++runToken;
  jobStartedMs = performance.now();
  setBusy(true);
  try {
    await decideAndMaster(token);
  } catch (err) {
    fail(err, token);
  }
}

async function decideAndMaster(token) {
  const intent = picker.value();
  const { features } = loaded;
  status.set("deciding", "Choosing the mastering settings from the measurements…");
  const decision = await decide(features, intent);
  if (token !== runToken) return;
  status.set("mastering", "Mastering…", 0);
  const masterStart = performance.now();
  const out = await engine.request(
    "master",
    { params: decision.params, intent, bits: download.bits() },
    { onProgress: progressTo(token, "mastering", "Mastering", "master") },
  );
  // User Timing marks (local only) let bench/bench_browser.py read how long each step took.
  performance.measure("mixmaster:master", { start: masterStart, end: performance.now() });
  if (token !== runToken) return;
  lastDecision = decision;
  download.show(out.wav, masterFileName(loaded.file.name));
  report.show(out.rows, decision);
  status.set("done", `Done. ${out.headline} Your master is ready to download.`);
  setBusy(false);
  play("done");
  reportJob("done", (performance.now() - jobStartedMs) / 1000, intent.platform);
}

// The server decides when it can; offline or on any failure, the worker's built-in rules do.
async function decide(features, intent) {
  try {
    const answer = await requestDecision(features, intent);
    const sentences = splitSentences(answer.explanation);
    if (answer.source === "claude") {
      return { params: answer.params, explanation: sentences, label: "Decided by Claude from the measurements (no audio was sent)." };
    }
    return { params: answer.params, explanation: sentences, label: `Decided by the server's built-in rules${rulesReason(answer.reason)}.` };
  } catch (err) {
    if (!(err instanceof ServiceUnavailable)) throw err;
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
// holds per depth); the worker reuses the decided parameters.
async function reencode(bits) {
  if (loaded === null || busy || status.state !== "done") return;
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
    download.show(out.wav, masterFileName(loaded.file.name));
    report.show(out.rows, lastDecision);
    status.set("done", `Done. ${out.headline} Your master is ready to download.`);
    setBusy(false);
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

function cancel() {
  runToken++;
  engine.cancel(); // a fresh worker boots; the loaded input is gone with the old one
  loaded = null;
  setBusy(false);
  status.set("idle", "Cancelled. Drop a file to start again.");
  reportJob("cancelled", (performance.now() - jobStartedMs) / 1000, picker.value().platform);
}

function fail(err, token) {
  if (token !== runToken) return;
  if (err?.code === "cancelled") return;
  if (err?.code === "engine_failed" || err?.code === "engine_crashed") {
    engine.cancel(); // start a clean engine for the next file
    loaded = null;
  }
  setBusy(false);
  status.set("error", sentence(err));
  play("error");
  reportJob("error", (performance.now() - jobStartedMs) / 1000, picker.value().platform);
}

// Errors reach the person as one sentence, never a stack trace.
function sentence(err) {
  if (typeof err?.code === "string" && typeof err?.message === "string" && err.message) {
    return err.message;
  }
  return "Something went wrong on this page. Reload it and try again.";
}
