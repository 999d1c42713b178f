// Album results: one row per track (loudness before and after, true peak), the album's check,
// and the zip of every master (data-testid="download-album"), made by Python's zipfile in the
// worker.

const fmt = (value, unit) =>
  value === null || value === undefined ? "silent" : `${Number(value).toFixed(1)} ${unit}`.replace("-", "\u2212");

// els: {section, table, summary, link}
export function createAlbumView(els) {
  let url = null;
  const clear = () => {
    if (url !== null) URL.revokeObjectURL(url);
    url = null;
    els.link.removeAttribute("href");
    els.link.setAttribute("aria-disabled", "true");
  };
  return {
    // out: the engine's album_master reply
    show(out) {
      clear();
      url = URL.createObjectURL(new Blob([out.zip], { type: "application/zip" }));
      els.link.href = url;
      els.link.download = "album-masters.zip";
      els.link.removeAttribute("aria-disabled");
      els.table.tBodies[0].replaceChildren(
        ...out.tracks.map((t) => {
          const tr = document.createElement("tr");
          const th = document.createElement("th");
          th.scope = "row";
          th.textContent = t.name;
          tr.append(th);
          for (const text of [fmt(t.before_lufs, "LUFS"), fmt(t.after_lufs, "LUFS"), fmt(t.true_peak_dbtp, "dBTP")]) {
            const td = document.createElement("td");
            td.textContent = text;
            tr.append(td);
          }
          return tr;
        }),
      );
      const check = out.album.check;
      els.summary.textContent =
        `The album reads ${fmt(check.album_lufs, "LUFS")} (target ${fmt(check.target_lufs, "LUFS")}); ` +
        `the tracks kept their levels relative to each other within ${Number(check.relative_spread_lu).toFixed(1)} LU.`;
      els.section.hidden = false;
    },
    hide() {
      clear();
      els.section.hidden = true;
    },
  };
}
