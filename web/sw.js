// The service worker: after the first visit the app starts and masters with no network.
//
// - The precache list, the versions and a build digest come from /vendor/manifest.js, written by
//   scripts/build_web_wheel.py: nothing here is maintained by hand. The cache name carries the
//   app version, the Pyodide version and that digest, so any change to a precached file makes
//   a new cache, and the old ones are deleted on activate.
// - Versioned assets under /vendor/pyodide/ are served cache-first (they never change); the page
//   shell and the wheel go network-first with the cache as the offline fallback, so an online
//   visit always sees the current files.
// - /api/ is never cached or answered from the cache: offline, the page falls back to the
//   worker's built-in rules.
// Every promise is awaited inside waitUntil/respondWith.

importScripts("/vendor/manifest.js");

const MANIFEST = self.MIXMASTER_MANIFEST;
const PREFIX = "mixmaster-";
const CACHE = `${PREFIX}${MANIFEST.app_version}-pyodide-${MANIFEST.pyodide_version}-${MANIFEST.build}`;
const IMMUTABLE = "/vendor/pyodide/";

self.addEventListener("install", (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      await cache.addAll(MANIFEST.precache.map((url) => new Request(url, { cache: "reload" })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      const names = await caches.keys();
      await Promise.all(
        names.filter((n) => n.startsWith(PREFIX) && n !== CACHE).map((n) => caches.delete(n)),
      );
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/api/")) return;
  event.respondWith(url.pathname.startsWith(IMMUTABLE) ? cacheFirst(request) : networkFirst(request));
});

async function cacheFirst(request) {
  const cache = await caches.open(CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok) await cache.put(request, response.clone());
  return response;
}

async function networkFirst(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && response.type === "basic") await cache.put(request, response.clone());
    return response;
  } catch (err) {
    const hit = await cache.match(request, { ignoreSearch: true });
    if (hit) return hit;
    if (request.mode === "navigate") {
      const shell = await cache.match("/");
      if (shell) return shell;
    }
    throw err;
  }
}
