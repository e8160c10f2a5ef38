// Small behaviours of Musubi's pages, without a framework: confirmations, copy buttons, auto-submitting selects.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-submit-on-change]")) event.target.form.requestSubmit();
});
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const text = document.querySelector(button.dataset.copy).textContent.trim();
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = button.dataset.copied;
  } catch (error) {
    window.getSelection().selectAllChildren(document.querySelector(button.dataset.copy));
  }
});
