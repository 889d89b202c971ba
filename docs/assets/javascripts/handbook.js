/*
 * The reader's own values on every page.
 *
 * The form (overrides/main.html renders it into <template id="lab-values-form">) stores
 * LAB_USER and APPS_DOMAIN with Material's __md_set (localStorage, scoped to this site), and the
 * platform in Material's own list of linked content tabs ("__tabs"), so a click on a platform tab
 * and the form always agree. Every page then rewrites the right-hand side of the matching
 * `export NAME=...` lines in its export block (div.lab-export), exactly as
 * `apply.py --dry-run --set NAME=VALUE --platform P` prints them; derived lines such as
 * `export APP_NS=${LAB_USER}-sockshop` and every other command keep their ${VAR}. Blocks for a
 * second terminal (div.lab-terminal-new) and the learner's clean-up (div.lab-cleanup) start with export
 * lines too, rewritten the same way.
 * In the text of manual steps, each span.lab-value (handbook/prose.py) shows the reader's value
 * of its variable once the form has it (a derived value once every value it derives from is
 * known); otherwise it keeps its placeholder, such as <SHOP_HOST の値>.
 * Without JavaScript nothing changes: the pages show the defaults.
 *
 * The rules come from manifests/variables.yaml through handbook/reader_form.py (reader_values),
 * embedded as JSON in <script id="lab-reader-values">.
 */
(function () {
  "use strict";

  var dataElement = document.getElementById("lab-reader-values");
  if (!dataElement) {
    return;
  }
  var data = JSON.parse(dataElement.textContent);
  var STORE_KEY = "lab.values";
  var byName = {};
  data.variables.forEach(function (variable) {
    byName[variable.name] = variable;
  });
  var safeWord = new RegExp("^(?:" + data.safe_word + ")$");
  var platformLabels = data.platforms.map(function (p) { return p.label; });

  /* --- values: the same rules as handbook.variables (resolve, Variable.problem) ------------- */

  function fullMatch(pattern, value) {
    return new RegExp("^(?:" + pattern + ")$").test(value);
  }

  function substitute(text, values) {
    return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, function (_, name) {
      return values[name];
    });
  }

  /* A variable's default and derivation on `platform`: the platform's own (variables.yaml `platforms:`), if any. */
  function ruleOf(variable, platform) {
    return (variable.on_platform && variable.on_platform[platform]) || variable;
  }

  /* Every problem with `chosen` (NAME -> value), derived values included, as apply.py --set reports. */
  function problems(chosen, platform) {
    var values = {};
    var found = [];
    data.variables.forEach(function (variable) {
      var value;
      var origin;
      var rule = ruleOf(variable, platform || currentPlatform());
      if (Object.prototype.hasOwnProperty.call(chosen, variable.name)) {
        value = chosen[variable.name];
        origin = "set";
      } else if (rule.derive !== null) {
        value = substitute(rule.derive, values);
        origin = "derived";
      } else {
        value = rule.default;
        origin = "default";
      }
      values[variable.name] = value;
      var why = null;
      if (variable.max_length !== null && value.length > variable.max_length) {
        why = variable.max_length + " 文字を超えています";
      } else if (!fullMatch(variable.pattern, value)) {
        why = "使える形ではありません";
      }
      if (why !== null) {
        found.push({
          name: variable.name,
          value: value,
          origin: origin,
          message: (origin === "derived"
            ? variable.name + " (" + rule.derive + ") が「" + value + "」になり、"
            : variable.name + " の「" + value + "」は") + why + " (" + variable.help + ")"
        });
      }
    });
    return found;
  }

  /* handbook.shell.quote_word for a word without ${NAME}: as is when safe, else shlex.quote. */
  function quoteWord(word) {
    if (word === "") {
      return "''";
    }
    return safeWord.test(word) ? word : "'" + word.replace(/'/g, "'\"'\"'") + "'";
  }

  function storedValues() {
    var stored = null;
    try {
      stored = __md_get(STORE_KEY);
    } catch (error) {
      stored = null;
    }
    var values = {};
    if (stored && typeof stored === "object") {
      data.form.forEach(function (name) {
        if (typeof stored[name] === "string" && stored[name] !== "") {
          values[name] = stored[name];
        }
      });
    }
    return problems(values).length === 0 ? values : {};
  }

  function currentPlatform() {
    var tabs = [];
    try {
      tabs = __md_get("__tabs") || [];
    } catch (error) {
      tabs = [];
    }
    for (var i = 0; i < tabs.length; i++) {
      var index = platformLabels.indexOf(tabs[i]);
      if (index >= 0) {
        return data.platforms[index].id;
      }
    }
    return data.page_platform;
  }

  function platformLabel(id) {
    return platformLabels[data.platforms.map(function (p) { return p.id; }).indexOf(id)];
  }

  /* --- the export blocks ------------------------------------------------------------------- */

  /* The right-hand side that handbook.blocks.export_block writes for `name`, or null to keep the line. */
  function rightHandSide(name, values, platform) {
    var variable = byName[name];
    if (!variable || ruleOf(variable, platform).derive !== null) {
      return null;
    }
    if (Object.prototype.hasOwnProperty.call(values, name)) {
      return quoteWord(values[name]);
    }
    if (Object.prototype.hasOwnProperty.call(variable.discover_text, platform)) {
      return variable.discover_text[platform];
    }
    return ruleOf(variable, platform).default_text;
  }

  /* Replace characters [start, end) of element's text with `text`, keeping the highlighting spans. */
  function replaceRange(element, start, end, text) {
    var walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
    var position = 0;
    var placed = false;
    var node;
    while ((node = walker.nextNode())) {
      var nodeStart = position;
      var nodeEnd = position + node.data.length;
      position = nodeEnd;
      if (nodeEnd < start || nodeStart > end || (nodeEnd === start && start !== end)) {
        continue;
      }
      var from = Math.max(start, nodeStart) - nodeStart;
      var to = Math.min(end, nodeEnd) - nodeStart;
      if (!placed) {
        node.data = node.data.slice(0, from) + text + node.data.slice(to);
        placed = true;
      } else {
        node.data = node.data.slice(0, from) + node.data.slice(to);
      }
      if (nodeEnd >= end) {
        break;
      }
    }
  }

  function rewriteExportBlock(code, values, platform) {
    var edits = [];
    var offset = 0;
    code.textContent.split("\n").forEach(function (line) {
      var match = /^export ([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
      if (match) {
        var rhs = rightHandSide(match[1], values, platform);
        var start = offset + "export ".length + match[1].length + 1;
        if (rhs !== null && rhs !== match[2]) {
          edits.push([start, start + match[2].length, rhs]);
        }
      }
      offset += line.length + 1;
    });
    for (var i = edits.length - 1; i >= 0; i--) {
      replaceRange(code, edits[i][0], edits[i][1], edits[i][2]);
    }
  }

  /* The values the reader has given, and those derived only from them (never a default). */
  function readerOwnValues(values, platform) {
    var known = {};
    data.variables.forEach(function (variable) {
      var name = variable.name;
      var rule = ruleOf(variable, platform);
      if (Object.prototype.hasOwnProperty.call(values, name)) {
        known[name] = values[name];
      } else if (rule.derive !== null) {
        var needed = (rule.derive.match(/\$\{[A-Za-z_][A-Za-z0-9_]*\}/g) || []).map(function (ref) {
          return ref.slice(2, -1);
        });
        if (needed.every(function (n) { return Object.prototype.hasOwnProperty.call(known, n); })) {
          known[name] = substitute(rule.derive, known);
        }
      } else if (rule !== variable) {
        known[name] = rule.default;  // a fixed value on this platform, such as SHOP_HOST on Kubernetes
      }
    });
    return known;
  }

  function fillValueSpans(values, platform) {
    var known = readerOwnValues(values, platform);
    document.querySelectorAll("span.lab-value").forEach(function (span) {
      if (!span.hasAttribute("data-placeholder")) {
        span.setAttribute("data-placeholder", span.textContent);
      }
      var name = span.getAttribute("data-var");
      span.textContent = Object.prototype.hasOwnProperty.call(known, name)
        ? known[name] : span.getAttribute("data-placeholder");
    });
  }

  function applyValues() {
    var values = storedValues();
    var platform = currentPlatform();
    document.querySelectorAll(".lab-export pre > code, .lab-terminal-new pre > code, .lab-cleanup pre > code").forEach(function (code) {
      // A block in a platform's tab (data-platform) keeps that platform's form of each line.
      var tab = code.closest("[data-platform]");
      rewriteExportBlock(code, values, tab ? tab.getAttribute("data-platform") : platform);
    });
    fillValueSpans(values, platform);
    document.querySelectorAll(".lab-values").forEach(function (panel) {
      showSummary(panel, values, platform);
    });
    document.documentElement.setAttribute("data-lab-platform", platform);
  }

  /* --- the platform: Material's linked content tabs ------------------------------------------ */

  function choosePlatform(id) {
    var label = platformLabel(id);
    var tabs = [];
    try {
      tabs = __md_get("__tabs") || [];
    } catch (error) {
      tabs = [];
    }
    tabs = tabs.filter(function (tab) { return platformLabels.indexOf(tab) < 0; });
    __md_set("__tabs", [label].concat(tabs));
    document.querySelectorAll(".tabbed-set").forEach(function (set) {
      set.querySelectorAll(".tabbed-labels > label").forEach(function (tabLabel) {
        var input = document.getElementById(tabLabel.htmlFor);
        if (input && !input.checked && tabLabel.innerText.trim() === label) {
          // Material reads this mark as "switched by code": it moves the tab indicator
          // without scrolling the page or re-linking every tab set.
          tabLabel.setAttribute("data-md-switching", "");
          input.checked = true;
          input.dispatchEvent(new Event("change"));
        }
      });
    });
  }

  /* --- the form ----------------------------------------------------------------------------- */

  function showSummary(panel, values, platform) {
    var summary = panel.querySelector("summary .lab-values-current");
    if (!summary) {
      return;
    }
    var parts = data.form.map(function (name) {
      var shown = Object.prototype.hasOwnProperty.call(values, name)
        ? values[name]
        : (Object.prototype.hasOwnProperty.call(byName[name].discover_text, platform)
          ? "クラスターから取得" : byName[name].default);
      return name + "=" + shown;
    });
    summary.textContent = parts.concat([platformLabel(platform)]).join(" / ");
  }

  function readForm(form) {
    var chosen = {};
    data.form.forEach(function (name) {
      var value = form.elements[name].value.trim();
      if (value !== "") {
        chosen[name] = value;
      }
    });
    return chosen;
  }

  function showProblems(form, chosen) {
    var found = problems(chosen);
    data.form.forEach(function (name) {
      var input = form.elements[name];
      var mine = found.filter(function (p) { return p.name === name; });
      var message = mine.map(function (p) { return p.message; }).join(" ");
      input.setCustomValidity(message);
      input.setAttribute("aria-invalid", message ? "true" : "false");
      form.querySelector("#lab-value-" + name + "-error").textContent = message;
    });
    // A value derived from the form's values is worth a word only once the form's own values are fine.
    var own = found.filter(function (p) { return data.form.indexOf(p.name) >= 0; });
    var derived = own.length ? [] : found;
    form.querySelector(".lab-values-derived").textContent =
      derived.map(function (p) { return p.message; }).join("\n");
    return found;
  }

  function fillForm(form) {
    var values = storedValues();
    data.form.forEach(function (name) {
      form.elements[name].value = values[name] || "";
    });
    var platform = currentPlatform();
    form.querySelectorAll('input[name="platform"]').forEach(function (radio) {
      radio.checked = radio.value === platform;
    });
    showProblems(form, values);
  }

  function mountForm(slot, open) {
    var template = document.getElementById("lab-values-form");
    if (!template) {
      return;
    }
    var panel = document.createElement("details");
    panel.className = "lab-values info";
    if (open) {
      panel.open = true;
    }
    var summary = document.createElement("summary");
    summary.appendChild(document.createTextNode("あなたの値: "));
    var current = document.createElement("span");
    current.className = "lab-values-current";
    summary.appendChild(current);
    panel.appendChild(summary);
    panel.appendChild(template.content.cloneNode(true));
    slot.appendChild(panel);

    var form = panel.querySelector("form");
    var status = form.querySelector(".lab-values-status");
    fillForm(form);
    form.addEventListener("input", function () {
      status.textContent = "";
      showProblems(form, readForm(form));
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var chosen = readForm(form);
      if (showProblems(form, chosen).length > 0) {
        status.textContent = "保存していません: 値を直してください。";
        return;
      }
      __md_set(STORE_KEY, chosen);
      choosePlatform(form.querySelector('input[name="platform"]:checked').value);
      applyValues();
      status.textContent = "保存しました。どのページの export ブロックにもこの値が入ります。";
    });
    form.querySelector('[data-action="reset"]').addEventListener("click", function () {
      __md_set(STORE_KEY, {});
      choosePlatform(data.page_platform);
      applyValues();
      document.querySelectorAll(".lab-values form").forEach(fillForm);
      status.textContent = "既定値に戻しました。";
    });
  }

  function mountForms() {
    // The home page marks where the form goes; a stage page gets it just above its export block.
    document.querySelectorAll(".lab-values-slot").forEach(function (slot) {
      mountForm(slot, true);
    });
    var exportBlock = document.querySelector(".lab-export");
    if (exportBlock && !document.querySelector(".lab-values-slot")) {
      exportBlock = exportBlock.closest(".tabbed-set") || exportBlock;  // above the tabs, not in one of them
      var slot = document.createElement("div");
      slot.className = "lab-values-slot lab-values-slot--stage";
      exportBlock.parentNode.insertBefore(slot, exportBlock);
      mountForm(slot, false);
    }
  }

  mountForms();
  applyValues();
  // A click on a platform tab changes the platform too (Material records it in "__tabs" first).
  document.addEventListener("change", function (event) {
    if (event.target instanceof Element && event.target.matches(".tabbed-set > input")) {
      setTimeout(function () {
        applyValues();
        var platform = currentPlatform();
        document.querySelectorAll('.lab-values input[name="platform"]').forEach(function (radio) {
          radio.checked = radio.value === platform;
        });
      }, 0);
    }
  });
  window.addEventListener("storage", function () {
    applyValues();
    document.querySelectorAll(".lab-values form").forEach(fillForm);
  });

  // For the browser tests and the curious: the same checks the form makes.
  window.labValues = { problems: problems, quoteWord: quoteWord, apply: applyValues };
})();
