/* Guichet: progressive enhancement of the wizard (the pages work without it).
 * - focuses the error summary so screen readers announce it;
 * - shows and hides conditional fields live, reading the JSON tree of engine.conditions.to_js
 *   from data-visible-if; the server applies the same rules authoritatively.
 * No inline scripts anywhere (CSP script-src 'self').
 */
(function () {
  "use strict";

  function isEmpty(v) {
    if (v === null || v === undefined) return true;
    if (typeof v === "string") return v.trim() === "";
    if (Array.isArray(v)) return v.length === 0;
    return false;
  }
  function truthy(v) { return typeof v === "boolean" ? v : !isEmpty(v); }
  var NUMERIC = /^\s*[+-]?\d{1,20}(?:[.,]\d{1,20})?\s*$/;
  function num(v, coerce) {
    if (typeof v === "boolean") return null;
    if (typeof v === "number") return v;
    if (coerce && typeof v === "string" && NUMERIC.test(v)) return parseFloat(v.replace(",", "."));
    return null;
  }
  function equal(a, b, deep) {
    if (typeof a === "boolean" || typeof b === "boolean") return truthy(a) === truthy(b);
    if (isEmpty(a) || isEmpty(b)) return false;
    if (typeof a === "number" || typeof b === "number") {
      var x = num(a, true), y = num(b, true);
      return x !== null && y !== null && x === y;
    }
    if (typeof a === "string" && typeof b === "string") return a === b;
    if (deep && Array.isArray(a) && Array.isArray(b)) {
      return a.every(function (i) { return b.some(function (j) { return equal(i, j, false); }); }) &&
        b.every(function (j) { return a.some(function (i) { return equal(i, j, false); }); });
    }
    return false;
  }
  function ordered(op, a, b) {
    if (typeof a === "boolean" || typeof b === "boolean" || isEmpty(a) || isEmpty(b)) return false;
    if (typeof a === "number" || typeof b === "number") {
      a = num(a, true); b = num(b, true);
      if (a === null || b === null) return false;
    } else if (typeof a !== "string" || typeof b !== "string") {
      return false;
    }
    if (op === "<") return a < b;
    if (op === "<=") return a <= b;
    if (op === ">") return a > b;
    return a >= b;
  }
  function contains(needle, hay) {
    if (isEmpty(needle) || Array.isArray(needle) || !Array.isArray(hay)) return false;
    return hay.some(function (i) { return equal(needle, i, false); });
  }
  function operand(node, get) {
    if (node.op === "field") return get(node.id);
    if (node.op === "value") return node.value;
    if (node.op === "list") return node.items;
    return evaluate(node, get);
  }
  function evaluate(node, get) {
    var a = node.args || [];
    switch (node.op) {
      case "field": case "value": case "list": return truthy(operand(node, get));
      case "==": return equal(operand(a[0], get), operand(a[1], get), true);
      case "!=": return !equal(operand(a[0], get), operand(a[1], get), true);
      case "<": case "<=": case ">": case ">=":
        return ordered(node.op, operand(a[0], get), operand(a[1], get));
      case "in": return contains(operand(a[0], get), operand(a[1], get));
      case "empty": return isEmpty(operand(a[0], get));
      case "not": return !evaluate(a[0], get);
      case "and": return a.every(function (n) { return evaluate(n, get); });
      case "or": return a.some(function (n) { return evaluate(n, get); });
    }
    return true;
  }

  function readField(form, name) {
    var inputs = form.querySelectorAll('[name="' + name + '"]');
    if (!inputs.length) return undefined;
    var first = inputs[0];
    if (first.type === "checkbox" && first.closest(".field-checkbox")) {
      return first.checked;
    }
    if (first.type === "checkbox") {
      return Array.prototype.filter.call(inputs, function (i) { return i.checked; })
        .map(function (i) { return i.value; });
    }
    if (first.type === "radio") {
      var checked = Array.prototype.find.call(inputs, function (i) { return i.checked; });
      return checked ? checked.value : "";
    }
    return first.value;
  }

  function setup(form) {
    var context = {};
    try { context = JSON.parse(form.getAttribute("data-context") || "{}"); } catch (e) { context = {}; }
    var blocks = form.querySelectorAll("[data-visible-if]");
    if (!blocks.length) return;
    var parsed = Array.prototype.map.call(blocks, function (el) {
      var tree = null;
      try { tree = JSON.parse(el.getAttribute("data-visible-if")); } catch (e) { tree = null; }
      var row = el.parentElement.closest("[data-row-prefix]");
      return { el: el, tree: tree, prefix: row ? row.getAttribute("data-row-prefix") : "" };
    });
    function refresh() {
      parsed.forEach(function (item) {
        if (!item.tree) return;
        var get = function (id) {
          if (item.prefix) {
            var own = readField(form, item.prefix + id);
            if (own !== undefined) return own;
          }
          var here = readField(form, id);
          return here !== undefined ? here : context[id];
        };
        var show = evaluate(item.tree, get);
        item.el.hidden = !show;
        item.el.querySelectorAll("input, select, textarea").forEach(function (input) {
          input.disabled = !show;
        });
      });
    }
    form.addEventListener("input", refresh);
    form.addEventListener("change", refresh);
    refresh();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("form.wizard-form").forEach(setup);
    var summary = document.getElementById("resume-erreurs");
    if (summary) summary.focus();
  });
})();
