"""The browser's Python, without the browser: our wheel in Pyodide 0.27.8 (wasm32) under Node.

The page runs exactly this: the vendored Pyodide, numpy, scipy and ``mixmaster`` wheel, driven
through :class:`mixmaster.api.Session`. WebAssembly is 32-bit, so numpy's ``intp`` is 32 bits
and no array (not even a strided view) may span 2 GiB or more: code that is fine natively can
fail here, and this test finds it in seconds rather than through Chromium.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from mixmaster.wavio import encode_wav, read_wav
from signals import programme

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "web" / "vendor"

pytestmark = pytest.mark.browser

# A Node ES module: boot the vendored Pyodide, load the packages and our wheel, run one
# analyze -> decide -> master through the Session, print the replies (audio as a file).
RUNNER = """
import { readFileSync, writeFileSync } from "node:fs";
const [index, manifestPath, wavPath, outPath] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(manifestPath, "utf8"));
const { loadPyodide } = await import(index + "pyodide.mjs");
const py = await loadPyodide({ indexURL: index, stdout: () => {}, stderr: () => {} });
await py.loadPackage(manifest.packages, { messageCallback: () => {} });
const wheel = manifestPath.replace(/manifest\\.json$/, manifest.wheel_url.split("/").pop());
await py.loadPackage(wheel, { messageCallback: () => {} });
const session = py.pyimport("mixmaster.api").Session();
const toJsOptions = { dict_converter: Object.fromEntries, create_pyproxies: false };
const plain = (proxy) => proxy.toJs(toJsOptions);
const call = (action, args) => plain(session.call(action, py.toPy(args), () => {}));
const bytes = readFileSync(wavPath);
const wav = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
const out = { analyze: call("analyze", { wav }) };
if (out.analyze.result) {
  const features = out.analyze.result.features;
  out.decide = call("decide", { features, intent: { platform: "spotify" } });
}
if (out.decide?.result) {
  out.master = call("master", { params: out.decide.result.params, bits: "24" });
  if (out.master.result) {
    writeFileSync(outPath, out.master.result.wav);
    out.master.result.wav = out.master.result.wav.length;
  }
}
console.log(JSON.stringify(out));
"""


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is required (Node 20 runs Pyodide for this test)")
    return node


def _run(tmp_path: Path, wav: bytes) -> tuple[dict[str, Any], Path]:
    if not (VENDOR / "manifest.json").is_file():
        pytest.fail("web/vendor is missing: run `make assets`")
    script = tmp_path / "runner.mjs"
    script.write_text(RUNNER)
    src = tmp_path / "in.wav"
    src.write_bytes(wav)
    out = tmp_path / "out.wav"
    index = str(VENDOR / "pyodide" / "0.27.8") + "/"
    proc = subprocess.run(
        [_node(), str(script), index, str(VENDOR / "manifest.json"), str(src), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    replies: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return replies, out


# 60 s at 44.1 kHz: tempo's onset frames would span more than 2 GiB as one strided view.
@pytest.mark.parametrize(("rate_hz", "duration_s"), [(44_100, 10.0), (96_000, 4.0), (44_100, 60.0)])
def test_session_runs_in_pyodide_wasm32(tmp_path: Path, rate_hz: int, duration_s: float) -> None:
    x = programme(duration_s, rate_hz, level_dbfs_rms=-24.0, seed=2)
    replies, out = _run(tmp_path, encode_wav(x, rate_hz, "24"))
    for step in ("analyze", "decide", "master"):
        assert step in replies, f"{step} did not run: {replies}"
        assert "error" not in replies[step], f"{step}: {replies[step]['error']}"
    assert replies["analyze"]["result"]["track"]["sample_rate_hz"] == rate_hz
    report = replies["master"]["result"]["report"]
    assert abs(report["after"]["integrated_lufs"] - -14.0) <= 0.5
    assert report["after"]["true_peak_dbtp"] <= -1.0
    wav = read_wav(out)
    assert wav.info.sample_rate_hz == rate_hz and wav.info.bits_per_sample == 24
    assert wav.samples.shape == x.shape
