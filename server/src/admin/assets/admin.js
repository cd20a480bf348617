// concord admin pages: optional enhancements (every page works without this script).
// - <time data-ms> shows the viewer's local time (the server writes UTC);
// - [data-copy] buttons copy their target input's value;
// - a submitted form's button says "Saving…" and is disabled, so a double click sends once.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const t of document.querySelectorAll("time[data-ms]")) {
    const d = new Date(Number(t.dataset.ms));
    if (!Number.isNaN(d.getTime())) {
      t.textContent = d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
      t.title = t.getAttribute("datetime");
    }
  }
  for (const b of document.querySelectorAll("button[data-copy]")) {
    b.addEventListener("click", async () => {
      const input = document.getElementById(b.dataset.copy);
      if (!input) return;
      try {
        await navigator.clipboard.writeText(input.value);
        b.textContent = "Copied";
      } catch {
        input.select();
        b.textContent = "Press Ctrl+C";
      }
    });
  }
  for (const f of document.querySelectorAll("form[method=post]")) {
    f.addEventListener("submit", () => {
      const b = f.querySelector("button[type=submit]");
      if (b) {
        // Disabled after this event, so the button's own value is still sent.
        setTimeout(() => { b.disabled = true; b.textContent = "Saving…"; }, 0);
      }
    });
  }
});
