// The download link (data-testid="download"): an a[download] pointing at a blob: URL of the
// master, named "<original>-master.wav", and the bit-depth choice (24-bit by default).

export function masterFileName(originalName) {
  const dot = originalName.lastIndexOf(".");
  const stem = dot > 0 ? originalName.slice(0, dot) : originalName;
  return `${stem || "track"}-master.wav`;
}

export function createDownload(linkEl, bitsEl, onBitsChange) {
  let url = null;
  bitsEl.addEventListener("change", () => onBitsChange(bitsEl.value));
  return {
    bits() {
      return bitsEl.value;
    },
    show(wavBytes, fileName) {
      this.clear();
      url = URL.createObjectURL(new Blob([wavBytes], { type: "audio/wav" }));
      linkEl.href = url;
      linkEl.download = fileName;
      linkEl.textContent = `Download ${fileName}`;
      linkEl.removeAttribute("aria-disabled");
    },
    clear() {
      if (url !== null) URL.revokeObjectURL(url);
      url = null;
      linkEl.removeAttribute("href");
      linkEl.setAttribute("aria-disabled", "true");
    },
  };
}
