// Wide tables scroll sideways inside their box; when one does, say so above it (the box's
// shadows show it too). The hint's words come from the page, in its language.
(() => {
  const hint = document.documentElement.dataset.scrollHint || "";
  const update = () => {
    for (const wrap of document.querySelectorAll(".table-wrap")) {
      const overflowing = wrap.scrollWidth > wrap.clientWidth + 1;
      wrap.classList.toggle("overflowing", overflowing);
      const before = wrap.previousElementSibling;
      const shown = before && before.classList.contains("scroll-hint");
      if (overflowing && !shown) {
        const p = document.createElement("p");
        p.className = "scroll-hint";
        p.textContent = hint;
        wrap.before(p);
      } else if (!overflowing && shown) {
        before.remove();
      }
    }
  };
  document.addEventListener("DOMContentLoaded", update);
  window.addEventListener("resize", update);
  // Parts of a page that htmx replaces may bring tables of their own.
  document.addEventListener("htmx:afterSettle", update);
})();

// A form with data-confirm (discarding a job) asks first; its question comes from the page.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
