// Client for the engine worker (worker.js): one request id per call, a promise per request,
// progress events routed to the caller, and two ways to stop work:
// - interrupt(id): that request (running or queued) stops at its next progress step and rejects
//   with code "cancelled"; the worker and what it holds (the decoded input) stay. It needs a
//   SharedArrayBuffer (the page is cross-origin isolated by the server's COOP/COEP headers);
//   without one it does nothing (canInterrupt is false) and the caller ignores the stale answer.
// - cancel(): terminate the worker and start a fresh one (a new worker boots from the browser's
//   cache); everything it held is gone.

export class EngineError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "EngineError";
    this.code = code;
  }
}

export class Engine {
  #url;
  #worker = null;
  #nextId = 1;
  #pending = new Map();
  #booted = null;
  #onBootProgress;
  // [0]: the id of the request asked to stop (ids only grow, so an old one never matches again)
  #flags = globalThis.crossOriginIsolated ? new Int32Array(new SharedArrayBuffer(4)) : null;

  constructor(url = "/worker.js", { onBootProgress = () => {} } = {}) {
    this.#url = url;
    this.#onBootProgress = onBootProgress;
    this.#start();
  }

  // Resolves with {app_version, pyodide_version} once Python, numpy, scipy and mixmaster load.
  ready() {
    return this.#booted;
  }

  // Send `action` with `args`; `transfer` lists ArrayBuffers to move (not copy) to the worker.
  // `onProgress(stage, fraction)` receives the worker's progress events for this request;
  // `onId(id)` its id, for interrupt(id).
  async request(action, args = {}, { transfer = [], onProgress = () => {}, onId = () => {} } = {}) {
    await this.#booted;
    return this.#send(action, args, transfer, onProgress, onId);
  }

  get canInterrupt() {
    return this.#flags !== null;
  }

  // Ask request `id` to stop at its next step (see the top of this file).
  interrupt(id) {
    if (this.#flags !== null && id) Atomics.store(this.#flags, 0, id);
  }

  // Stop whatever runs now: every pending request rejects with code "cancelled", and a new
  // worker boots. State kept in the old worker (the decoded input, the last master) is gone.
  cancel() {
    this.#worker.terminate();
    this.#rejectAll("cancelled", "Cancelled.");
    this.#start();
  }

  #start() {
    const worker = new Worker(this.#url, { type: "module" });
    worker.onmessage = (event) => this.#onMessage(event.data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#rejectAll("engine_crashed", "The audio engine stopped unexpectedly. Reload the page.");
    };
    this.#worker = worker;
    if (this.#flags !== null) this.#flags.fill(0);
    this.#booted = this.#send("boot", { flags: this.#flags }, [], (stage, fraction) =>
      this.#onBootProgress(stage, fraction),
    );
    this.#booted.catch(() => {}); // callers see the rejection through ready()/request()
  }

  #send(action, args, transfer, onProgress, onId = () => {}) {
    const id = this.#nextId++;
    onId(id);
    const worker = this.#worker;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress });
      worker.postMessage({ id, action, args }, transfer);
    });
  }

  #onMessage({ id, result, error, progress }) {
    const entry = this.#pending.get(id);
    if (entry === undefined) return;
    if (progress !== undefined) {
      entry.onProgress(progress.stage, progress.fraction);
      return;
    }
    this.#pending.delete(id);
    if (error !== undefined) entry.reject(new EngineError(error.code, error.message));
    else entry.resolve(result);
  }

  #rejectAll(code, message) {
    for (const [id, entry] of this.#pending) {
      this.#pending.delete(id);
      entry.reject(new EngineError(code, message));
    }
  }
}
