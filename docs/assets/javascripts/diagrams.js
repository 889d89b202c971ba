// Diagrams (handbook/diagrams/) are drawn at their own size (Mermaid's useMaxWidth: false).
// A diagram wider than the text column is scaled down to fit it, but never below FLOOR: its
// 16 px labels stay at 11 px or more, and what still does not fit scrolls sideways in the
// diagram's own box (diagrams.css). Without this script a diagram keeps its own size and scrolls.
// Material draws each diagram into a closed shadow root of a div.mermaid; the host's scrollWidth
// is the drawing's width, so nothing inside the shadow root is read.
(() => {
  "use strict";
  const FLOOR = 11 / 16;

  // Diagrams written by hand in a page (not by handbook/diagrams/) get the same treatment: Material
  // calls mermaid.initialize once, after this script, and this makes its call keep each diagram's
  // own size too.
  if (window.mermaid && typeof window.mermaid.initialize === "function") {
    const initialize = window.mermaid.initialize.bind(window.mermaid);
    window.mermaid.initialize = (config = {}) => initialize({
      ...config,
      flowchart: { ...config.flowchart, useMaxWidth: false },
      sequence: { ...config.sequence, useMaxWidth: false },
    });
  }

  const fit = (host) => {
    host.style.zoom = "";
    const room = host.clientWidth;
    const natural = host.scrollWidth;
    if (room > 0 && natural > room) {
      host.style.zoom = String(Math.max(FLOOR, room / natural));
    }
  };

  const fitAll = () => document.querySelectorAll(".md-typeset div.mermaid").forEach(fit);

  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (node instanceof HTMLElement && node.matches("div.mermaid")) fit(node);
      }
    }
  }).observe(document.body, { childList: true, subtree: true });

  let pending = 0;
  window.addEventListener("resize", () => {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(fitAll);
  });
  fitAll();
})();
