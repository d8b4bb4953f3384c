// "Select several" in the Gallery: a chosen thumbnail (its caption starts with ✓, set by the
// server) gets the class "picked", which page.css draws as a thick frame with a check mark.
(() => {
  const MARK = "✓ ";
  function markAll() {
    for (const card of document.querySelectorAll("#gallery-pick .thumbnail-item")) {
      const caption = card.querySelector(".caption-label");
      const picked = !!caption && caption.textContent.trim().startsWith(MARK.trim());
      if (card.classList.contains("picked") !== picked) card.classList.toggle("picked", picked);
    }
  }
  let queued = false;
  const observer = new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      markAll();
    });
  });
  const start = () =>
    observer.observe(document.body, { subtree: true, childList: true, characterData: true });
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
