// The downloads: the master (data-testid="download", an a[download] on a blob: URL, named
// "<original>-master.wav", at the chosen bit depth, 24-bit by default) and its recipe
// (data-testid="recipe", "<original>-recipe.json": the parameters, versions and the input's
// sha256, which `mixmaster master IN --params recipe.json` reproduces).

const stemOf = (name) => {
  const dot = name.lastIndexOf(".");
  return (dot > 0 ? name.slice(0, dot) : name) || "track";
};

export function masterFileName(originalName) {
  return `${stemOf(originalName)}-master.wav`;
}

export function recipeFileName(originalName) {
  return `${stemOf(originalName)}-recipe.json`;
}

function blobLink(linkEl) {
  let url = null;
  return {
    show(blob, fileName, text) {
      this.clear();
      url = URL.createObjectURL(blob);
      linkEl.href = url;
      linkEl.download = fileName;
      linkEl.textContent = text;
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

export function createDownload(linkEl, recipeEl) {
  const master = blobLink(linkEl);
  const recipe = blobLink(recipeEl);
  return {
    show(wavBytes, recipeJson, originalName) {
      const name = masterFileName(originalName);
      master.show(new Blob([wavBytes], { type: "audio/wav" }), name, `Download ${name}`);
      const text = `${JSON.stringify(recipeJson, null, 2)}\n`;
      recipe.show(new Blob([text], { type: "application/json" }), recipeFileName(originalName), "Recipe (JSON)");
    },
    clear() {
      master.clear();
      recipe.clear();
    },
  };
}
