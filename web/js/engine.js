// Client for the engine worker (worker.js): one request id per call, a promise per request,
// progress events routed to the caller, and cancel = terminate the worker and start a fresh one
// (Python cannot be interrupted mid-call; a new worker boots from the browser's cache).

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
  // `onProgress(stage, fraction)` receives the worker's progress events for this request.
  async request(action, args = {}, { transfer = [], onProgress = () => {} } = {}) {
    await this.#booted;
    return this.#send(action, args, transfer, onProgress);
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
    this.#booted = this.#send("boot", {}, [], (stage, fraction) =>
      this.#onBootProgress(stage, fraction),
    );
    this.#booted.catch(() => {}); // callers see the rejection through ready()/request()
  }

  #send(action, args, transfer, onProgress) {
    const id = this.#nextId++;
    const worker = this.#worker;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, onProgress, worker });
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
