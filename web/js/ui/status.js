// The status line (data-testid="status"): its data-state is one of idle, booting, analyzing,
// deciding, mastering, done, error; its text is a sentence for a person; the bar shows progress.

export function createStatus(statusEl, progressEl) {
  return {
    set(state, text, fraction = null) {
      statusEl.dataset.state = state;
      statusEl.textContent = text;
      this.progress(fraction);
    },
    progress(fraction) {
      if (fraction === null) {
        progressEl.hidden = true;
      } else {
        progressEl.hidden = false;
        progressEl.value = Math.min(1, Math.max(0, fraction));
      }
    },
    get state() {
      return statusEl.dataset.state;
    },
  };
}
