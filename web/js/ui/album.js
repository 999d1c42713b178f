// Album results: one row per track (loudness before and after, true peak), the album's check,
// and the zip of every master (data-testid="download-album"), made by Python's zipfile in the
// worker. The text comes formatted from Python (mixmaster.studio.album_view).

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
        ...out.table.rows.map((row) => {
          const tr = document.createElement("tr");
          const th = document.createElement("th");
          th.scope = "row";
          th.textContent = row.name;
          tr.append(th);
          for (const text of [row.before, row.after, row.true_peak]) {
            const td = document.createElement("td");
            td.textContent = text;
            tr.append(td);
          }
          return tr;
        }),
      );
      els.summary.textContent = out.table.summary;
      els.section.hidden = false;
    },
    hide() {
      clear();
      els.section.hidden = true;
    },
  };
}
