// Small progressive enhancements shared by every page. Everything works without it.
(function () {
  "use strict";

  // <button data-copy="#element-id">Copy</button> copies that element's text.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button || !navigator.clipboard) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    navigator.clipboard.writeText(source.innerText.trim()).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });

  // Hide copy buttons where the clipboard API is unavailable (plain HTTP off localhost).
  if (!navigator.clipboard) {
    document.querySelectorAll("[data-copy]").forEach(function (el) { el.hidden = true; });
  }
})();
