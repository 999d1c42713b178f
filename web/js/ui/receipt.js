// The privacy receipt (data-testid="receipt"): exactly what left this device for the current
// track, byte for byte, and a plain statement when nothing did.

export function createReceipt(el) {
  const entry = (title, body) => {
    const item = document.createElement("li");
    const head = document.createElement("p");
    head.textContent = title;
    item.append(head);
    if (body !== null) {
      const pre = document.createElement("pre");
      pre.textContent = body;
      item.append(pre);
    }
    return item;
  };
  const list = document.createElement("ol");
  const empty = document.createElement("p");
  el.replaceChildren(empty, list);
  const reset = () => {
    list.replaceChildren();
    empty.textContent = "Nothing has left this device for this track.";
    empty.hidden = false;
  };
  reset();
  const add = (item) => {
    empty.hidden = true;
    list.append(item);
  };
  return {
    reset,
    // The body POSTed to /api/decide (no audio, no file name: numbers and your choices).
    sent(body, note) {
      add(entry(`POST /api/decide, ${new Blob([body]).size} bytes${note ? ` (${note})` : ""}:`, body));
    },
    // Nothing was sent for this decision.
    nothingSent(why) {
      add(entry(`Nothing left this device for this decision: ${why}`, null));
    },
    // The aggregate job count (null when offline: nothing sent).
    jobReport(body) {
      if (body !== null) add(entry(`POST /api/jobs, ${new Blob([body]).size} bytes:`, body));
    },
  };
}
