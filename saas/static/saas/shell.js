// What every page of the shell (base.html) does in the browser. Inline handlers (onsubmit=…)
// are refused by the Content-Security-Policy, so behaviour lives here.

// The staff menu. On phones a button folds it away (without JavaScript, saas/nojs.css shows
// it unfolded instead); the drop-down groups (analysis, set-up) open one at a time and close
// on Escape or a click elsewhere.
{
  const toggle = document.querySelector(".nav-toggle");
  const nav = document.getElementById("main-nav");
  if (toggle && nav) {
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      nav.classList.toggle("open", open);
    });
  }
  const menus = [...document.querySelectorAll(".topbar details")];
  for (const menu of menus) {
    menu.addEventListener("toggle", () => {
      if (!menu.open) return;
      for (const other of menus) if (other !== menu) other.open = false;
    });
  }
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const open = menus.find((menu) => menu.open);
    if (!open) return;
    open.open = false;
    open.querySelector("summary").focus();
  });
  document.addEventListener("click", (event) => {
    for (const menu of menus) if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
}

// A form with data-confirm asks before it is sent (closing a clinic in the console).
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
