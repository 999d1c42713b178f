"""Build the ``mixmaster`` wheel the browser installs, and the service worker's precache manifest.

The wheel holds ``py/mixmaster`` only (never the proxy package) and is written with ``zipfile``
following the wheel spec (PEP 427 / PEP 491 layout, PEP 376 RECORD with urlsafe-base64 sha256):
files in sorted order, a fixed timestamp and fixed permissions, so the same sources always give
the same bytes. The file on disk is rewritten only when those bytes change.

``web/vendor/manifest.json`` (for the page and the worker) and ``web/vendor/manifest.js`` (the
same object for the service worker's ``importScripts``) list the app and Pyodide versions, the
wheel's URL, and every file to precache -- the page shell found in ``web/`` plus the Pyodide
assets laid out by ``scripts/pyodide_assets.py`` -- and a ``build`` digest over all their bytes,
so the service worker's cache name changes whenever any precached file does and no list is
maintained by hand.

Usage: ``python scripts/build_web_wheel.py`` (after ``scripts/pyodide_assets.py``).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import re
import sys
import tomllib
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYODIDE_VERSION = "0.27.8"
PACKAGES = ("numpy", "scipy")
# Zip timestamps cannot predate 1980; one fixed value keeps the build reproducible.
FIXED_DATE_TIME = (1980, 1, 1, 0, 0, 0)
PACKAGE_SUFFIXES = (".py", ".json", ".typed")
# Shell files the service worker precaches: everything in web/ but the vendor folder, the
# service worker itself (the browser fetches and updates it on its own) and editor debris.
SHELL_SUFFIXES = (".html", ".css", ".js", ".svg", ".png", ".ico", ".webmanifest", ".txt")


class BuildError(Exception):
    """The sources cannot be turned into a wheel; the message says why."""


def project_metadata(pyproject: Path) -> dict[str, Any]:
    """Return ``[project]`` from pyproject.toml."""
    with pyproject.open("rb") as fh:
        project: dict[str, Any] = tomllib.load(fh)["project"]
    return project


def package_version(package_dir: Path) -> str:
    """Read ``__version__`` from the package's ``__init__.py`` without importing it."""
    text = (package_dir / "__init__.py").read_text(encoding="utf-8")
    match = re.search(r'^__version__\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise BuildError(f"no __version__ in {package_dir / '__init__.py'}")
    return match.group(1)


def package_files(package_dir: Path) -> list[Path]:
    """The package's source and data files, sorted, without caches."""
    return sorted(
        p
        for p in package_dir.rglob("*")
        if p.is_file() and p.suffix in PACKAGE_SUFFIXES and "__pycache__" not in p.parts
    )


def record_hash(data: bytes) -> str:
    """RECORD's hash field: ``sha256=`` + urlsafe base64 without padding (PEP 376 / 427)."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode("ascii")


def _add(zf: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=FIXED_DATE_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def build_wheel_bytes(package_dir: Path, pyproject: Path) -> tuple[str, bytes]:
    """Return ``(file_name, wheel_bytes)`` for the package, deterministically."""
    project = project_metadata(pyproject)
    name = project["name"]
    version = package_version(package_dir)
    if version != project["version"]:
        raise BuildError(
            f"version mismatch: pyproject.toml says {project['version']}, "
            f"{package_dir.name}/__init__.py says {version}"
        )
    dist_info = f"{name}-{version}.dist-info"
    entries: list[tuple[str, bytes]] = []
    for path in package_files(package_dir):
        arcname = f"{package_dir.name}/{path.relative_to(package_dir).as_posix()}"
        entries.append((arcname, path.read_bytes()))
    metadata = [
        "Metadata-Version: 2.1",
        f"Name: {name}",
        f"Version: {version}",
        f"Summary: {project.get('description', '')}",
        f"Requires-Python: {project.get('requires-python', '>=3.11')}",
        *(f"Requires-Dist: {dep}" for dep in project.get("dependencies", [])),
    ]
    entries.append((f"{dist_info}/METADATA", ("\n".join(metadata) + "\n").encode()))
    wheel_meta = [
        "Wheel-Version: 1.0",
        "Generator: mixmaster-build-web-wheel",
        "Root-Is-Purelib: true",
        "Tag: py3-none-any",
    ]
    entries.append((f"{dist_info}/WHEEL", ("\n".join(wheel_meta) + "\n").encode()))
    record_lines = [f"{n},{record_hash(d)},{len(d)}" for n, d in entries]
    record_lines.append(f"{dist_info}/RECORD,,")
    entries.append((f"{dist_info}/RECORD", ("\n".join(record_lines) + "\n").encode()))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for arcname, data in entries:
            _add(zf, arcname, data)
    return f"{name}-{version}-py3-none-any.whl", buf.getvalue()


def write_wheel(package_dir: Path, pyproject: Path, vendor_dir: Path) -> tuple[Path, bool]:
    """Write the wheel into ``vendor_dir`` if its bytes changed; return ``(path, written)``."""
    file_name, data = build_wheel_bytes(package_dir, pyproject)
    vendor_dir.mkdir(parents=True, exist_ok=True)
    target = vendor_dir / file_name
    for old in vendor_dir.glob(f"{package_dir.name}-*.whl"):
        if old != target:
            old.unlink()
    if target.is_file() and target.read_bytes() == data:
        return target, False
    target.write_bytes(data)
    return target, True


def shell_files(web_dir: Path) -> list[Path]:
    """Files of the page shell under ``web_dir`` to precache, sorted."""
    return sorted(
        p
        for p in web_dir.rglob("*")
        if p.is_file()
        and p.suffix in SHELL_SUFFIXES
        and "vendor" not in p.relative_to(web_dir).parts
        and p.name != "sw.js"
    )


def build_manifest(web_dir: Path, wheel: Path, app_version: str) -> dict[str, Any]:
    """The precache manifest: versions, wheel URL, precache URLs and a digest over their bytes."""
    vendor_dir = web_dir / "vendor"
    pyodide_dir = vendor_dir / "pyodide" / PYODIDE_VERSION
    if not (pyodide_dir / "pyodide-lock.json").is_file():
        raise BuildError(f"{pyodide_dir} is empty: run scripts/pyodide_assets.py first")
    files = [*shell_files(web_dir), *sorted(pyodide_dir.iterdir()), wheel]
    digest = hashlib.sha256()
    # The manifest itself is precached too (the worker reads it at boot); it cannot be in its
    # own digest, but every file it describes is.
    urls = ["/", "/vendor/manifest.json"]
    for path in files:
        url = "/" + path.relative_to(web_dir).as_posix()
        urls.append(url)
        digest.update(url.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return {
        "app_version": app_version,
        "pyodide_version": PYODIDE_VERSION,
        "build": digest.hexdigest()[:16],
        "pyodide_index_url": f"/vendor/pyodide/{PYODIDE_VERSION}/",
        "packages": list(PACKAGES),
        "wheel_url": "/" + wheel.relative_to(web_dir).as_posix(),
        "precache": urls,
    }


def write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless it already holds exactly that; return whether written."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--package-dir", type=Path, default=ROOT / "py" / "mixmaster")
    parser.add_argument("--pyproject", type=Path, default=ROOT / "pyproject.toml")
    parser.add_argument("--web-dir", type=Path, default=ROOT / "web")
    args = parser.parse_args(argv)
    try:
        wheel, written = write_wheel(args.package_dir, args.pyproject, args.web_dir / "vendor")
        manifest = build_manifest(args.web_dir, wheel, package_version(args.package_dir))
    except BuildError as exc:
        print(f"build_web_wheel: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(manifest, indent=2) + "\n"
    write_if_changed(args.web_dir / "vendor" / "manifest.json", text)
    write_if_changed(
        args.web_dir / "vendor" / "manifest.js",
        "// Generated by scripts/build_web_wheel.py for the service worker; do not edit.\n"
        f"self.MIXMASTER_MANIFEST = {text.rstrip()};\n",
    )
    state = "built" if written else "unchanged"
    print(f"{wheel.name} {state}; manifest build {manifest['build']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
