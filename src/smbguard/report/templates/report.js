(function () {
  "use strict";
  var root = document.documentElement;
  var filter = document.getElementById("host-filter");
  var sevSelect = document.getElementById("sev-filter");
  var shown = document.getElementById("shown-count");
  var table = document.getElementById("host-table");
  var rows = table ? Array.prototype.slice.call(table.tBodies[0].rows) : [];

  function setLang(lang) {
    root.setAttribute("data-lang", lang);
    root.setAttribute("lang", lang);
    if (filter) {
      filter.setAttribute("placeholder", filter.getAttribute(lang === "zh-TW" ? "data-ph-zh" : "data-ph-en"));
    }
  }

  function applyFilter() {
    var q = filter ? filter.value.trim().toLowerCase() : "";
    var min = sevSelect ? parseInt(sevSelect.value, 10) : -1;
    var n = 0;
    rows.forEach(function (tr) {
      var text = tr.getAttribute("data-search") || "";
      var sev = parseInt(tr.getAttribute("data-sev"), 10);
      var ok = (q === "" || text.indexOf(q) !== -1) && (min < 0 || sev >= min);
      tr.hidden = !ok;
      if (ok) { n += 1; }
    });
    if (shown) { shown.textContent = String(n); }
  }

  function sortBy(th) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var asc = !th.classList.contains("asc");
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.classList.remove("asc", "desc"); });
    th.classList.add(asc ? "asc" : "desc");
    var numeric = th.getAttribute("data-sort") === "num";
    var sorted = rows.slice().sort(function (a, b) {
      var ca = a.cells[index], cb = b.cells[index];
      var va = ca.getAttribute("data-v"), vb = cb.getAttribute("data-v");
      if (va === null) { va = ca.textContent; }
      if (vb === null) { vb = cb.textContent; }
      var r = numeric ? (parseFloat(va) - parseFloat(vb)) : (va < vb ? -1 : (va > vb ? 1 : 0));
      return asc ? r : -r;
    });
    var body = table.tBodies[0];
    sorted.forEach(function (tr) { body.appendChild(tr); });
    rows = sorted;
  }

  var toggle = document.getElementById("lang-toggle");
  if (toggle) {
    toggle.addEventListener("click", function () {
      setLang(root.getAttribute("data-lang") === "zh-TW" ? "en" : "zh-TW");
    });
  }
  if (filter) { filter.addEventListener("input", applyFilter); }
  if (sevSelect) { sevSelect.addEventListener("change", applyFilter); }
  if (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      if (th.hasAttribute("data-sort")) { th.addEventListener("click", function () { sortBy(th); }); }
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll("button.copy"), function (btn) {
    btn.addEventListener("click", function () {
      var cls = root.getAttribute("data-lang") === "zh-TW" ? "l-zh" : "l-en";
      var pre = btn.parentNode.querySelector("pre." + cls) || btn.parentNode.querySelector("pre");
      if (pre && navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(pre.textContent).catch(function () { /* not allowed from file:// */ });
      }
    });
  });
  setLang(root.getAttribute("data-lang") || "en");
  applyFilter();
  window.smbguardReport = { setLang: setLang, applyFilter: applyFilter, sortBy: sortBy };
})();
