/* KALIDO: plain JavaScript standing in for the jQuery and bootstrap-table calls of Great
   Expectations' Data Docs, so that the pages work offline (see README.md). Only what the
   pages call: $(selector | element | function), .on, .each, .parent, .fadeIn, .fadeOut,
   .data and .bootstrapTable({columns, data}) as a plain sorted table. */
(function () {
  function Wrapped(nodes) { this.nodes = nodes; }
  Wrapped.prototype.each = function (fn) {
    this.nodes.forEach(function (el, i) { fn.call(el, i, el); });
    return this;
  };
  Wrapped.prototype.parent = function () {
    return new Wrapped(this.nodes.map(function (el) { return el.parentElement; })
      .filter(function (el, i, all) { return el && all.indexOf(el) === i; }));
  };
  Wrapped.prototype.fadeIn = function () {
    return this.each(function (_, el) { el.style.display = ""; });
  };
  Wrapped.prototype.fadeOut = function () {
    return this.each(function (_, el) { el.style.display = "none"; });
  };
  Wrapped.prototype.data = function (name) {
    return this.nodes.length ? this.nodes[0].getAttribute("data-" + name) : undefined;
  };
  Wrapped.prototype.on = function (event, handler) {
    if (event !== "click-row.bs.table") {
      return this.each(function (_, el) { el.addEventListener(event, handler); });
    }
    return this.each(function (_, table) {
      table.addEventListener("click", function (e) {
        var row = e.target.closest("tr.clickable-row");
        if (row && !e.target.closest("a")) { handler(e, null, new Wrapped([row])); }
      });
    });
  };
  Wrapped.prototype.bootstrapTable = function (options) {
    if (typeof options !== "object") { return this; }
    var columns = options.columns || [];
    var rows = (options.data || []).slice();
    if (options.sortName) {
      var key = "_" + options.sortName + "_sort";
      rows.sort(function (a, b) {
        var x = key in a ? a[key] : a[options.sortName];
        var y = key in b ? b[key] : b[options.sortName];
        var order = x < y ? -1 : x > y ? 1 : 0;
        return options.sortOrder === "desc" ? -order : order;
      });
    }
    return this.each(function (_, table) {
      table.classList.add("kalido-index-table");
      var head = "<thead><tr>" + columns.map(function (c) {
        return "<th>" + (c.title || "") + "</th>";
      }).join("") + "</tr></thead>";
      var body = rows.map(function (row) {
        var link = row._table_row_link_path || "";
        return '<tr class="clickable-row" data-href="' + link + '">' + columns.map(function (c) {
          var value = row[c.field];
          return "<td>" + (value === undefined || value === null ? "" : value) + "</td>";
        }).join("") + "</tr>";
      }).join("");
      table.innerHTML = head + "<tbody>" + body + "</tbody>";
    });
  };
  window.$ = window.jQuery = function (selector) {
    if (typeof selector === "function") {
      if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", selector);
      } else {
        selector();
      }
      return new Wrapped([]);
    }
    if (selector === document) {
      return { ready: function (fn) { return window.$(fn); } };
    }
    if (selector && selector.nodeType) { return new Wrapped([selector]); }
    return new Wrapped(Array.prototype.slice.call(document.querySelectorAll(selector)));
  };
})();
