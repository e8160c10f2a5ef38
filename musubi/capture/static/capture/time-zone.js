// Fill the form's hidden time zone with the browser's, so timed step mails arrive at the person's local hour.
document.querySelectorAll('input[name="time_zone"]').forEach(function (input) {
  try { input.value = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { /* older browsers */ }
});
