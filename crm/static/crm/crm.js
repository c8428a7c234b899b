// Keyboard shortcuts on the call page: digits 1–9 pick an outcome (unless typing in a field).
document.addEventListener("keydown", (event) => {
  const form = document.getElementById("attempt-form");
  if (!form || event.ctrlKey || event.metaKey || event.altKey) return;
  const target = event.target;
  if (target.matches("input[type=text], input[type=number], input[type=datetime-local], textarea, select")) return;
  // The survey's own scales take digits too (a rating of 4 is not "outcome 4").
  if (target.closest(".call-survey")) return;
  const digit = Number.parseInt(event.key, 10);
  if (!Number.isInteger(digit) || digit < 1) return;
  const radios = form.querySelectorAll("input[name=outcome]");
  if (radios[digit - 1]) {
    radios[digit - 1].checked = true;
    radios[digit - 1].focus();
    event.preventDefault();
  }
});

// Import progress: poll the job while a workbook is read or the rows are imported, then
// reload to show the next step (the column mapping, or the result).
const progress = document.querySelector("[data-progress-url]");
if (progress) {
  const bar = progress.querySelector("progress");
  const label = progress.querySelector("[data-progress-label]");
  const poll = async () => {
    const response = await fetch(progress.dataset.progressUrl, { headers: { Accept: "application/json" } });
    if (response.ok) {
      const state = await response.json();
      if (state.total) {
        bar.value = state.percent;
        label.textContent = `${state.processed} / ${state.total}`;
      }
      const read = progress.dataset.status === "reading" && state.status !== "reading";
      if (state.finished || read) {
        window.location.reload();
        return;
      }
    }
    window.setTimeout(poll, 1000);
  };
  window.setTimeout(poll, 500);
}

// Health-education links on the call page: a click selects the link, "Copy link" copies it
// (execCommand where the clipboard API is refused, e.g. on plain http).
document.addEventListener("click", (event) => {
  const field = event.target.closest("[data-select-on-click]");
  if (field) field.select();
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const input = document.getElementById(button.dataset.copy);
  input.select();
  const copied = navigator.clipboard ? navigator.clipboard.writeText(input.value) : Promise.reject();
  copied.catch(() => document.execCommand("copy"));
  button.textContent = button.dataset.done;
});
