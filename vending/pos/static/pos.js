// The only script of the POS (served by the app; the CSP forbids inline scripts):
// [data-print] buttons print the page, [data-autosubmit] selects submit their form, and an
// 80 mm receipt sets its printed page length to the slip's own length (CSS cannot say
// "as long as the content"; the CSSOM rule is allowed by the CSP, unlike an inline style).
"use strict";
function fitRollLength() {
  var slip = document.querySelector(".paper-80mm .receipt");
  if (!slip) { return; }
  var mm = Math.ceil(slip.getBoundingClientRect().height * 25.4 / 96) + 8;  // + margins
  var sheet = document.styleSheets[document.styleSheets.length - 1];
  sheet.insertRule("@page { size: 80mm " + mm + "mm; }", sheet.cssRules.length);
}
// An unattended till must not keep showing tokens: after the idle timeout without a key,
// click or touch, sign out (the server would refuse the next request anyway).
function watchIdle() {
  var seconds = parseInt(document.body.dataset.idleSeconds || "0", 10);
  var form = document.getElementById("signout-form");
  if (!seconds || !form) { return; }
  var timer = null;
  function restart() {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(function () { form.submit(); }, seconds * 1000);
  }
  ["keydown", "mousedown", "touchstart"].forEach(function (name) {
    document.addEventListener(name, restart, true);
  });
  restart();
}
document.addEventListener("DOMContentLoaded", function () {
  fitRollLength();
  watchIdle();
  document.querySelectorAll("[data-print]").forEach(function (el) {
    el.addEventListener("click", function () { window.print(); });
  });
  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
});
