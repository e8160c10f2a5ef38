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
// The counter page: where the browser can read QR codes itself (Chrome on Android), scan with the camera;
// elsewhere the phone's own camera app opens the coupon's link, which leads here too.
document.addEventListener("DOMContentLoaded", () => {
  const box = document.querySelector("[data-scan]");
  if (!box || !("BarcodeDetector" in window) || !navigator.mediaDevices) return;
  box.hidden = false;
  box.querySelector("[data-scan-start]").addEventListener("click", async () => {
    const video = document.querySelector("[data-scan-video]");
    const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    video.srcObject = stream;
    video.hidden = false;
    await video.play();
    const look = async () => {
      const [found] = await detector.detect(video);
      if (!found) return requestAnimationFrame(look);
      stream.getTracks().forEach((track) => track.stop());
      const form = box.closest("form");
      form.querySelector("input[name=code]").value = found.rawValue;
      form.requestSubmit();
    };
    look();
  });
});
