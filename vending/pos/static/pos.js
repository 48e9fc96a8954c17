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
document.addEventListener("DOMContentLoaded", function () {
  fitRollLength();
  document.querySelectorAll("[data-print]").forEach(function (el) {
    el.addEventListener("click", function () { window.print(); });
  });
  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
});
