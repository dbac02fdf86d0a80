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
