// Generate's results, each at its own size: an image smaller than the room is enlarged by a
// whole factor with crisp pixels (a 128 px sketch becomes 256 or 512 px, never a blurry stretch),
// a larger one is drawn 1:1 (or fitted to a phone's width). Two per row when several fit.
(() => {
  const LARGEST = 512; // the most an enlarged image is drawn at, in CSS pixels
  const GAP = 8;

  function fit(gallery) {
    const images = [...gallery.querySelectorAll(".thumbnail-item img")];
    const room = gallery.clientWidth - 2 * GAP;
    const perRow = images.length > 1 && room >= 520 ? 2 : 1;
    const cell = Math.min(LARGEST, Math.floor(room / perRow) - GAP);
    for (const img of images) {
      const { naturalWidth: w, naturalHeight: h } = img;
      if (!w || !h) continue;
      const factor = Math.max(1, Math.min(Math.floor(cell / w), Math.floor(LARGEST / h)));
      img.style.width = `${w * factor}px`;
      img.style.imageRendering = factor > 1 ? "pixelated" : "auto";
      img.dataset.scale = String(factor);
    }
  }
  const fitAll = () => document.querySelectorAll("#results").forEach(fit);

  // Load events do not bubble: listen while they travel down to each new result image.
  document.addEventListener(
    "load",
    (event) => {
      const gallery = event.target.closest && event.target.closest("#results");
      if (gallery && event.target.tagName === "IMG") fit(gallery);
    },
    true,
  );
  window.addEventListener("resize", fitAll);
})();
