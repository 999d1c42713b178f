"""The browser's assets: scripts/pyodide_assets.py (verified Pyodide files) and
scripts/build_web_wheel.py (our wheel and the precache manifest).

Downloads are pointed at loopback servers made here (or at a closed loopback port, to prove
nothing is contacted); nothing leaves the machine.
"""

from __future__ import annotations

import hashlib
import http.server
import importlib.util
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


assets = _load_script("pyodide_assets")
wheelbuild = _load_script("build_web_wheel")


# --- helpers: a synthetic lock, loopback servers ------------------------------------------


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


FILES = {
    "alpha-1.0-py3-none-any.whl": b"alpha wheel bytes " * 100,
    "libbeta-2.0.zip": b"beta shared library " * 50,
}


def _lock() -> dict[str, Any]:
    return {
        "info": {"version": assets.PYODIDE_VERSION},
        "packages": {
            "alpha": {
                "file_name": "alpha-1.0-py3-none-any.whl",
                "sha256": _sha(FILES["alpha-1.0-py3-none-any.whl"]),
                "depends": ["libbeta"],
            },
            "libbeta": {
                "file_name": "libbeta-2.0.zip",
                "sha256": _sha(FILES["libbeta-2.0.zip"]),
                "depends": [],
            },
        },
    }


class _Listener:
    """A loopback TCP port that accepts connections and counts them (nothing answers)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"

    def connections(self) -> int:
        count = 0
        while True:
            try:
                conn, _ = self.sock.accept()
            except BlockingIOError:
                return count
            conn.close()
            count += 1


@pytest.fixture
def listener() -> Iterator[_Listener]:
    lst = _Listener()
    yield lst
    lst.sock.close()


class _FileServer:
    """A loopback HTTP server answering GET /<name> from a dict; records the paths asked."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requested: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                name = self.path.lstrip("/")
                outer.requested.append(name)
                data = outer.files.get(name)
                if data is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def file_server() -> Iterator[_FileServer]:
    server = _FileServer(dict(FILES))
    yield server
    server.close()


def _fallback_wheel(cache_dir: Path, files: dict[str, bytes]) -> Path:
    """A stand-in for the PyPI fallback wheel, with the official layout, in the cache."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / assets.FALLBACK_WHEEL
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(assets.FALLBACK_PREFIX + name, data)
    return path


# --- verification ---------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [0, 777, -1])
def test_verify_file_refuses_a_tampered_copy_and_deletes_it(tmp_path: Path, offset: int) -> None:
    original = FILES["alpha-1.0-py3-none-any.whl"]
    tampered = bytearray(original)
    tampered[offset] ^= 0x01
    path = tmp_path / "alpha-1.0-py3-none-any.whl"
    path.write_bytes(bytes(tampered))
    with pytest.raises(assets.AssetError, match="does not match the lock"):
        assets.verify_file(path, _sha(original))
    assert not path.exists()


def test_verify_file_accepts_the_exact_bytes(tmp_path: Path) -> None:
    path = tmp_path / "libbeta-2.0.zip"
    path.write_bytes(FILES["libbeta-2.0.zip"])
    assets.verify_file(path, _sha(FILES["libbeta-2.0.zip"]))
    assert path.read_bytes() == FILES["libbeta-2.0.zip"]


def test_resolve_follows_depends_and_rejects_unknown_packages() -> None:
    assert assets.resolve(_lock(), ["alpha"]) == ["alpha", "libbeta"]
    with pytest.raises(assets.AssetError, match=r"not in pyodide-lock\.json"):
        assets.resolve(_lock(), ["gamma"])


# --- fetching: cache, CDN, fallback -----------------------------------------------------


def test_cache_hit_contacts_nothing(tmp_path: Path, listener: _Listener) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    for name, data in FILES.items():
        (dest / name).write_bytes(data)
    files = assets.ensure_packages(
        _lock(),
        ["alpha"],
        dest,
        tmp_path / "cache",
        cdn_base_url=listener.url,
        pip_index_url=listener.url,
        timeout_s=1.0,
    )
    assert files == sorted(FILES)
    assert listener.connections() == 0
    assert not (tmp_path / "cache").exists()


def test_cdn_download_is_verified(tmp_path: Path, file_server: _FileServer) -> None:
    dest = tmp_path / "dest"
    assets.ensure_packages(
        _lock(), ["alpha"], dest, tmp_path / "cache", cdn_base_url=file_server.url, timeout_s=5
    )
    assert sorted(file_server.requested) == sorted(FILES)
    for name, data in FILES.items():
        assert (dest / name).read_bytes() == data


def test_tampered_cdn_file_is_refused_and_deleted(tmp_path: Path, file_server: _FileServer) -> None:
    file_server.files["libbeta-2.0.zip"] = b"evil" + FILES["libbeta-2.0.zip"][4:]
    dest = tmp_path / "dest"
    with pytest.raises(assets.AssetError, match=r"refused libbeta-2\.0\.zip"):
        assets.ensure_packages(
            _lock(), ["alpha"], dest, tmp_path / "cache", cdn_base_url=file_server.url
        )
    assert not (dest / "libbeta-2.0.zip").exists()


def test_unreachable_cdn_falls_back_to_the_cached_pypi_wheel(
    tmp_path: Path, listener: _Listener
) -> None:
    # The closed listener's port refuses connections at once: the CDN is "unreachable".
    listener.sock.close()
    cache = tmp_path / "cache"
    _fallback_wheel(cache, FILES)
    dest = tmp_path / "dest"
    assets.ensure_packages(
        _lock(), ["alpha"], dest, cache, cdn_base_url=listener.url, timeout_s=1.0
    )
    for name, data in FILES.items():
        assert (dest / name).read_bytes() == data


def test_tampered_fallback_file_is_refused(tmp_path: Path, listener: _Listener) -> None:
    listener.sock.close()
    cache = tmp_path / "cache"
    _fallback_wheel(cache, {**FILES, "alpha-1.0-py3-none-any.whl": b"not the real wheel"})
    dest = tmp_path / "dest"
    with pytest.raises(assets.AssetError, match=r"refused alpha-1\.0"):
        assets.ensure_packages(
            _lock(), ["alpha"], dest, cache, cdn_base_url=listener.url, timeout_s=1.0
        )
    assert not (dest / "alpha-1.0-py3-none-any.whl").exists()


@pytest.fixture(scope="module")
def real_assets() -> Path:
    """The real layout (what `make assets` makes); downloads only if the cache is empty."""
    assert assets.main([]) == 0
    return ROOT / "web" / "vendor" / "pyodide" / assets.PYODIDE_VERSION


def test_second_run_downloads_nothing(real_assets: Path, listener: _Listener) -> None:
    rc = assets.main(["--cdn", listener.url, "--pip-index-url", listener.url, "--timeout-s", "1"])
    assert rc == 0
    assert listener.connections() == 0
    lock = json.loads((real_assets / "pyodide-lock.json").read_text())
    for name in ("numpy", "scipy", "openblas"):
        entry = lock["packages"][name]
        assert assets.sha256_file(real_assets / entry["file_name"]) == entry["sha256"]


def test_main_refuses_a_mismatch_with_a_nonzero_exit(
    real_assets: Path, tmp_path: Path, file_server: _FileServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # A fresh vendor dir, the real (verified) npm tarball, and a CDN serving a tampered numpy.
    cache = tmp_path / "cache"
    (cache / "npm").mkdir(parents=True)
    tgz = f"pyodide-{assets.PYODIDE_VERSION}.tgz"
    shutil.copy(ROOT / ".cache" / "npm" / tgz, cache / "npm" / tgz)
    lock = json.loads((real_assets / "pyodide-lock.json").read_text())
    numpy_file = lock["packages"]["numpy"]["file_name"]
    file_server.files = {numpy_file: b"PK\x03\x04 definitely not numpy"}
    vendor = tmp_path / "vendor"
    rc = assets.main(
        ["--vendor-dir", str(vendor), "--cache-dir", str(cache), "--cdn", file_server.url]
    )
    assert rc == 1
    assert f"refused {numpy_file}" in capsys.readouterr().err
    assert not (vendor / "pyodide" / assets.PYODIDE_VERSION / numpy_file).exists()


# --- our wheel and the manifest -----------------------------------------------------------


def test_wheel_holds_only_the_mixmaster_package_with_a_valid_record() -> None:
    name, data = wheelbuild.build_wheel_bytes(ROOT / "py" / "mixmaster", ROOT / "pyproject.toml")
    assert name == "mixmaster-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = zf.namelist()
        assert all(n.startswith(("mixmaster/", "mixmaster-0.1.0.dist-info/")) for n in names)
        assert "mixmaster/__init__.py" in names and "mixmaster/py.typed" in names
        assert not any("mixmaster_proxy" in n or "__pycache__" in n for n in names)
        record = zf.read("mixmaster-0.1.0.dist-info/RECORD").decode().splitlines()
        rows = [line.split(",") for line in record]
        assert {r[0] for r in rows} == set(names)
        for path, digest, size in rows:
            if path.endswith("RECORD"):
                assert digest == size == ""
                continue
            content = zf.read(path)
            assert digest == wheelbuild.record_hash(content)
            assert int(size) == len(content)
        wheel_meta = zf.read("mixmaster-0.1.0.dist-info/WHEEL").decode()
        assert "Tag: py3-none-any" in wheel_meta and "Root-Is-Purelib: true" in wheel_meta


def test_wheel_build_is_deterministic_and_rewritten_only_on_change(tmp_path: Path) -> None:
    package = tmp_path / "mixmaster"
    shutil.copytree(
        ROOT / "py" / "mixmaster", package, ignore=shutil.ignore_patterns("__pycache__")
    )
    vendor = tmp_path / "vendor"
    path, written = wheelbuild.write_wheel(package, ROOT / "pyproject.toml", vendor)
    first = path.read_bytes()
    assert written
    assert wheelbuild.write_wheel(package, ROOT / "pyproject.toml", vendor) == (path, False)
    os.utime(package / "units.py", (1, 1))  # a touched file is not a changed file
    assert wheelbuild.write_wheel(package, ROOT / "pyproject.toml", vendor) == (path, False)
    (package / "units.py").write_text((package / "units.py").read_text() + "\n# changed\n")
    assert wheelbuild.write_wheel(package, ROOT / "pyproject.toml", vendor) == (path, True)
    assert path.read_bytes() != first


def test_wheel_imports_in_a_clean_interpreter(tmp_path: Path) -> None:
    name, data = wheelbuild.build_wheel_bytes(ROOT / "py" / "mixmaster", ROOT / "pyproject.toml")
    wheel = tmp_path / name
    wheel.write_bytes(data)
    # -S: no site module, so neither the editable install's finder nor any .pth file is active;
    # sys.path is the wheel, the standard library, and site-packages for numpy/scipy only.
    code = (
        "import sys; sys.path[:0] = [sys.argv[1]]; sys.path.append(sys.argv[2]); "
        "import mixmaster, mixmaster.api, mixmaster.params; "
        "print(mixmaster.__file__); print(mixmaster.__version__)"
    )
    site_packages = sysconfig.get_paths()["purelib"]
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code, str(wheel), site_packages],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    file_line, version_line = proc.stdout.split()
    assert file_line.startswith(str(wheel) + os.sep)
    assert version_line == "0.1.0"


def test_manifest_lists_the_shell_the_runtime_and_the_wheel(real_assets: Path) -> None:
    assert wheelbuild.main([]) == 0
    web = ROOT / "web"
    manifest = json.loads((web / "vendor" / "manifest.json").read_text())
    precache = manifest["precache"]
    assert manifest["pyodide_version"] == assets.PYODIDE_VERSION
    assert manifest["wheel_url"] in precache
    required_urls = ("/", "/vendor/manifest.json", "/index.html", "/privacy.html", "/worker.js")
    for required in required_urls:
        assert required in precache
    assert "/sw.js" not in precache
    for url in precache[1:]:
        assert (web / url.lstrip("/")).is_file(), url
    for name in assets.CORE_FILES:
        assert f"{manifest['pyodide_index_url']}{name}" in precache
    script = (web / "vendor" / "manifest.js").read_text()
    assert json.dumps(manifest, indent=2) in script


def test_manifest_build_digest_changes_with_any_precached_file(
    real_assets: Path, tmp_path: Path
) -> None:
    web = tmp_path / "web"
    shutil.copytree(ROOT / "web", web, ignore=shutil.ignore_patterns("vendor"))
    (web / "vendor" / "pyodide").mkdir(parents=True)
    os.symlink(real_assets, web / "vendor" / "pyodide" / assets.PYODIDE_VERSION)
    package = ROOT / "py" / "mixmaster"
    wheel, _ = wheelbuild.write_wheel(package, ROOT / "pyproject.toml", web / "vendor")
    before = wheelbuild.build_manifest(web, wheel, "0.1.0")["build"]
    assert wheelbuild.build_manifest(web, wheel, "0.1.0")["build"] == before
    (web / "css" / "app.css").write_text((web / "css" / "app.css").read_text() + "\n")
    assert wheelbuild.build_manifest(web, wheel, "0.1.0")["build"] != before
