// The two calls this page makes to its own server. Neither carries audio:
// - POST /api/decide {features, intent}: the numbers the analysis measured and what the person
//   asked for; the answer is {params, explanation, source, reason}.
// - POST /api/jobs {outcome, duration_s, platform}: one aggregate count per finished job.

const DECIDE_TIMEOUT_MS = 30000;

export class ServiceUnavailable extends Error {
  constructor(reason) {
    super(`The decision service is unavailable (${reason}).`);
    this.name = "ServiceUnavailable";
    this.reason = reason; // "offline" | "timeout" | "http_<status>" | "network" | "bad_answer"
  }
}

// The exact body POST /api/decide carries (shown to the person as the privacy receipt).
export function decisionBody(features, intent) {
  return JSON.stringify({ features, intent });
}

// `body` is decisionBody(...). Rejects with ServiceUnavailable when the server cannot decide.
export async function requestDecision(body) {
  if (!navigator.onLine) throw new ServiceUnavailable("offline");
  let response;
  try {
    response = await fetch("/api/decide", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      credentials: "omit",
      cache: "no-store",
      signal: AbortSignal.timeout(DECIDE_TIMEOUT_MS),
    });
  } catch (err) {
    throw new ServiceUnavailable(err?.name === "TimeoutError" ? "timeout" : "network");
  }
  if (!response.ok) throw new ServiceUnavailable(`http_${response.status}`);
  let answer;
  try {
    answer = await response.json();
  } catch {
    throw new ServiceUnavailable("bad_answer");
  }
  if (typeof answer?.params !== "object" || typeof answer?.source !== "string") {
    throw new ServiceUnavailable("bad_answer");
  }
  return answer;
}

// Fire and forget: a failed report (offline, server down) changes nothing for the person.
// Returns the body it sent, or null when offline (nothing sent).
export function reportJob(outcome, durationS, platform) {
  if (!navigator.onLine) return null;
  const body = JSON.stringify({
    outcome,
    duration_s: Math.max(0, Math.round(durationS * 10) / 10),
    platform,
  });
  fetch("/api/jobs", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
    credentials: "omit",
    keepalive: true,
  }).catch(() => {});
  return body;
}
