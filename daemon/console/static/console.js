// towerhook console conveniences; every page works without this file.
(function () {
  "use strict";
  document.querySelectorAll(".js-only").forEach(function (el) { el.hidden = false; });

  // Filters apply as soon as a select changes.
  document.querySelectorAll("form.filters select").forEach(function (sel) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  });

  // Auto-refresh of the calls page, remembered for the tab.
  var auto = document.getElementById("autorefresh");
  if (auto) {
    auto.checked = sessionStorage.getItem("towerhook.autorefresh") === "1";
    var timer = null;
    var arm = function () {
      clearTimeout(timer);
      if (auto.checked) { timer = setTimeout(function () { location.reload(); }, 5000); }
    };
    auto.addEventListener("change", function () {
      sessionStorage.setItem("towerhook.autorefresh", auto.checked ? "1" : "0");
      arm();
    });
    arm();
  }

  // Copy buttons copy the text of the element named by data-copy.
  document.querySelectorAll("button[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var el = document.getElementById(btn.getAttribute("data-copy"));
      if (!el) { return; }
      var done = function () { btn.textContent = "Copied"; setTimeout(function () { btn.textContent = "Copy"; }, 1500); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(el.textContent).then(done);
      } else {
        var range = document.createRange();
        range.selectNodeContents(el);
        var s = window.getSelection();
        s.removeAllRanges();
        s.addRange(range);
        try { document.execCommand("copy"); done(); } catch (e) { /* text stays selected */ }
      }
    });
  });
})();
