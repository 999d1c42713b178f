// The drop area and its file input (data-testid="file-input"): one file is a track, several
// files are an album.

export function createDropzone(zoneEl, inputEl, onFiles) {
  const take = (files) => {
    if (files && files.length > 0) onFiles([...files]);
  };
  inputEl.addEventListener("change", () => {
    take(inputEl.files);
    inputEl.value = ""; // picking the same file again fires "change" again
  });
  zoneEl.addEventListener("dragover", (event) => {
    event.preventDefault();
    zoneEl.classList.add("dragging");
  });
  zoneEl.addEventListener("dragleave", () => zoneEl.classList.remove("dragging"));
  zoneEl.addEventListener("drop", (event) => {
    event.preventDefault();
    zoneEl.classList.remove("dragging");
    take(event.dataTransfer?.files);
  });
  // A file dropped anywhere else must not make the browser navigate away to it.
  window.addEventListener("dragover", (event) => event.preventDefault());
  window.addEventListener("drop", (event) => event.preventDefault());
}
