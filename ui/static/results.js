// Pictures at whole multiples of their size: an image smaller than its room is enlarged by a
// whole factor with crisp pixels (a 128 px sketch becomes 256 or 384 px, never a blurry
// stretch), a larger one is drawn 1:1 (or fitted to a phone's width).
// Generate's results: two per row when several fit. Compare's grid cells (the heat map too),
// its slider and the blind pair: each as large as its cell allows, in whole steps.
(() => {
  const LARGEST = 512; // the most an enlarged image is drawn at, in CSS pixels
  const GAP = 8;

  /** The whole factor `img` is drawn at in a room of that size (1: its own size or less). */
  function factorFor(img, roomWidth, roomHeight) {
    const { naturalWidth: w, naturalHeight: h } = img;
    if (!w || !h || roomWidth <= 0) return 0;
    return Math.max(1, Math.min(Math.floor(roomWidth / w), Math.floor(roomHeight / h)));
  }

  function scale(img, roomWidth, roomHeight) {
    const factor = factorFor(img, roomWidth, roomHeight);
    if (!factor) return;
    img.style.width = `${img.naturalWidth * factor}px`;
    img.style.imageRendering = factor > 1 ? "pixelated" : "auto";
    img.dataset.scale = String(factor);
  }

  function fitResults(gallery) {
    const images = [...gallery.querySelectorAll(".thumbnail-item img")];
    const room = gallery.clientWidth - 2 * GAP;
    const perRow = images.length > 1 && room >= 520 ? 2 : 1;
    const cell = Math.min(LARGEST, Math.floor(room / perRow) - GAP);
    for (const img of images) scale(img, cell, LARGEST);
  }

  // Each Compare view: its images, and the box whose width an image may fill.
  const VIEWS = [
    ["#compare-grid", ".thumbnail-item img", ".thumbnail-item"],
    ["#compare-slider", "img", ".slider-wrap"],
    ["#blind-left, #blind-right", "img", ".image-container"],
  ];

  function fitView(view, images, box) {
    for (const img of view.querySelectorAll(images)) {
      const room = img.closest(box) || view;
      const tallest = Math.min(LARGEST, parseFloat(img.style.maxHeight) || LARGEST);
      const factor = factorFor(img, room.clientWidth, tallest); // the slider's own limit too
      if (!factor) continue;
      // On the box, not the image: Gradio rewrites the slider's image styles as it moves.
      room.style.setProperty("--crisp-width", `${img.naturalWidth * factor}px`);
      room.style.setProperty("--crisp-rendering", factor > 1 ? "pixelated" : "auto");
      room.dataset.crisp = "";
      img.dataset.scale = String(factor);
    }
  }

  function fitAll() {
    document.querySelectorAll("#results").forEach(fitResults);
    for (const [views, images, box] of VIEWS) {
      document.querySelectorAll(views).forEach((view) => fitView(view, images, box));
    }
  }

  // Load events do not bubble: listen while they travel down to each new image.
  document.addEventListener(
    "load",
    (event) => {
      const img = event.target;
      if (img.tagName !== "IMG" || !img.closest) return;
      const results = img.closest("#results");
      if (results) return fitResults(results);
      for (const [views, images, box] of VIEWS) {
        const view = img.closest(views);
        if (view) return fitView(view, images, box);
      }
    },
    true,
  );
  window.addEventListener("resize", fitAll);
})();
