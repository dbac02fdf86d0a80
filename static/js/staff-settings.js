// Reward form: show the cost fields that apply to the chosen type. Without it every field shows, each
// with a hint saying when it applies, and the server checks the combination.
(function () {
  "use strict";

  var type = document.getElementById("id_type");
  if (!type) return;
  var groups = document.querySelectorAll("[data-reward-types]");

  function sync() {
    groups.forEach(function (group) {
      var applies = group.getAttribute("data-reward-types").split(" ").indexOf(type.value) !== -1;
      // A group holding an error stays visible, so the message is never hidden.
      group.hidden = !applies && !group.querySelector(".has-error");
    });
  }

  type.addEventListener("change", sync);
  sync();
})();

// Earning rule form: show the conditions that fit the rule type and the amount of the chosen effect.
// Without it every field shows, each saying what it is for, and the server refuses what does not fit.
(function () {
  "use strict";

  var type = document.getElementById("id_applies_to");
  if (!type) return;
  var form = type.form;

  function sync() {
    form.querySelectorAll("[data-rule-types]").forEach(function (box) {
      var fits = box.getAttribute("data-rule-types").split(" ").indexOf(type.value) !== -1;
      box.hidden = !fits && !box.querySelector(".has-error");
    });
    form.querySelectorAll("[data-rule-section]").forEach(function (section) {
      section.hidden = !section.querySelector("[data-rule-types]:not([hidden])");
    });
    var chosen = form.querySelector('input[name="effect_kind"]:checked');
    form.querySelectorAll("[data-effect-kind]").forEach(function (box) {
      var shown = chosen && box.getAttribute("data-effect-kind") === chosen.value;
      box.hidden = !shown && !box.querySelector(".has-error");
    });
  }

  form.addEventListener("change", function (event) {
    if (event.target === type || event.target.name === "effect_kind") sync();
  });
  sync();
})();
