// Small behaviours of Musubi's pages, without a framework: confirmations, copy buttons, auto-submitting selects.
document.addEventListener("submit", (event) => {
  const question = event.target.dataset && event.target.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
});
document.addEventListener("change", (event) => {
  if (event.target.matches("select[data-submit-on-change]")) event.target.form.requestSubmit();
});
// A field that matters only for one choice of another (the form for "a tag is added" asks for the tag) is shown
// only while that choice is made: data-shown-when="trigger:optin,tag_added" on the field's input.
function showDependentFields() {
  document.querySelectorAll("[data-shown-when]").forEach((input) => {
    const [name, values] = input.dataset.shownWhen.split(":");
    const controls = input.form ? input.form.querySelectorAll(`[name="${name}"]`) : [];
    const chosen = Array.from(controls).filter((c) => c.type !== "radio" || c.checked).map((c) => c.value);
    const box = input.closest(".field") || input;
    box.hidden = !chosen.some((value) => values.split(",").includes(value));
  });
}
document.addEventListener("change", showDependentFields);
document.addEventListener("DOMContentLoaded", showDependentFields);
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
// The rich menu editor: the preview follows the chosen image, the size and the area rows as they are typed.
document.addEventListener("DOMContentLoaded", () => {
  const editor = document.querySelector("[data-richmenu-editor]");
  if (!editor) return;
  const image = editor.querySelector("[data-richmenu-image]");
  const svg = editor.querySelector("[data-richmenu-areas]");
  const ns = "http://www.w3.org/2000/svg";
  const draw = () => {
    const height = Number(editor.querySelector("[name=height]").value) || 1686;
    svg.setAttribute("viewBox", `0 0 2500 ${height}`);
    image.style.aspectRatio = `2500 / ${height}`;
    svg.replaceChildren();
    editor.querySelectorAll("[data-area-row]").forEach((row, n) => {
      const box = ["x", "y", "width", "height"].map((k) => Number(row.querySelector(`[name$="-${k}"]`).value));
      if (!(box[2] > 0 && box[3] > 0)) return;
      const rect = document.createElementNS(ns, "rect");
      ["x", "y", "width", "height"].forEach((k, i) => rect.setAttribute(k, box[i]));
      rect.setAttribute("fill", "rgba(6,199,85,0.18)");
      rect.setAttribute("stroke", "#06c755");
      rect.setAttribute("stroke-width", "8");
      const label = document.createElementNS(ns, "text");
      label.setAttribute("x", box[0] + 24);
      label.setAttribute("y", box[1] + 90);
      label.setAttribute("font-size", "80");
      label.setAttribute("fill", "#06c755");
      label.textContent = String(n + 1);
      svg.append(rect, label);
    });
  };
  editor.addEventListener("input", draw);
  editor.addEventListener("change", (event) => {
    if (event.target.name === "image" && event.target.files[0]) {
      image.src = URL.createObjectURL(event.target.files[0]);
    }
    draw();
  });
});
