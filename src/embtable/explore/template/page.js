// embtable explore: a 2-D map of word vectors with neighbour and analogy queries.
// Everything this page shows comes from the JSON block above; it loads nothing.
(function () {
  "use strict";

  const data = JSON.parse(document.getElementById("embtable-data").textContent);
  const words = data.words;
  const count = words.length;
  const dim = data.dim;
  const $ = (id) => document.getElementById(id);
  const numberFormat = new Intl.NumberFormat("en-US");

  // -- decoding ------------------------------------------------------------------------------

  function decodeBase64(text) {
    const binary = atob(text);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

  function readFloat32(bytes) {
    if (littleEndian) return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4);
    const view = new DataView(bytes.buffer);
    const out = new Float32Array(bytes.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }

  function readUint16(bytes) {
    const view = new DataView(bytes.buffer);
    const out = new Uint16Array(bytes.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = view.getUint16(2 * i, true);
    return out;
  }

  // rows: float32 unit vectors, or int8 codes (each row scaled to -127..127 by its own
  // largest magnitude); norms: each row's length (1 for float32 rows, |codes| for int8).
  const rows = data.precision === "int8"
    ? new Int8Array(decodeBase64(data.vectors).buffer)
    : readFloat32(decodeBase64(data.vectors));
  const norms = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let sum = 0;
    for (let j = i * dim, end = j + dim; j < end; j++) sum += rows[j] * rows[j];
    // A zero row stays zero: every cosine with it is 0, as in `embtable similar`.
    norms[i] = data.precision === "int8" ? Math.sqrt(sum) : sum > 0 ? 1 : 0;
  }

  const packed = readUint16(decodeBase64(data.xy));
  const px = new Float64Array(count);
  const py = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    px[i] = packed[2 * i] / 65535;
    py[i] = 1 - packed[2 * i + 1] / 65535; // screen y grows downwards
  }
  const rank = data.rank;
  const byRank = Array.from({ length: count }, (_, i) => i).sort((a, b) => rank[a] - rank[b]);
  const index = new Map();
  words.forEach((word, i) => index.set(word, i));

  // -- queries -------------------------------------------------------------------------------

  // Cosine of every row with the query q (a length-dim array of norm qNorm), as
  // dot(row, q) / (|row| |q|); zero rows score 0, like `embtable similar`.
  function cosines(q, qNorm) {
    const out = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      let sum = 0;
      for (let j = 0, base = i * dim; j < dim; j++) sum += rows[base + j] * q[j];
      const scale = norms[i] * qNorm;
      out[i] = scale > 0 ? sum / scale : 0;
    }
    return out;
  }

  // The k best rows, score descending and ties in row order (the order `embtable similar`
  // uses); NaN ranks last, excluded rows never appear.
  function top(scores, k, excluded) {
    const best = [];
    if (k <= 0) return best;
    const better = (a, b) => {
      const sa = Number.isNaN(scores[a]) ? -Infinity : scores[a];
      const sb = Number.isNaN(scores[b]) ? -Infinity : scores[b];
      return sa > sb || (sa === sb && a < b);
    };
    for (let i = 0; i < count; i++) {
      if (excluded.has(i)) continue;
      if (best.length === k && !better(i, best[k - 1])) continue;
      let at = best.length < k ? best.length : k - 1;
      best[at] = i;
      while (at > 0 && better(best[at], best[at - 1])) {
        const swap = best[at - 1];
        best[at - 1] = best[at];
        best[at] = swap;
        at--;
      }
    }
    return best.map((i) => ({ row: i, word: words[i], score: scores[i] }));
  }

  function rowVector(row) {
    return Array.prototype.slice.call(rows, row * dim, (row + 1) * dim);
  }

  function neighbours(row, k) {
    return top(cosines(rowVector(row), norms[row]), k, new Set([row]));
  }

  // sum of ±(row / |row|), as gensim's most_similar(positive, negative) and
  // Vectors.analogy (3CosAdd) combine unit vectors; the query words are never answers.
  function combine(terms, k) {
    const target = new Float64Array(dim);
    for (const term of terms) {
      const norm = norms[term.row];
      if (norm === 0) continue;
      for (let j = 0, base = term.row * dim; j < dim; j++) {
        target[j] += (term.sign * rows[base + j]) / norm;
      }
    }
    let length = 0;
    for (let j = 0; j < dim; j++) length += target[j] * target[j];
    length = Math.sqrt(length);
    return top(cosines(target, length), k, new Set(terms.map((t) => t.row)));
  }

  function lookup(text) {
    if (index.has(text)) return { row: index.get(text), folded: false };
    const lower = text.toLowerCase();
    if (index.has(lower)) return { row: index.get(lower), folded: true };
    return null;
  }

  // "king - man + woman", "king -man +woman", "paris − france + italy"
  function parseExpression(text) {
    const terms = [];
    const unknown = [];
    let sign = 1;
    for (let token of text.trim().split(/\s+/)) {
      if (token === "") continue;
      if (token === "+" || token === "-" || token === "\u2212") {
        sign = token === "+" ? 1 : -1;
        continue;
      }
      if (!lookup(token) && /^[+\-\u2212]./.test(token)) {
        sign = token[0] === "+" ? 1 : -1;
        token = token.slice(1);
      }
      const found = lookup(token);
      if (found) terms.push({ row: found.row, sign: sign, word: words[found.row] });
      else unknown.push(token);
      sign = 1;
    }
    return { terms, unknown };
  }

  // -- view ----------------------------------------------------------------------------------

  const canvas = $("canvas");
  const context = canvas.getContext("2d");
  const tooltip = $("tooltip");
  const view = { scale: 1, x: 0, y: 0, width: 0, height: 0, fitScale: 1 };
  const selection = { query: null, near: [], extra: [], terms: [] };
  let hovered = -1;

  function resize() {
    const box = canvas.getBoundingClientRect();
    const ratio = window.devicePixelRatio || 1;
    const first = view.width === 0;
    view.width = box.width;
    view.height = box.height;
    canvas.width = Math.max(1, Math.round(box.width * ratio));
    canvas.height = Math.max(1, Math.round(box.height * ratio));
    context.setTransform(ratio, 0, 0, ratio, 0, 0);
    if (first) fit();
    else draw();
  }

  function fit() {
    const margin = 28;
    view.fitScale = Math.max(1e-6, Math.min(view.width - 2 * margin, view.height - 2 * margin));
    view.scale = view.fitScale;
    view.x = (view.width - view.scale) / 2;
    view.y = (view.height - view.scale) / 2;
    draw();
  }

  const screenX = (i) => view.x + px[i] * view.scale;
  const screenY = (i) => view.y + py[i] * view.scale;

  function zoomAt(factor, cx, cy) {
    const scale = Math.min(view.fitScale * 4000, Math.max(view.fitScale * 0.3, view.scale * factor));
    const applied = scale / view.scale;
    view.x = cx - (cx - view.x) * applied;
    view.y = cy - (cy - view.y) * applied;
    view.scale = scale;
    draw();
  }

  function centreOn(rowsToShow) {
    let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (const i of rowsToShow) {
      x0 = Math.min(x0, px[i]); x1 = Math.max(x1, px[i]);
      y0 = Math.min(y0, py[i]); y1 = Math.max(y1, py[i]);
    }
    const span = Math.max(x1 - x0, y1 - y0, 0.02);
    const scale = Math.min(view.fitScale * 40, Math.max(view.fitScale,
      Math.min(view.width, view.height) * 0.7 / span));
    view.scale = scale;
    view.x = view.width / 2 - ((x0 + x1) / 2) * scale;
    view.y = view.height / 2 - ((y0 + y1) / 2) * scale;
    draw();
  }

  // -- drawing -------------------------------------------------------------------------------

  const colours = { point: "rgba(76, 90, 115, 0.5)", near: "#1c7ed6", query: "#e8590c",
    label: "#2b3345", faint: "rgba(76, 90, 115, 0.16)" };

  function draw() {
    const w = view.width, h = view.height;
    context.clearRect(0, 0, w, h);
    const highlighted = selection.query !== null || selection.extra.length > 0;
    const radius = Math.min(3.2, 1.6 + Math.log2(view.scale / view.fitScale + 1) * 0.5);
    context.fillStyle = highlighted ? colours.faint : colours.point;
    context.beginPath();
    for (let i = 0; i < count; i++) {
      const x = screenX(i), y = screenY(i);
      if (x < -4 || y < -4 || x > w + 4 || y > h + 4) continue;
      context.moveTo(x + radius, y);
      context.arc(x, y, radius, 0, 2 * Math.PI);
    }
    context.fill();

    const placed = new LabelGrid();
    if (selection.query !== null) {
      const qx = screenX(selection.query), qy = screenY(selection.query);
      context.strokeStyle = "rgba(28, 126, 214, 0.35)";
      context.lineWidth = 1;
      context.beginPath();
      for (const n of selection.near) {
        context.moveTo(qx, qy);
        context.lineTo(screenX(n.row), screenY(n.row));
      }
      context.stroke();
    }
    // Highlighted words: the query (or the analogy's terms) first, then the answers. Their
    // labels are placed before any other, each at the first free spot around its point.
    const marked = [];
    if (selection.query !== null) marked.push([selection.query, colours.query, "700 13px", 6.5, true]);
    for (const term of selection.terms) marked.push([term.row, colours.query, "700 13px", 5.5, true]);
    for (const n of selection.near.concat(selection.extra)) marked.push([n.row, colours.near, "600 12px", 4.2, false]);
    const labels = marked.map(([row, colour, font, , always]) => [row, colour, font, place(row, font, placed, always)]);
    for (const [row, , , r] of marked) placed.add([screenX(row) - r, screenY(row) - r, screenX(row) + r, screenY(row) + r]);

    // Then frequent words, wherever they do not collide with a placed label.
    const budget = highlighted ? 60 : 400;
    let shown = 0;
    for (let r = 0; r < count && shown < budget; r++) {
      const i = byRank[r];
      const x = screenX(i), y = screenY(i);
      if (x < 0 || y < 0 || x > w || y > h) continue;
      const spot = place(i, "11px", placed, false, true);
      if (spot) {
        write(i, highlighted ? "rgba(43, 51, 69, 0.45)" : colours.label, "11px", spot);
        shown++;
      }
    }
    for (let n = marked.length - 1; n >= 0; n--) dot(marked[n][0], marked[n][3], marked[n][1]);
    for (const [row, colour, font, spot] of labels) if (spot) write(row, colour, font, spot);
    if (hovered >= 0) dot(hovered, 5, colours.query);
  }

  function dot(i, r, colour) {
    context.beginPath();
    context.arc(screenX(i), screenY(i), r, 0, 2 * Math.PI);
    context.fillStyle = colour;
    context.fill();
    context.lineWidth = 1.5;
    context.strokeStyle = "#fff";
    context.stroke();
  }

  const FONT = " system-ui, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif";

  // The map's label of point i: a token of more than 40 characters is cut (with an ellipsis)
  // so that it does not cross the whole map; the tooltip and the lists show it whole.
  const LABEL_CHARS = 40;
  function label(i) {
    const word = words[i];
    if (word.length <= LABEL_CHARS) return word;
    const chars = Array.from(word);
    return chars.length <= LABEL_CHARS ? word : chars.slice(0, LABEL_CHARS - 1).join("") + "\u2026";
  }

  // A free spot for the label of point i: right of it, left, above or below. Returns the text's
  // baseline origin, or null when all collide (unless always, which takes the first spot).
  function place(i, font, placed, always, rightOnly) {
    context.font = font + FONT;
    const width = context.measureText(label(i)).width;
    const x = screenX(i), y = screenY(i);
    const spots = rightOnly ? [[x + 6, y - 5]]
      : [[x + 7, y + 4], [x + 6, y - 6], [x - 7 - width, y + 4], [x - width / 2, y - 9], [x - width / 2, y + 17]];
    for (const [sx, sy] of spots) {
      const box = [sx - 1, sy - 11, sx + width + 1, sy + 3];
      if (!placed.hits(box)) { placed.add(box); return [sx, sy]; }
    }
    if (!always) return null;
    const [sx, sy] = spots[0];
    placed.add([sx - 1, sy - 11, sx + width + 1, sy + 3]);
    return spots[0];
  }

  function write(i, colour, font, spot) {
    context.font = font + FONT;
    context.lineWidth = 3;
    context.strokeStyle = "rgba(255, 255, 255, 0.85)";
    context.strokeText(label(i), spot[0], spot[1]);
    context.fillStyle = colour;
    context.fillText(label(i), spot[0], spot[1]);
  }

  // Boxes of placed labels, bucketed in 64-pixel cells for quick overlap tests.
  function LabelGrid() { this.cells = new Map(); }
  LabelGrid.prototype.keys = function (box) {
    const keys = [];
    for (let cx = Math.floor(box[0] / 64); cx <= Math.floor(box[2] / 64); cx++) {
      for (let cy = Math.floor(box[1] / 64); cy <= Math.floor(box[3] / 64); cy++) keys.push(cx + "," + cy);
    }
    return keys;
  };
  LabelGrid.prototype.hits = function (box) {
    for (const key of this.keys(box)) {
      for (const other of this.cells.get(key) || []) {
        if (box[0] < other[2] && other[0] < box[2] && box[1] < other[3] && other[1] < box[3]) return true;
      }
    }
    return false;
  };
  LabelGrid.prototype.add = function (box) {
    for (const key of this.keys(box)) {
      if (!this.cells.has(key)) this.cells.set(key, []);
      this.cells.get(key).push(box);
    }
  };

  // -- interaction ---------------------------------------------------------------------------

  let drag = null;
  canvas.addEventListener("pointerdown", (event) => {
    drag = { x: event.clientX, y: event.clientY, moved: false };
    canvas.setPointerCapture(event.pointerId);
    canvas.classList.add("dragging");
  });
  canvas.addEventListener("pointermove", (event) => {
    const box = canvas.getBoundingClientRect();
    if (drag) {
      const dx = event.clientX - drag.x, dy = event.clientY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 2) drag.moved = true;
      view.x += dx;
      view.y += dy;
      drag.x = event.clientX;
      drag.y = event.clientY;
      draw();
      return;
    }
    hover(event.clientX - box.left, event.clientY - box.top);
  });
  canvas.addEventListener("pointerup", (event) => {
    canvas.classList.remove("dragging");
    const wasClick = drag && !drag.moved;
    drag = null;
    if (wasClick && hovered >= 0) {
      $("search").value = words[hovered];
      runSearch();
    }
  });
  canvas.addEventListener("pointerleave", () => { hovered = -1; tooltip.hidden = true; draw(); });
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = canvas.getBoundingClientRect();
    const delta = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
    zoomAt(Math.exp(-delta * 0.0015), event.clientX - box.left, event.clientY - box.top);
  }, { passive: false });
  canvas.addEventListener("dblclick", (event) => {
    const box = canvas.getBoundingClientRect();
    zoomAt(2, event.clientX - box.left, event.clientY - box.top);
  });
  $("zoom-in").addEventListener("click", () => zoomAt(1.6, view.width / 2, view.height / 2));
  $("zoom-out").addEventListener("click", () => zoomAt(1 / 1.6, view.width / 2, view.height / 2));
  $("zoom-reset").addEventListener("click", fit);
  document.addEventListener("keydown", (event) => {
    if (event.target instanceof HTMLInputElement) return;
    if (event.key === "+" || event.key === "=") zoomAt(1.6, view.width / 2, view.height / 2);
    else if (event.key === "-") zoomAt(1 / 1.6, view.width / 2, view.height / 2);
    else if (event.key === "0") fit();
  });

  function hover(x, y) {
    let best = -1, bestDistance = 10 * 10;
    for (let i = 0; i < count; i++) {
      const dx = screenX(i) - x, dy = screenY(i) - y;
      const distance = dx * dx + dy * dy;
      if (distance < bestDistance) { best = i; bestDistance = distance; }
    }
    if (best !== hovered) {
      hovered = best;
      draw();
    }
    if (best < 0) { tooltip.hidden = true; return; }
    tooltip.textContent = words[best] + "  \u00b7  #" + numberFormat.format(rank[best] + 1);
    tooltip.hidden = false;
    const left = Math.min(screenX(best) + 12, view.width - tooltip.offsetWidth - 4);
    tooltip.style.left = Math.max(4, left) + "px";
    tooltip.style.top = Math.max(4, screenY(best) - 34) + "px";
  }

  function showResults(list, results) {
    list.replaceChildren();
    for (const result of results) {
      const item = document.createElement("li");
      item.dataset.word = result.word;
      item.dataset.score = String(result.score);
      const word = document.createElement("span");
      word.className = "word";
      word.textContent = result.word;
      const bar = document.createElement("span");
      bar.className = "bar";
      const fill = document.createElement("span");
      fill.style.width = Math.max(0, Math.min(1, result.score)) * 100 + "%";
      bar.appendChild(fill);
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = result.score.toFixed(4);
      item.append(word, bar, score);
      item.addEventListener("click", () => {
        $("search").value = result.word;
        runSearch();
      });
      list.appendChild(item);
    }
  }

  function setStatus(element, text, isError) {
    element.replaceChildren(document.createTextNode(text));
    element.classList.toggle("error", Boolean(isError));
  }

  function neighbourCount() {
    const k = parseInt($("k").value, 10);
    return Number.isFinite(k) && k >= 1 ? Math.min(k, 100, count - 1) : 10;
  }

  function suggestions(text) {
    const lower = text.toLowerCase();
    const found = [];
    for (let r = 0; r < count && found.length < 6; r++) {
      if (words[byRank[r]].toLowerCase().startsWith(lower)) found.push(byRank[r]);
    }
    return found;
  }

  function runSearch() {
    const text = $("search").value.trim();
    const status = $("search-status");
    const list = $("neighbours");
    selection.extra = [];
    selection.terms = [];
    if (text === "") {
      selection.query = null;
      selection.near = [];
      list.replaceChildren();
      setStatus(status, "");
      draw();
      return;
    }
    const found = lookup(text);
    if (!found) {
      selection.query = null;
      selection.near = [];
      list.replaceChildren();
      const close = suggestions(text);
      if (close.length === 0) {
        setStatus(status, "\u201c" + text + "\u201d is not among the " + numberFormat.format(count) + " words shown", true);
      } else {
        status.replaceChildren(document.createTextNode("not found; "));
        status.classList.remove("error");
        close.forEach((row, n) => {
          const link = document.createElement("span");
          link.className = "suggest";
          link.textContent = words[row];
          link.addEventListener("click", () => { $("search").value = words[row]; runSearch(); });
          status.append(n ? ", " : "", link);
        });
        status.append("?");
      }
      draw();
      return;
    }
    if (norms[found.row] === 0) {
      selection.query = found.row;
      selection.near = [];
      list.replaceChildren();
      setStatus(status, "\u201c" + words[found.row] + "\u201d has a zero vector: cosine similarity is undefined", true);
      centreOn([found.row]);
      return;
    }
    const results = neighbours(found.row, neighbourCount());
    selection.query = found.row;
    selection.near = results;
    showResults(list, results);
    setStatus(status, (found.folded ? "showing \u201c" + words[found.row] + "\u201d \u00b7 " : "") +
      "word #" + numberFormat.format(rank[found.row] + 1) + " by frequency");
    centreOn([found.row].concat(results.map((r) => r.row)));
  }

  function runAnalogy() {
    const text = $("analogy").value;
    const status = $("analogy-status");
    const list = $("analogy-results");
    if (text.trim() === "") {
      list.replaceChildren();
      setStatus(status, "");
      selection.extra = [];
      selection.terms = [];
      draw();
      return;
    }
    const parsed = parseExpression(text);
    if (parsed.unknown.length > 0 || parsed.terms.length === 0) {
      list.replaceChildren();
      setStatus(status, parsed.unknown.length
        ? "not among the words shown: " + parsed.unknown.map((w) => "\u201c" + w + "\u201d").join(", ")
        : "type words joined by + and \u2212", true);
      return;
    }
    const results = combine(parsed.terms, neighbourCount());
    if (results.length > 0 && results.every((r) => r.score === 0)) {
      list.replaceChildren();
      setStatus(status, "the terms add up to a zero vector: nothing is similar to it", true);
      return;
    }
    showResults(list, results);
    setStatus(status, parsed.terms.map((t, n) => (n === 0 ? (t.sign < 0 ? "\u2212" : "") : (t.sign < 0 ? " \u2212 " : " + ")) + t.word).join("") + " \u2248 " + (results.length ? results[0].word : "?"));
    selection.query = null;
    selection.near = [];
    selection.extra = results;
    selection.terms = parsed.terms;
    centreOn(parsed.terms.map((t) => t.row).concat(results.map((r) => r.row)));
  }

  $("search").addEventListener("input", runSearch);
  $("k").addEventListener("input", () => { runSearch(); if ($("analogy").value.trim()) runAnalogy(); });
  $("search-form").addEventListener("submit", (event) => { event.preventDefault(); runSearch(); });
  $("analogy").addEventListener("input", runAnalogy);
  $("analogy-form").addEventListener("submit", (event) => { event.preventDefault(); runAnalogy(); });

  // -- training curves -----------------------------------------------------------------------

  const SVG = "http://www.w3.org/2000/svg";
  function svg(name, attributes, parent) {
    const element = document.createElementNS(SVG, name);
    for (const key in attributes) element.setAttribute(key, attributes[key]);
    if (parent) parent.appendChild(element);
    return element;
  }

  function compact(value) {
    const size = Math.abs(value);
    if (size === 0) return "0";
    if (size >= 1e6) return (value / 1e6).toFixed(size >= 1e7 ? 0 : 1) + "M";
    if (size >= 1e4) return (value / 1e3).toFixed(0) + "k";
    if (size >= 100 || Number.isInteger(value)) return value.toFixed(0);
    if (size >= 0.01) return value.toPrecision(3);
    return value.toExponential(1);
  }

  const seriesNames = { loss: "loss", lr: "learning rate", words_per_sec: "words / s" };

  function chart(name, xs, ys, xName, epochs) {
    const points = [];
    for (let i = 0; i < ys.length; i++) {
      if (ys[i] !== null && xs[i] !== null && Number.isFinite(ys[i]) && Number.isFinite(xs[i])) points.push([xs[i], ys[i]]);
    }
    if (points.length === 0) return null;
    const width = 300, height = 118, left = 44, right = 8, top = 8, bottom = 22;
    let x0 = Math.min(...points.map((p) => p[0])), x1 = Math.max(...points.map((p) => p[0]));
    let y0 = Math.min(...points.map((p) => p[1])), y1 = Math.max(...points.map((p) => p[1]));
    if (x1 === x0) { x0 -= 1; x1 += 1; }
    if (y1 === y0) { const pad = Math.abs(y0) * 0.1 || 1; y0 -= pad; y1 += pad; }
    const sx = (x) => left + ((x - x0) / (x1 - x0)) * (width - left - right);
    const sy = (y) => top + (1 - (y - y0) / (y1 - y0)) * (height - top - bottom);
    const box = document.createElement("div");
    box.className = "chart";
    box.dataset.series = name;
    const title = document.createElement("div");
    title.className = "title";
    const bold = document.createElement("b");
    bold.textContent = seriesNames[name] || name;
    title.append(bold, " \u00b7 last " + compact(points[points.length - 1][1]));
    box.appendChild(title);
    const root = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img", "aria-label": (seriesNames[name] || name) + " by " + xName });
    for (const boundary of epochs) {
      if (boundary > x0 && boundary < x1) svg("line", { x1: sx(boundary), x2: sx(boundary), y1: top, y2: height - bottom, stroke: "#eef0f4" }, root);
    }
    svg("line", { x1: left, x2: width - right, y1: height - bottom, y2: height - bottom, stroke: "#c9ced8" }, root);
    svg("line", { x1: left, x2: left, y1: top, y2: height - bottom, stroke: "#c9ced8" }, root);
    const text = (content, attributes) => { svg("text", Object.assign({ "font-size": 10, fill: "#667085" }, attributes), root).textContent = content; };
    text(compact(y1), { x: left - 4, y: top + 8, "text-anchor": "end" });
    text(compact(y0), { x: left - 4, y: height - bottom, "text-anchor": "end" });
    text(compact(x0), { x: left, y: height - 6, "text-anchor": "start" });
    text(compact(x1) + " " + xName, { x: width - right, y: height - 6, "text-anchor": "end" });
    const path = points.map((p, n) => (n ? "L" : "M") + sx(p[0]).toFixed(1) + " " + sy(p[1]).toFixed(1)).join(" ");
    svg("path", { d: path, fill: "none", stroke: name === "loss" ? "#e8590c" : "#1c7ed6", "stroke-width": 1.6 }, root);
    if (points.length === 1) svg("circle", { cx: sx(points[0][0]), cy: sy(points[0][1]), r: 2.5, fill: "#e8590c" }, root);
    box.appendChild(root);
    return box;
  }

  function drawTraining() {
    const training = data.training;
    if (!training) return;
    const columns = training.columns;
    const length = Math.max(0, ...Object.values(columns).map((c) => c.length));
    let xName = "row", xs = Array.from({ length }, (_, i) => i + 1);
    if (columns.words && columns.words.some((v) => v !== null)) { xName = "words"; xs = columns.words; }
    else if (columns.epoch && columns.epoch.some((v) => v !== null)) { xName = "epoch"; xs = columns.epoch; }
    const epochs = [];
    if (xName === "words" && columns.epoch) {
      for (let i = 1; i < length; i++) if (columns.epoch[i] !== columns.epoch[i - 1]) epochs.push(xs[i - 1]);
    }
    const charts = $("charts");
    for (const name of Object.keys(columns)) {
      if (name === "epoch" || name === "words") continue;
      const box = chart(name, xs, columns[name], xName, epochs);
      if (box) charts.appendChild(box);
    }
    if (charts.children.length) {
      const source = document.createElement("p");
      source.className = "status";
      source.textContent = "from " + training.source;
      charts.appendChild(source);
      $("training").hidden = false;
    }
  }

  // -- start ---------------------------------------------------------------------------------

  function summary() {
    const parts = [numberFormat.format(count) + (count < data.total ? " of " + numberFormat.format(data.total) : "") + " words",
      dim + " dimensions"];
    const projection = data.projection;
    if (projection.method === "pca") {
      const shares = projection.explained.map((s) => (100 * s).toFixed(1) + "%");
      parts.push("PCA (" + shares.join(" + ") + " of variance)");
      $("axes").textContent = "PCA axes 1 and 2";
    } else {
      parts.push(projection.method === "tsne" ? "t-SNE" : "UMAP");
      $("axes").textContent = (projection.method === "tsne" ? "t-SNE" : "UMAP") + " (cosine); distances are not to scale";
    }
    parts.push(data.precision === "int8" ? "int8 vectors" : "float32 vectors");
    $("summary").textContent = parts.join(" \u00b7 ");
    const notes = $("notes-text");
    for (const line of data.notes) {
      const p = document.createElement("p");
      p.textContent = line;
      notes.appendChild(p);
    }
  }

  // A small scripting hook (used by the tests): where a word is drawn, in CSS pixels of the
  // canvas, and the current zoom relative to the whole map.
  window.embtableExplorer = Object.freeze({
    pointOnScreen(word) {
      const i = index.get(word);
      if (i === undefined) return null;
      const box = canvas.getBoundingClientRect();
      return [box.left + screenX(i), box.top + screenY(i)];
    },
    zoom() { return view.scale / view.fitScale; },
    label(word) {
      const i = index.get(word);
      return i === undefined ? null : label(i);
    },
  });

  summary();
  drawTraining();
  new ResizeObserver(resize).observe(canvas);
  resize();
  document.body.dataset.ready = "true";
})();
