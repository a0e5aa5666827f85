/* deck.js -- shows an evlab deck one slide at a time (no network, no library).
 *
 * Keys: Right/Space/PageDown next, Left/PageUp previous, Home/End, a number
 * then Enter jumps to that slide, n toggles speaker notes, f full screen,
 * ? lists the keys. The address ends in #N, so a reload or a link keeps the
 * slide. Printing gives one slide per page.
 *
 * deck.html#check is the layout check used by `make check-docs`: every slide
 * is shown in turn and measured, and the result is written into the page as
 * <pre id="evlab-check">, which headless Chromium's --dump-dom prints. */
(function () {
  "use strict";
  var deck = document.getElementById("deck");
  var slides = Array.prototype.slice.call(deck.querySelectorAll(":scope > section"));
  var current = 0;
  var typed = "";

  var MIN_CODE_PX = 22, MAX_CODE_LINES = 16;
  var deckTitle = document.title;
  deck.style.transform = "none";

  /* ---- pagination --------------------------------------------------------
   * A slide whose content does not fit 1280x720 at projection size continues
   * on a new slide ("… (continued)"): a list is split between items, code and
   * output between lines. Nothing is ever clipped or shrunk. The layout check
   * below reports what still cannot fit (one line wider than the slide). */
  function shownLines(el) {
    var pre = el.tagName === "PRE" ? el : el.querySelector("pre");
    if (!pre) return 0;
    var ps = getComputedStyle(pre);
    return Math.round((pre.clientHeight - parseFloat(ps.paddingTop) - parseFloat(ps.paddingBottom)) / parseFloat(ps.lineHeight));
  }
  /* Too tall: past the slide's bottom, or code longer than a reader can take in. */
  function tooTall(el, limit) {
    return el.getBoundingClientRect().bottom > limit + 1 || shownLines(el) > MAX_CODE_LINES;
  }
  function contentLimit(s) {
    var box = s.getBoundingClientRect(), cs = getComputedStyle(s);
    return box.bottom - parseFloat(cs.paddingBottom);
  }
  function isContent(el) {
    return !el.classList.contains("notes") && !el.classList.contains("slide-number") && !/^H[12]$/.test(el.tagName);
  }
  function lineNodes(el) {
    /* pandoc's highlighted code: one <span id="cbN-M"> per line inside <code>. */
    var code = el.querySelector("code") || el;
    var spans = Array.prototype.filter.call(code.children, function (c) { return /^cb\d+-\d+$/.test(c.id); });
    return {code: code, spans: spans};
  }
  /* Splits a code or output block so that its first part ends above `limit`;
   * returns the second part, or null when not even one line fits. */
  function splitBlock(el, limit) {
    var ln = lineNodes(el), code = ln.code, rest = el.cloneNode(false), restCode = rest;
    var pre = el.tagName === "PRE" ? el : el.querySelector("pre");
    if (pre !== el) { restCode = el.cloneNode(true); rest = restCode; restCode = lineNodes(rest).code; restCode.innerHTML = ""; }
    else if (code !== el) { restCode = code.cloneNode(false); rest.appendChild(restCode); }
    if (ln.spans.length) {
      var k = ln.spans.length;
      while (k > 1 && tooTall(el, limit)) {
        k--;
        var moved = [];
        while (ln.spans[k].nextSibling) moved.push(ln.spans[k].nextSibling);
        moved.unshift(ln.spans[k]);
        for (var m = moved.length - 1; m >= 0; m--) restCode.insertBefore(moved[m], restCode.firstChild);
        /* drop the newline that ended the last kept line */
        if (code.lastChild && code.lastChild.nodeType === 3) code.removeChild(code.lastChild);
      }
      el.keptLines = k;
      return restCode.childNodes.length ? rest : null;
    }
    var lines = code.textContent.split("\n"), keep = lines.length;
    while (keep > 1 && tooTall(el, limit)) {
      keep--;
      code.textContent = lines.slice(0, keep).join("\n");
    }
    el.keptLines = keep;
    if (keep === lines.length) return null;
    restCode.textContent = lines.slice(keep).join("\n");
    return rest;
  }
  function splitList(el, limit) {
    var items = Array.prototype.slice.call(el.children), rest = el.cloneNode(false), k = items.length;
    while (k > 1 && el.getBoundingClientRect().bottom > limit) {
      k--;
      rest.insertBefore(items[k], rest.firstChild);
    }
    el.keptLines = k + 1;
    if (!rest.children.length) return null;
    if (el.tagName === "OL") rest.setAttribute("start", String((parseInt(el.getAttribute("start") || "1", 10)) + k));
    return rest;
  }
  function paginate(s) {
    s.style.display = "block";
    var guard = 0;
    while (guard++ < 40) {
      var limit = contentLimit(s), kids = Array.prototype.filter.call(s.children, isContent), over = null;
      for (var i = 0; i < kids.length; i++)
        if (tooTall(kids[i], limit)) { over = i; break; }
      if (over === null) break;
      var el = kids[over], tail = null, whole = el.cloneNode(true);
      el.keptLines = 0;
      if (/^(UL|OL)$/.test(el.tagName)) tail = splitList(el, limit);
      else if (el.tagName === "PRE" || el.classList.contains("sourceCode")) tail = splitBlock(el, limit);
      /* Fewer than three lines (or one item) left behind, or still too tall:
       * move the block whole to the next slide instead. */
      var tooFew = /^(UL|OL)$/.test(el.tagName) ? el.keptLines < 1 : el.keptLines < 3;
      if (over > 0 && (!tail || tooFew || tooTall(el, limit))) {
        s.replaceChild(whole, el);
        kids[over] = whole;
        tail = null;
        over--;
      }
      var next = document.createElement("section");
      next.className = s.className.replace(/\bcurrent\b/, "");
      var h = s.querySelector("h2");
      var h2 = document.createElement("h2");
      h2.textContent = (h ? h.textContent.replace(/ \(continued\)$/, "") : "") + " (continued)";
      next.appendChild(h2);
      if (tail) next.appendChild(tail);
      kids.slice(over + 1).forEach(function (k) { next.appendChild(k); });
      if (next.children.length === 1) break; /* nothing could move: the check reports it */
      s.parentNode.insertBefore(next, s.nextSibling);
      s.style.display = "";
      s = next;
      s.style.display = "block";
    }
    s.style.display = "";
  }
  slides.forEach(function (s) { s.classList.add("slide"); });
  slides.forEach(paginate);
  slides = Array.prototype.slice.call(deck.querySelectorAll(":scope > section"));

  slides.forEach(function (s, i) {
    s.classList.add("slide");
    var n = document.createElement("footer");
    n.className = "slide-number";
    n.innerHTML = "<span></span><span></span>";
    n.firstChild.textContent = deckTitle;
    n.lastChild.textContent = (i + 1) + " / " + slides.length;
    s.appendChild(n);
  });

  function fit() {
    var scale = Math.min(window.innerWidth / 1280, window.innerHeight / 720);
    var dx = (window.innerWidth - 1280 * scale) / 2, dy = (window.innerHeight - 720 * scale) / 2;
    deck.style.transform = "translate(" + dx + "px," + dy + "px) scale(" + scale + ")";
  }

  function show(i) {
    current = Math.max(0, Math.min(slides.length - 1, i));
    slides.forEach(function (s, k) { s.classList.toggle("current", k === current); });
    if (location.hash !== "#check" && location.hash !== "#" + (current + 1))
      history.replaceState(null, "", "#" + (current + 1));
  }

  function help() {
    alert("Right, Space, PageDown: next slide\nLeft, PageUp: previous\nHome, End: first, last\n" +
          "N then Enter: slide N\nn: speaker notes\nf: full screen\nCtrl+P: print, one slide a page");
  }

  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.altKey || e.metaKey) return;
    var k = e.key;
    if (/^[0-9]$/.test(k)) { typed += k; return; }
    if (k === "Enter" && typed) { show(parseInt(typed, 10) - 1); typed = ""; return; }
    typed = "";
    if (k === "ArrowRight" || k === " " || k === "PageDown" || k === "ArrowDown") show(current + 1);
    else if (k === "ArrowLeft" || k === "PageUp" || k === "ArrowUp" || k === "Backspace") show(current - 1);
    else if (k === "Home") show(0);
    else if (k === "End") show(slides.length - 1);
    else if (k === "n") document.body.classList.toggle("show-notes");
    else if (k === "f") { if (document.fullscreenElement) document.exitFullscreen(); else document.documentElement.requestFullscreen(); }
    else if (k === "?") help();
    else return;
    e.preventDefault();
  });
  window.addEventListener("resize", fit);
  window.addEventListener("hashchange", function () {
    var n = parseInt(location.hash.slice(1), 10);
    if (n) show(n - 1);
  });

  /* ---- the layout check ------------------------------------------------- */

  function describe(el) {
    var d = el.tagName.toLowerCase();
    if (el.className && typeof el.className === "string") d += "." + el.className.split(/\s+/).join(".");
    var text = (el.textContent || "").replace(/\s+/g, " ").trim();
    return d + ' "' + text.slice(0, 40) + (text.length > 40 ? "…" : "") + '"';
  }

  function checkSlide(s, i) {
    var problems = [], box = s.getBoundingClientRect(), cs = getComputedStyle(s);
    var right = box.right - parseFloat(cs.paddingRight) + 1;
    var bottom = box.bottom - parseFloat(cs.paddingBottom) + 1;
    var title = (s.querySelector("h1, h2") || {textContent: "(untitled)"}).textContent.trim();
    var where = "slide " + (i + 1) + " (" + title + "): ";
    function skip(el) { return el.classList.contains("slide-number") || el.closest(".notes"); }
    Array.prototype.forEach.call(s.children, function (el) {
      if (skip(el)) return;
      var r = el.getBoundingClientRect();
      if (r.height > 0 && r.bottom > bottom)
        problems.push(where + describe(el) + " runs " + Math.ceil(r.bottom - bottom) + " px past the bottom");
    });
    Array.prototype.forEach.call(s.querySelectorAll("*"), function (el) {
      if (skip(el)) return;
      /* An inline element that wraps has one box per line: measure each. */
      var r = {right: -Infinity, width: 0}, parent = el.parentElement.getBoundingClientRect();
      Array.prototype.forEach.call(el.getClientRects(), function (b) {
        if (b.width > 0 && b.right > r.right) r = b;
      });
      if (r.width > 0 && r.right > right && (el.parentElement === s || parent.right <= right))
        problems.push(where + describe(el) + " runs " + Math.ceil(r.right - right) + " px past the right edge");
      var st = getComputedStyle(el);
      if (el.scrollWidth > el.clientWidth + 1 && st.overflowX !== "visible")
        problems.push(where + describe(el) + " scrolls or clips horizontally");
      if (el.scrollHeight > el.clientHeight + 1 && st.overflowY !== "visible")
        problems.push(where + describe(el) + " scrolls or clips vertically");
    });
    Array.prototype.forEach.call(s.querySelectorAll("pre"), function (pre) {
      var ps = getComputedStyle(pre), size = parseFloat(ps.fontSize);
      if (size < MIN_CODE_PX) problems.push(where + describe(pre) + " code is " + size + " px (at least " + MIN_CODE_PX + ")");
      var lines = shownLines(pre);
      if (lines > MAX_CODE_LINES) problems.push(where + describe(pre) + " shows " + lines + " lines (at most " + MAX_CODE_LINES + ")");
    });
    /* Problems of a child repeat its parent's: keep the first per element. */
    return problems.filter(function (p, k) { return problems.indexOf(p) === k; });
  }

  function runCheck() {
    var all = [];
    slides.forEach(function (s, i) { show(i); all = all.concat(checkSlide(s, i)); });
    var out = document.createElement("pre");
    out.id = "evlab-check";
    out.textContent = "evlab-check slides=" + slides.length + " problems=" + all.length + "\n" + all.join("\n");
    document.body.appendChild(out);
  }

  if (location.hash === "#check") {
    deck.style.transform = "none"; /* measure at the design size */
    document.fonts.ready.then(runCheck);
  } else {
    fit();
    var n = parseInt(location.hash.slice(1), 10);
    show(n ? n - 1 : 0);
  }
})();
