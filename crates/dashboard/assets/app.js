// kubemark dashboard: renders runs, one run, a metric across runs and
// comparisons from the model the server (/api/data) or the static report
// (the #kubemark-data element) provides. Charts are SVG drawn here; there
// is no external library and no network use besides the dashboard's own API.
(function () {
  'use strict';

  var SVGNS = 'http://www.w3.org/2000/svg';
  var COLORS = ['#2f5fb3', '#e07b00', '#1a9850', '#c62828', '#7b3fb3', '#00838f', '#6d4c41', '#ad1457'];
  var embedded = document.getElementById('kubemark-data');
  var model = null;
  var app = document.getElementById('app');
  var tip = document.getElementById('tip');

  // ---------- helpers ----------
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }
  function svg(tag, attrs, children) {
    var e = document.createElementNS(SVGNS, tag);
    setAttrs(e, attrs);
    append(e, children);
    return e;
  }
  function setAttrs(e, attrs) {
    if (!attrs) return;
    Object.keys(attrs).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) return;
      if (k === 'text') e.textContent = v;
      else if (k === 'onclick' || k === 'onchange' || k === 'oninput') e[k] = v;
      else e.setAttribute(k, v === true ? '' : String(v));
    });
  }
  function append(e, children) {
    if (children === null || children === undefined) return;
    if (!Array.isArray(children)) children = [children];
    children.forEach(function (c) {
      if (c === null || c === undefined || c === false) return;
      e.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
    });
  }
  function fmt(v) {
    if (v === null || v === undefined || isNaN(v)) return '–';
    if (v === 0) return '0';
    var a = Math.abs(v), s;
    if (a >= 100) s = v.toFixed(0);
    else if (a >= 10) s = v.toFixed(1);
    else if (a >= 1) s = v.toFixed(2);
    else if (a >= 0.001) s = v.toFixed(4);
    else return v.toExponential(2);
    if (s.indexOf('.') >= 0) s = s.replace(/0+$/, '').replace(/\.$/, '');
    return s;
  }
  function fmtPct(p) {
    if (p === null || p === undefined) return 'n/a';
    return (p > 0 ? '+' : '') + fmt(p) + '%';
  }
  function fmtWhen(s) {
    if (!s) return '–';
    return s.replace('T', ' ').replace(/Z$/, ' UTC');
  }
  function fmtDuration(s) {
    if (s === null || s === undefined) return '–';
    if (s < 60) return fmt(s) + ' s';
    var m = Math.floor(s / 60);
    return m + ' m ' + Math.round(s - m * 60) + ' s';
  }
  function enc(s) { return encodeURIComponent(s); }
  function runLink(id) { return el('a', { href: '#/run/' + enc(id), text: id }); }
  function verdictSpan(v) { return el('span', { class: 'verdict-' + (v || 'none'), text: v ? v.toUpperCase() : '–' }); }
  function runById(id) {
    for (var i = 0; i < model.runs.length; i++) if (model.runs[i].id === id) return model.runs[i];
    return null;
  }
  function seriesName(m) {
    var keys = Object.keys(m.labels).sort();
    if (!keys.length) return m.summary;
    return m.summary + '{' + keys.map(function (k) { return k + '=' + m.labels[k]; }).join(',') + '}';
  }
  function labelText(m) {
    var keys = Object.keys(m.labels).sort();
    if (!keys.length) return '(all)';
    return keys.map(function (k) { return k + '=' + m.labels[k]; }).join(', ');
  }
  function parseRoute() {
    var h = location.hash.replace(/^#/, '') || '/runs';
    var q = h.indexOf('?');
    var path = q >= 0 ? h.slice(0, q) : h;
    var params = {};
    if (q >= 0) {
      h.slice(q + 1).split('&').forEach(function (kv) {
        if (!kv) return;
        var i = kv.indexOf('=');
        var k = decodeURIComponent(i >= 0 ? kv.slice(0, i) : kv);
        params[k] = i >= 0 ? decodeURIComponent(kv.slice(i + 1).replace(/\+/g, ' ')) : '';
      });
    }
    return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: params };
  }
  function hashWith(path, params) {
    var qs = Object.keys(params).filter(function (k) { return params[k] !== '' && params[k] !== undefined; })
      .map(function (k) { return enc(k) + '=' + enc(params[k]); }).join('&');
    return '#' + path + (qs ? '?' + qs : '');
  }

  // ---------- tooltip ----------
  document.addEventListener('mouseover', function (ev) {
    var t = ev.target && ev.target.closest ? ev.target.closest('[data-tip]') : null;
    if (!t) { tip.hidden = true; return; }
    tip.textContent = t.getAttribute('data-tip');
    tip.hidden = false;
  });
  document.addEventListener('mousemove', function (ev) {
    if (tip.hidden) return;
    tip.style.left = (ev.clientX + 12) + 'px';
    tip.style.top = (ev.clientY + 12) + 'px';
  });

  // ---------- charts ----------
  function niceTicks(min, max, count) {
    if (!(max > min)) { max = min === 0 ? 1 : min * 1.1 + (min < 0 ? 0 : 1e-9); if (min > 0) min = 0; }
    var span = max - min;
    var step = Math.pow(10, Math.floor(Math.log10(span / count)));
    var err = span / count / step;
    if (err >= 7.5) step *= 10; else if (err >= 3.5) step *= 5; else if (err >= 1.5) step *= 2;
    var lo = Math.floor(min / step) * step, hi = Math.ceil(max / step) * step;
    var ticks = [];
    for (var v = lo; v <= hi + step / 2; v += step) ticks.push(Math.abs(v) < step / 1e6 ? 0 : v);
    return ticks;
  }
  function legend(g, names, x, y, colors) {
    var cx = x;
    names.forEach(function (n, i) {
      g.appendChild(svg('rect', { x: cx, y: y - 9, width: 12, height: 12, fill: (colors || COLORS)[i % (colors || COLORS).length] }));
      var t = svg('text', { x: cx + 16, y: y + 1, text: n, class: 'legend' });
      g.appendChild(t);
      cx += 24 + n.length * 7;
    });
  }
  // Axes frame: returns {root, plot, y: fn, top, left, w, h}.
  function frame(title, unit, values, opts) {
    var W = opts.width || 640, H = opts.height || 300;
    var m = { top: 46, right: opts.right || 16, bottom: opts.bottom || 60, left: 70 };
    var w = W - m.left - m.right, h = H - m.top - m.bottom;
    var lo = Math.min(0, Math.min.apply(null, values.length ? values : [0]));
    var hi = Math.max.apply(null, values.length ? values : [1]);
    var ticks = niceTicks(lo, hi, 5);
    var y0 = ticks[0], y1 = ticks[ticks.length - 1];
    var y = function (v) { return m.top + h - (v - y0) / (y1 - y0) * h; };
    var root = svg('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': title, class: opts.cls || 'chart-svg' });
    root.appendChild(svg('text', { x: m.left, y: 18, class: 'title', text: title }));
    var grid = svg('g', { class: 'grid' });
    var axis = svg('g', { class: 'axis y-axis' });
    ticks.forEach(function (t) {
      grid.appendChild(svg('line', { x1: m.left, x2: m.left + w, y1: y(t), y2: y(t) }));
      axis.appendChild(svg('text', { x: m.left - 6, y: y(t) + 4, 'text-anchor': 'end', text: fmt(t) }));
    });
    axis.appendChild(svg('line', { x1: m.left, x2: m.left, y1: m.top, y2: m.top + h }));
    axis.appendChild(svg('line', { x1: m.left, x2: m.left + w, y1: m.top + h, y2: m.top + h }));
    axis.appendChild(svg('text', { class: 'unit', transform: 'translate(16,' + (m.top + h / 2) + ') rotate(-90)', 'text-anchor': 'middle', text: unit }));
    root.appendChild(grid);
    root.appendChild(axis);
    return { root: root, y: y, top: m.top, left: m.left, w: w, h: h, H: H };
  }
  function xLabels(f, cats, xOf) {
    var g = svg('g', { class: 'axis x-axis' });
    var rotate = cats.length > 4 || cats.some(function (c) { return c.length > 14; });
    cats.forEach(function (c, i) {
      var label = c.length > 30 ? c.slice(0, 29) + '…' : c;
      var x = xOf(i), yy = f.top + f.h + 16;
      g.appendChild(svg('text', rotate
        ? { x: x, y: yy, 'text-anchor': 'end', transform: 'rotate(-25 ' + x + ' ' + yy + ')', text: label }
        : { x: x, y: yy, 'text-anchor': 'middle', text: label }));
    });
    f.root.appendChild(g);
  }
  // Line chart: cats = x labels; series = [{name, values: [number|null], tips: [string]}]
  function lineChart(title, unit, cats, series, opts) {
    opts = opts || {};
    var all = [];
    series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null && v !== undefined) all.push(v); }); });
    var f = frame(title, unit, all, { width: opts.width || 720, height: opts.height || 320, bottom: 80, right: 80, cls: 'chart-svg line-chart' });
    var step = cats.length > 1 ? f.w / (cats.length - 1) : 0;
    var xOf = function (i) { return cats.length > 1 ? f.left + i * step : f.left + f.w / 2; };
    xLabels(f, cats, xOf);
    series.forEach(function (s, si) {
      var color = COLORS[si % COLORS.length];
      var d = '';
      s.values.forEach(function (v, i) {
        if (v === null || v === undefined) return;
        d += (d ? 'L' : 'M') + xOf(i).toFixed(1) + ',' + f.y(v).toFixed(1);
      });
      var g = svg('g', { class: 'series', 'data-series': s.name });
      if (d) g.appendChild(svg('path', { d: d, fill: 'none', stroke: color, 'stroke-width': 2 }));
      s.values.forEach(function (v, i) {
        if (v === null || v === undefined) return;
        var t = (s.tips && s.tips[i] ? s.tips[i] + '\n' : '') + s.name + ' = ' + fmt(v) + ' ' + unit;
        var c = svg('circle', { class: 'pt', cx: xOf(i), cy: f.y(v), r: 5, fill: color, stroke: '#fff', 'stroke-width': 1.5,
          'data-series': s.name, 'data-category': cats[i], 'data-run': s.runs ? s.runs[i] : null, 'data-value': v, 'data-tip': t });
        c.appendChild(svg('title', { text: t }));
        g.appendChild(c);
      });
      f.root.appendChild(g);
    });
    legend(f.root, series.map(function (s) { return s.name; }), f.left, 36);
    return wrapChart(f.root);
  }
  // Grouped bar chart: cats on x, one bar per series in each.
  function barChart(title, unit, cats, series, opts) {
    opts = opts || {};
    var all = [];
    series.forEach(function (s) { s.values.forEach(function (v) { if (v !== null && v !== undefined) all.push(v); }); });
    var width = opts.width || Math.max(380, Math.min(1200, 120 + cats.length * (series.length * 18 + 24)));
    var f = frame(title, unit, all, { width: width, height: opts.height || 300, bottom: opts.bottom || 80, cls: 'chart-svg bar-chart' });
    var band = f.w / Math.max(1, cats.length);
    var bw = Math.max(4, Math.min(28, (band - 10) / Math.max(1, series.length)));
    var xOf = function (i) { return f.left + band * i + band / 2; };
    xLabels(f, cats, xOf);
    var colors = opts.colors || COLORS;
    series.forEach(function (s, si) {
      var color = colors[si % colors.length];
      s.values.forEach(function (v, i) {
        if (v === null || v === undefined) return;
        var x = xOf(i) - (bw * series.length) / 2 + si * bw;
        var y = f.y(Math.max(0, v)), y0 = f.y(Math.min(0, v));
        var t = cats[i] + '\n' + s.name + ' = ' + fmt(v) + ' ' + unit;
        var r = svg('rect', { class: 'bar', x: x, y: y, width: bw - 1, height: Math.max(1, y0 - y), fill: color,
          'data-series': s.name, 'data-category': cats[i], 'data-value': v, 'data-tip': t });
        r.appendChild(svg('title', { text: t }));
        f.root.appendChild(r);
      });
    });
    legend(f.root, series.map(function (s) { return s.name; }), f.left, 36, colors);
    return wrapChart(f.root);
  }
  function wrapChart(root) { return el('div', { class: 'chart' }, root); }
  function isoOf(ms) { return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z'); }
  // Line chart over time. series = [{name, color, points: [[unixMs, value]]}];
  // the x axis is the time since opts.t0 (unix ms), in s (or min when long),
  // up to at least opts.t1 (so charts of one run share their time axis).
  // Points get hover circles unless a series is too long to draw them all.
  function timeChart(title, unit, series, opts) {
    var t0 = opts.t0, all = [], tmax = Math.max(0, (opts.t1 || t0) - t0);
    series.forEach(function (s) { s.points.forEach(function (p) { all.push(p[1]); tmax = Math.max(tmax, p[0] - t0); }); });
    var div = tmax > 15 * 60 * 1000 ? 60000 : 1000;
    var xUnit = div === 1000 ? 's' : 'min';
    var f = frame(title, unit, all, { width: opts.width || 580, height: opts.height || 300, bottom: 56, right: 20, cls: 'chart-svg time-chart' });
    var xt = niceTicks(0, tmax / div || 1, 6);
    var x1 = xt[xt.length - 1] || 1;
    var xOf = function (ms) { return f.left + (ms - t0) / div / x1 * f.w; };
    var xg = svg('g', { class: 'axis x-axis' });
    xt.forEach(function (t) {
      var x = f.left + t / x1 * f.w;
      xg.appendChild(svg('line', { x1: x, x2: x, y1: f.top + f.h, y2: f.top + f.h + 4 }));
      xg.appendChild(svg('text', { x: x, y: f.top + f.h + 17, 'text-anchor': 'middle', text: fmt(t) }));
    });
    xg.appendChild(svg('text', { class: 'x-unit', x: f.left + f.w / 2, y: f.top + f.h + 38, 'text-anchor': 'middle',
      text: 'time since ' + fmtWhen(isoOf(t0)) + ' (' + xUnit + ')' }));
    f.root.appendChild(xg);
    series.forEach(function (s) {
      var d = s.points.map(function (p, i) { return (i ? 'L' : 'M') + xOf(p[0]).toFixed(1) + ',' + f.y(p[1]).toFixed(1); }).join('');
      var g = svg('g', { class: 'series', 'data-series': s.name, 'data-points': s.points.length });
      g.appendChild(svg('path', { d: d, fill: 'none', stroke: s.color, 'stroke-width': 1.8 }));
      if (s.points.length <= 600) {
        s.points.forEach(function (p) {
          var t = s.name + '\n' + fmtWhen(isoOf(p[0])) + ' (+' + fmt((p[0] - t0) / 1000) + ' s)\n' + fmt(p[1]) + ' ' + unit;
          var c = svg('circle', { class: 'pt', cx: xOf(p[0]), cy: f.y(p[1]), r: s.points.length > 120 ? 2 : 3, fill: s.color,
            'data-series': s.name, 'data-time': p[0], 'data-value': p[1], 'data-tip': t });
          c.appendChild(svg('title', { text: t }));
          g.appendChild(c);
        });
      }
      f.root.appendChild(g);
    });
    legend(f.root, series.map(function (s) { return s.name; }), f.left, 36, series.map(function (s) { return s.color; }));
    return wrapChart(f.root);
  }
  // Phases on a time axis (seconds since the first phase started).
  function timeline(phases) {
    var t0 = Infinity;
    var rows = phases.map(function (p) {
      var s = Date.parse(p.start);
      if (!isNaN(s)) t0 = Math.min(t0, s);
      return { p: p, s: s };
    });
    if (!isFinite(t0)) t0 = 0;
    // Phase times are whole seconds: a phase that seems to start up to a
    // second before the previous one ended started when it ended.
    var starts = [];
    var prevEnd = 0;
    rows.forEach(function (r, i) {
      var st = isNaN(r.s) ? prevEnd : (r.s - t0) / 1000;
      if (i > 0 && st < prevEnd && prevEnd - st < 1) st = prevEnd;
      starts.push(st);
      prevEnd = st + (r.p.seconds || 0);
    });
    var end = 0;
    rows.forEach(function (r, i) { end = Math.max(end, starts[i] + (r.p.seconds || 0)); });
    var W = 900, rowH = 22, m = { top: 30, left: 260, right: 20, bottom: 40 };
    var H = m.top + rows.length * rowH + m.bottom, w = W - m.left - m.right;
    var ticks = niceTicks(0, end || 1, 8);
    var x1 = ticks[ticks.length - 1];
    var x = function (v) { return m.left + v / x1 * w; };
    var root = svg('svg', { width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, class: 'chart-svg timeline', role: 'img', 'aria-label': 'Phases' });
    root.appendChild(svg('text', { x: 8, y: 18, class: 'title', text: 'Phases (time since the first phase started)' }));
    var axis = svg('g', { class: 'axis x-axis' });
    var grid = svg('g', { class: 'grid' });
    ticks.forEach(function (t) {
      grid.appendChild(svg('line', { x1: x(t), x2: x(t), y1: m.top, y2: H - m.bottom }));
      axis.appendChild(svg('text', { x: x(t), y: H - m.bottom + 16, 'text-anchor': 'middle', text: fmt(t) }));
    });
    axis.appendChild(svg('text', { x: m.left + w / 2, y: H - 6, 'text-anchor': 'middle', class: 'unit', text: 'seconds' }));
    root.appendChild(grid);
    root.appendChild(axis);
    rows.forEach(function (r, i) {
      var y = m.top + i * rowH;
      var color = r.p.status === 'ok' ? '#2f5fb3' : (r.p.status === 'timeout' || r.p.status === 'error') ? '#c62828' : '#b26a00';
      root.appendChild(svg('text', { x: m.left - 8, y: y + 15, 'text-anchor': 'end', text: r.p.name }));
      var t = r.p.name + '\n' + fmt(r.p.seconds) + ' s, ' + r.p.status + (r.p.detail ? ' ' + r.p.detail : '');
      var b = svg('rect', { class: 'phase', x: x(starts[i]), y: y + 4, width: Math.max(2, x(starts[i] + r.p.seconds) - x(starts[i])), height: rowH - 8,
        fill: color, 'data-phase': r.p.name, 'data-value': r.p.seconds, 'data-tip': t });
      b.appendChild(svg('title', { text: t }));
      root.appendChild(b);
    });
    return wrapChart(root);
  }

  // ---------- data ----------
  function loadModel() {
    if (embedded) {
      return Promise.resolve(JSON.parse(embedded.textContent));
    }
    return fetch('api/data', { cache: 'no-store' }).then(function (r) {
      if (!r.ok) throw new Error('api/data: HTTP ' + r.status);
      return r.json();
    });
  }
  function getComparison(base, news, tol) {
    var key = 'base=' + base.join(',') + '&new=' + news.join(',');
    if (model.static) {
      var c = model.comparisons[key];
      return Promise.resolve(c || { unavailable: true });
    }
    var url = 'api/compare?base=' + enc(base.join(',')) + '&new=' + enc(news.join(',')) + (tol ? '&tolerance=' + enc(tol) : '');
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      return r.json().then(function (j) {
        if (!r.ok) throw new Error(j.error || ('HTTP ' + r.status));
        return j;
      });
    });
  }

  // ---------- views ----------
  function problemsCard(problems, title) {
    if (!problems || !problems.length) return null;
    return el('div', { class: 'card problems', id: 'problems' }, [
      el('strong', { text: (title || 'Skipped input') + ' (' + problems.length + ')' }),
      el('ul', null, problems.map(function (p) { return el('li', { class: 'problem', text: p.path + ': ' + p.message }); }))
    ]);
  }

  function viewRuns(route) {
    var filter = route.params.q || '';
    var nodes = [el('h1', { text: 'Runs' })];
    var input = el('input', { type: 'search', id: 'filter', placeholder: 'filter: test, run, master, verdict…', value: filter, size: 40 });
    var compareBtn = el('button', { id: 'compare-selected', text: 'Compare selected', disabled: true });
    var controls = el('div', { class: 'controls' }, [el('label', { for: 'filter', text: 'Filter' }), input,
      model.static ? el('span', { class: 'muted', text: 'Static report: compare each run with the previous run of its test (links in the table).' })
        : el('span', { class: 'muted', text: 'Tick base and new runs, then' }),
      model.static ? null : compareBtn]);
    nodes.push(controls);
    var rows = model.runs.slice().reverse();
    var prevOf = {};
    var lastByTest = {};
    model.runs.forEach(function (r) { if (lastByTest[r.test]) prevOf[r.id] = lastByTest[r.test]; lastByTest[r.test] = r.id; });
    var tbody = el('tbody');
    var table = el('table', { id: 'runs-table' }, [
      el('thead', null, el('tr', null, [
        model.static ? null : el('th', { text: 'base' }), model.static ? null : el('th', { text: 'new' }),
        el('th', { text: 'run' }), el('th', { text: 'test' }), el('th', { text: 'when' }), el('th', { text: 'master' }),
        el('th', { text: 'version' }), el('th', { class: 'num', text: 'nodes' }), el('th', { class: 'num', text: 'pods' }),
        el('th', { class: 'num', text: 'duration' }), el('th', { text: 'verdict' }), el('th', { text: 'compare' })])),
      tbody]);
    function update() {
      var b = tbody.querySelectorAll('input.sel-base:checked').length;
      var n = tbody.querySelectorAll('input.sel-new:checked').length;
      compareBtn.disabled = !(b && n);
    }
    rows.forEach(function (r) {
      var text = [r.id, r.test, r.master, r.masterVersion, r.verdict, r.when].join(' ').toLowerCase();
      var tr = el('tr', { class: 'run-row', 'data-run': r.id, 'data-text': text }, [
        model.static ? null : el('td', null, el('input', { type: 'checkbox', class: 'sel-base', value: r.id, onchange: update, 'aria-label': 'base ' + r.id })),
        model.static ? null : el('td', null, el('input', { type: 'checkbox', class: 'sel-new', value: r.id, onchange: update, 'aria-label': 'new ' + r.id })),
        el('td', null, runLink(r.id)), el('td', { text: r.test }), el('td', { text: fmtWhen(r.when) }),
        el('td', { text: r.master || (r.kubemark ? '–' : 'ClusterLoader2 artifacts') }), el('td', { text: r.masterVersion || '–' }),
        el('td', { class: 'num', text: r.nodes === null ? '–' : r.nodes }), el('td', { class: 'num', text: r.pods === null ? '–' : r.pods }),
        el('td', { class: 'num', text: fmtDuration(r.durationSeconds) }), el('td', null, verdictSpan(r.verdict)),
        el('td', null, prevOf[r.id] ? el('a', { class: 'cmp-prev', href: hashWith('/compare', { base: prevOf[r.id], new: r.id }), text: 'vs previous' }) : null)]);
      tbody.appendChild(tr);
    });
    function applyFilter() {
      var f = input.value.toLowerCase().trim();
      var shown = 0;
      tbody.querySelectorAll('tr.run-row').forEach(function (tr) {
        var ok = !f || f.split(/\s+/).every(function (w) { return tr.getAttribute('data-text').indexOf(w) >= 0; });
        tr.hidden = !ok;
        if (ok) shown++;
      });
      count.textContent = shown + ' of ' + rows.length + ' runs';
    }
    var count = el('p', { class: 'muted', id: 'run-count' });
    input.oninput = function () {
      history.replaceState(null, '', hashWith('/runs', { q: input.value }));
      applyFilter();
    };
    compareBtn.onclick = function () {
      var pick = function (cls) { return Array.prototype.map.call(tbody.querySelectorAll('input.' + cls + ':checked'), function (i) { return i.value; }); };
      location.hash = hashWith('/compare', { base: pick('sel-base').join(','), new: pick('sel-new').join(',') });
    };
    if (!rows.length) nodes.push(el('div', { class: 'card empty', text: 'No runs found in the scanned directories. Runs appear here when `kubemark run` (or ClusterLoader2) writes them.' }));
    else nodes.push(table, count);
    nodes.push(problemsCard(model.problems));
    render(nodes);
    if (rows.length) applyFilter();
  }

  function sortableTable(id, columns, rows, initial) {
    var state = { col: initial || 0, dir: initial && columns[initial].num ? -1 : 1 };
    var thead = el('thead');
    var tbody = el('tbody');
    var table = el('table', { id: id, class: 'sortable-table' }, [thead, tbody]);
    function draw() {
      thead.textContent = '';
      thead.appendChild(el('tr', null, columns.map(function (c, i) {
        return el('th', { class: 'sortable' + (c.num ? ' num' : ''), 'data-col': i, text: c.name + (state.col === i ? (state.dir > 0 ? ' ▲' : ' ▼') : ''),
          onclick: function () { state.dir = state.col === i ? -state.dir : (c.num ? -1 : 1); state.col = i; draw(); } });
      })));
      var sorted = rows.slice().sort(function (a, b) {
        var x = a[state.col], y = b[state.col];
        if (typeof x === 'number' && typeof y === 'number') return (x - y) * state.dir;
        return String(x).localeCompare(String(y)) * state.dir;
      });
      tbody.textContent = '';
      sorted.forEach(function (r) {
        tbody.appendChild(el('tr', null, r.map(function (v, i) {
          return el('td', { class: columns[i].num ? 'num' : null, text: typeof v === 'number' ? fmt(v) : v });
        })));
      });
    }
    draw();
    return table;
  }

  function statsOf(ms) {
    var seen = {};
    var order = ['Perc50', 'Perc90', 'Perc99', 'Perc100', 'Max', 'Count'];
    ms.forEach(function (m) { Object.keys(m.data).forEach(function (k) { seen[k] = true; }); });
    var ks = Object.keys(seen);
    ks.sort(function (a, b) {
      var ia = order.indexOf(a), ib = order.indexOf(b);
      return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
    });
    return ks;
  }
  function groupBySummary(run) {
    var g = {};
    run.measurements.forEach(function (m) { (g[m.summary] = g[m.summary] || []).push(m); });
    return g;
  }
  function metricLink(run, m, text) {
    return el('a', { href: hashWith('/metric', { test: run.test, series: seriesName(m) }), text: text || 'across runs' });
  }

  function viewRun(route) {
    var id = route.parts.slice(1).join('/');
    var run = runById(id);
    if (!run) {
      render([el('h1', { text: 'Run not found' }), el('div', { class: 'card empty', text: 'No run "' + id + '" in the scanned directories (rescanned just now).' }), el('a', { href: '#/runs', text: 'All runs' })]);
      return;
    }
    var nodes = [el('h1', null, ['Run ', el('code', { text: run.id })])];
    var facts = [['test', run.test], ['when', fmtWhen(run.when)], ['verdict', verdictSpan(run.verdict)],
      ['master', run.master || '–'], ['version', run.masterVersion || '–'], ['nodes', run.nodes === null ? '–' : String(run.nodes)],
      ['pods', run.pods === null ? '–' : String(run.pods)], ['duration', fmtDuration(run.durationSeconds)], ['directory', el('code', { text: run.dir })]];
    nodes.push(el('div', { class: 'card' }, el('dl', { class: 'facts' }, facts.reduce(function (acc, f) {
      acc.push(el('dt', { text: f[0] }), el('dd', null, f[1])); return acc; }, []))));
    nodes.push(problemsCard(run.problems, 'Problems in this run\'s files'));
    if (run.notes && run.notes.length) nodes.push(el('div', { class: 'card' }, [el('strong', { text: 'Notes' }), el('ul', null, run.notes.map(function (n) { return el('li', { text: n }); }))]));

    nodes.push(el('h2', { text: 'SLOs' }));
    if (run.slos.length) {
      nodes.push(el('table', { id: 'slo-table' }, [el('thead', null, el('tr', null, ['measurement', 'check', 'value', 'threshold', 'result', 'detail'].map(function (h) { return el('th', { text: h }); }))),
        el('tbody', null, run.slos.map(function (s) {
          return el('tr', { class: 'slo-row' }, [el('td', { text: s.measurement }), el('td', { text: s.name }),
            el('td', { class: 'num', text: s.value === null ? '–' : fmt(s.value) + ' ' + s.unit }),
            el('td', { class: 'num', text: s.threshold === null ? '–' : fmt(s.threshold) + ' ' + s.unit }),
            el('td', { class: s.passed ? 'pass' : 'fail', text: s.passed ? 'PASS' : 'FAIL' }), el('td', { class: 'muted', text: s.detail })]);
        }))]));
    } else nodes.push(el('p', { class: 'muted', text: 'No SLO verdicts: this directory has no run.json (ClusterLoader2 artifacts or a run that did not finish).' }));

    if (run.phases.length) { nodes.push(el('h2', { text: 'Phases' })); nodes.push(timeline(run.phases)); }

    var groups = groupBySummary(run);
    var charts = [];
    Object.keys(groups).filter(function (s) { return s.indexOf('PodStartupLatency') === 0; }).forEach(function (s) {
      var ms = groups[s];
      var stats = statsOf(ms).filter(function (k) { return k !== 'Count'; });
      charts.push(barChart(s.replace(/^PodStartupLatency_/, 'Pod startup: '), ms[0].unit,
        ms.map(function (m) { return m.labels.Metric || labelText(m); }),
        stats.map(function (st) { return { name: st, values: ms.map(function (m) { return m.data[st]; }) }; })));
    });
    if (charts.length) { nodes.push(el('h2', { text: 'Pod startup latency per transition' })); nodes.push(el('div', { class: 'charts', id: 'pod-startup-charts' }, charts)); }

    var api = groups.APIResponsivenessPrometheus_simple || groups.APIResponsivenessPrometheus || groups.APIResponsiveness;
    if (api) {
      nodes.push(el('h2', { text: 'API call latency (click a column to sort)' }));
      nodes.push(sortableTable('api-table', [{ name: 'verb' }, { name: 'resource' }, { name: 'subresource' }, { name: 'scope' },
        { name: 'count', num: true }, { name: 'p50 ms', num: true }, { name: 'p90 ms', num: true }, { name: 'p99 ms', num: true }],
        api.map(function (m) {
          return [m.labels.Verb || '', m.labels.Resource || '', m.labels.Subresource || '', m.labels.Scope || '',
            Number(m.info.Count || 0), m.data.Perc50, m.data.Perc90, m.data.Perc99];
        }), 7));
    }

    var side = [];
    if (groups.SchedulingThroughput) {
      var st = groups.SchedulingThroughput[0];
      var ks = statsOf([st]);
      side.push(barChart('Scheduling throughput', st.unit, ks, [{ name: 'pods scheduled per second', values: ks.map(function (k) { return st.data[k]; }) }], { width: 420 }));
    }
    if (groups.ResourceUsageSummary) {
      ['cpu', 'memory'].forEach(function (res) {
        var ms = groups.ResourceUsageSummary.filter(function (m) { return m.labels.Resource === res; });
        if (!ms.length) return;
        var stats = statsOf(ms);
        side.push(barChart((res === 'cpu' ? 'CPU' : 'Memory') + ' usage per component', ms[0].unit,
          ms.map(function (m) { return m.labels.Name || labelText(m); }),
          stats.map(function (k) { return { name: k, values: ms.map(function (m) { return m.data[k]; }) }; }), { width: 520 }));
      });
    }
    if (side.length) {
      nodes.push(el('h2', { text: 'Scheduling throughput and resource usage' }));
      nodes.push(el('p', { class: 'muted', text: 'Percentiles over the run.' }));
      nodes.push(el('div', { class: 'charts', id: 'usage-charts' }, side));
    }
    nodes.push(el('h2', { text: 'Over time' }));
    nodes.push(timeSeriesCharts(run));

    nodes.push(el('h2', { text: 'All measurements' }));
    var rowsAll = [];
    Object.keys(groups).sort().forEach(function (s) {
      groups[s].forEach(function (m) {
        statsOf([m]).forEach(function (k) {
          rowsAll.push(el('tr', { class: 'measurement-row' }, [el('td', { text: s }), el('td', { text: labelText(m) }), el('td', { text: k }),
            el('td', { class: 'num', text: fmt(m.data[k]) + ' ' + m.unit }), el('td', null, metricLink(run, m))]));
        });
      });
    });
    nodes.push(el('table', { id: 'measurements-table' }, [el('thead', null, el('tr', null, ['summary', 'labels', 'value', '', ''].map(function (h) { return el('th', { text: h }); }))), el('tbody', null, rowsAll)]));
    render(nodes);
  }

  // The run's time series: scheduling throughput, and master CPU and
  // memory per component, on one time origin (the earliest sample).
  function timeSeriesCharts(run) {
    var all = (run.timeSeries || []).filter(function (s) { return s.points && s.points.length; });
    if (!all.length) {
      return el('div', { class: 'card empty', id: 'no-timeseries', text: 'No time series in this run: its files hold percentiles only (older kubemark runs and ClusterLoader2 artifacts).' });
    }
    var t0 = Infinity, t1 = -Infinity;
    all.forEach(function (s) {
      if (!s.points.length) return;
      t0 = Math.min(t0, s.points[0][0]);
      t1 = Math.max(t1, s.points[s.points.length - 1][0]);
    });
    // Several usage measurements (ClusterLoader2 configs may gather more
    // than one) are told apart by their summary.
    var usageSummaries = {};
    all.forEach(function (s) { if (s.labels.Resource) usageSummaries[s.summary] = true; });
    var several = Object.keys(usageSummaries).length > 1;
    var nameOf = function (s, base) { return several ? base + ' (' + s.summary + ')' : base; };
    // One color per component in both usage charts.
    var comps = {};
    all.forEach(function (s) { if (s.labels.Resource) comps[s.labels.Name || s.summary] = true; });
    var compNames = Object.keys(comps).sort();
    var colorOf = function (n) { return COLORS[Math.max(0, compNames.indexOf(n)) % COLORS.length]; };
    var charts = [];
    var thr = all.filter(function (s) { return !s.labels.Resource; });
    if (thr.length) {
      charts.push(el('div', { id: 'throughput-chart' }, timeChart('Scheduling throughput', thr[0].unit,
        thr.map(function (s, i) { return { name: s.summary, color: COLORS[i % COLORS.length], points: s.points }; }), { t0: t0, t1: t1 })));
    }
    [['cpu', 'cpu-chart', 'CPU per component'], ['memory', 'memory-chart', 'Memory per component']].forEach(function (r) {
      var ss = all.filter(function (s) { return s.labels.Resource === r[0]; });
      if (!ss.length) return;
      ss.sort(function (a, b) { return (a.labels.Name || '').localeCompare(b.labels.Name || ''); });
      charts.push(el('div', { id: r[1] }, timeChart(r[2], ss[0].unit, ss.map(function (s) {
        var n = s.labels.Name || s.summary;
        return { name: nameOf(s, n), color: colorOf(n), points: s.points };
      }), { t0: t0, t1: t1 })));
    });
    var averaged = all.filter(function (s) { return s.samples > s.points.length; }).length;
    return el('div', { id: 'timeseries-charts' }, [
      el('p', { class: 'muted', text: 'Scheduling throughput between consecutive samples (every second); CPU between and memory at each --usage-interval sample. Hover a point for its time and value.' +
        (averaged ? ' Long series are shown averaged into at most 1000 points (' + averaged + ' series here).' : '') }),
      el('div', { class: 'charts' }, charts)]);
  }

  function viewMetric(route) {
    var p = route.params;
    var tests = {};
    model.runs.forEach(function (r) { tests[r.test] = true; });
    var testNames = Object.keys(tests).sort();
    var test = p.test && tests[p.test] ? p.test : testNames[0];
    var runs = model.runs.filter(function (r) { return r.test === test; });
    var summaries = {}, seriesBy = {};
    runs.forEach(function (r) {
      r.measurements.forEach(function (m) {
        summaries[m.summary] = true;
        var sn = seriesName(m);
        seriesBy[sn] = seriesBy[sn] || { summary: m.summary, label: labelText(m), unit: m.unit };
      });
    });
    var summaryNames = Object.keys(summaries).sort();
    var series = p.series && seriesBy[p.series] ? p.series : null;
    var summary = series ? seriesBy[series].summary : (p.summary && summaries[p.summary] ? p.summary : (summaries.PodStartupLatency_PodStartupLatency ? 'PodStartupLatency_PodStartupLatency' : summaryNames[0]));
    var seriesNames = Object.keys(seriesBy).filter(function (s) { return seriesBy[s].summary === summary; }).sort();
    if (!series) series = seriesNames.filter(function (s) { return /pod_startup\}$/.test(s); })[0] || seriesNames[0];
    function go(params) { location.hash = hashWith('/metric', params); }
    function select(id, label, options, value, onchange) {
      var s = el('select', { id: id, onchange: function () { onchange(s.value); } }, options.map(function (o) {
        return el('option', { value: o.value, text: o.text, selected: o.value === value });
      }));
      return [el('label', { for: id, text: label }), s];
    }
    var nodes = [el('h1', { text: 'A metric across runs' })];
    if (!testNames.length) { render(nodes.concat([el('div', { class: 'card empty', text: 'No runs yet.' })])); return; }
    nodes.push(el('div', { class: 'controls' }, [].concat(
      select('pick-test', 'Test', testNames.map(function (t) { return { value: t, text: t }; }), test, function (v) { go({ test: v }); }),
      select('pick-summary', 'Measurement', summaryNames.map(function (s) { return { value: s, text: s }; }), summary, function (v) { go({ test: test, summary: v }); }),
      select('pick-series', 'Labels', seriesNames.map(function (s) { return { value: s, text: seriesBy[s].label }; }), series, function (v) { go({ test: test, series: v }); }))));
    if (!series) { nodes.push(el('div', { class: 'card empty', text: 'No measurement of this kind in these runs.' })); render(nodes); return; }
    var pts = runs.map(function (r) {
      var m = null;
      r.measurements.forEach(function (x) { if (seriesName(x) === series) m = x; });
      return { run: r, m: m };
    });
    var stats = statsOf(pts.filter(function (x) { return x.m; }).map(function (x) { return x.m; }));
    var cats = pts.map(function (x) { return x.run.id; });
    var chartSeries = stats.map(function (st) {
      return { name: st, runs: cats, values: pts.map(function (x) { return x.m && x.m.data[st] !== undefined ? x.m.data[st] : null; }),
        tips: pts.map(function (x) { return x.run.id + ' (' + fmtWhen(x.run.when) + ')'; }) };
    });
    var info = seriesBy[series];
    nodes.push(el('div', { id: 'metric-chart' }, lineChart(summary + ' — ' + info.label, info.unit, cats, chartSeries, { width: 900 })));
    nodes.push(el('p', { class: 'muted', text: 'One point per ' + test + ' run, oldest first. Hover a point for its exact value.' }));
    nodes.push(el('table', { id: 'metric-table' }, [
      el('thead', null, el('tr', null, [el('th', { text: 'run' }), el('th', { text: 'when' })].concat(stats.map(function (s) { return el('th', { class: 'num', text: s + ' (' + info.unit + ')' }); })))),
      el('tbody', null, pts.map(function (x) {
        return el('tr', null, [el('td', null, runLink(x.run.id)), el('td', { text: fmtWhen(x.run.when) })].concat(stats.map(function (s) {
          return el('td', { class: 'num', text: x.m && x.m.data[s] !== undefined ? fmt(x.m.data[s]) : 'missing' });
        })));
      }))]));
    render(nodes);
  }

  function viewCompare(route) {
    var p = route.params;
    var base = (p.base || '').split(',').filter(Boolean);
    var news = (p.new || '').split(',').filter(Boolean);
    var nodes = [el('h1', { text: 'Compare runs' })];
    if (!base.length || !news.length) {
      nodes.push(el('div', { class: 'card empty', text: model.static
        ? 'Pick a comparison from the runs table ("vs previous").'
        : 'Tick base and new runs in the runs table, then "Compare selected". The URL of a comparison can be shared.' }));
      nodes.push(el('a', { href: '#/runs', text: 'Runs' }));
      render(nodes);
      return;
    }
    render(nodes.concat([el('p', { class: 'loading', text: 'Comparing…' })]));
    getComparison(base, news, p.tolerance).then(function (c) {
      if (c.unavailable) {
        render(nodes.concat([el('div', { class: 'card empty', text: 'This static report does not contain that comparison; it holds each run against the previous run of its test.' })]));
        return;
      }
      var onlyChanged = p.show === 'changed';
      var head = el('div', { class: 'card' }, [
        el('div', null, ['Base: '].concat(c.baseRuns.map(function (id, i) { return [i ? ', ' : '', runLink(id)]; }).reduce(function (a, b) { return a.concat(b); }, []))),
        el('div', null, ['New: '].concat(c.newRuns.map(function (id, i) { return [i ? ', ' : '', runLink(id)]; }).reduce(function (a, b) { return a.concat(b); }, []))),
        el('div', { class: 'totals', id: 'totals' }, ['ok', 'better', 'worse', 'inconclusive', 'missing'].map(function (k) {
          return el('span', { class: 'verdict-' + k, 'data-verdict': k, text: (c.totals[k] || 0) + ' ' + k });
        }))]);
      var controls = el('div', { class: 'controls' });
      if (!model.static) {
        var tol = el('input', { type: 'text', id: 'tolerance', size: 6, value: p.tolerance || (fmt(c.tolerancePct) + '%') });
        controls.appendChild(el('label', { for: 'tolerance', text: 'Tolerance' }));
        controls.appendChild(tol);
        controls.appendChild(el('button', { text: 'Apply', onclick: function () {
          location.hash = hashWith('/compare', { base: p.base, new: p.new, tolerance: tol.value, show: p.show }); } }));
      } else controls.appendChild(el('span', { class: 'muted', text: 'Tolerance ' + fmt(c.tolerancePct) + '%' }));
      var cb = el('input', { type: 'checkbox', id: 'only-changed', checked: onlyChanged, onchange: function () {
        location.hash = hashWith('/compare', { base: p.base, new: p.new, tolerance: p.tolerance, show: cb.checked ? 'changed' : '' }); } });
      controls.appendChild(cb);
      controls.appendChild(el('label', { for: 'only-changed', text: 'only metrics that are not ok' }));
      var multi = c.baseRuns.length > 1 || c.newRuns.length > 1;
      var headCells = [el('th', { text: 'metric' })]
        .concat(c.baseRuns.map(function (id) { return el('th', { class: 'num', text: 'base ' + id }); }))
        .concat(c.newRuns.map(function (id) { return el('th', { class: 'num', text: 'new ' + id }); }))
        .concat(multi ? [el('th', { class: 'num', text: 'base median ± spread/2' }), el('th', { class: 'num', text: 'new median ± spread/2' })] : [])
        .concat([el('th', { class: 'num', text: 'diff' }), el('th', { class: 'num', text: 'tolerance' }), el('th', { text: 'verdict' })]);
      var body = el('tbody');
      var rank = { worse: 0, inconclusive: 1, missing: 2, better: 3, ok: 4 };
      var ordered = c.rows.slice().sort(function (a, b) { return rank[a.verdict] - rank[b.verdict]; });
      ordered.forEach(function (r) {
        if (onlyChanged && r.verdict === 'ok') return;
        var vals = function (side, n) {
          var out = [];
          for (var i = 0; i < n; i++) {
            var v = side ? side.values[i] : null;
            out.push(el('td', { class: 'num', text: v === null || v === undefined ? '–' : fmt(v) + ' ' + r.unit }));
          }
          return out;
        };
        var med = function (s) { return el('td', { class: 'num', text: s ? fmt(s.median) + ' ±' + fmt(s.spread / 2) + ' (n=' + s.n + ')' : '–' }); };
        var dir = r.higherIsBetter ? 'higher is better' : 'lower is better';
        body.appendChild(el('tr', { class: 'cmp-row ' + r.verdict, 'data-metric': r.metric, 'data-verdict': r.verdict, 'data-diff-pct': r.diffPct === null ? '' : r.diffPct },
          [el('td', { class: 'metric', title: dir }, [el('span', { text: r.metric }), ' ', el('a', { href: hashWith('/metric', { test: (runById(c.baseRuns[0]) || {}).test || '', series: r.metric.slice(0, r.metric.lastIndexOf(' ')) }), text: '↗', title: 'this metric across runs' })])]
            .concat(vals(r.base, c.baseRuns.length)).concat(vals(r.new, c.newRuns.length))
            .concat(multi ? [med(r.base), med(r.new)] : [])
            .concat([el('td', { class: 'num', text: r.diff === null ? '–' : (r.diffPct === null ? '+' + fmt(r.diff) + ' ' + r.unit : fmtPct(r.diffPct)) }),
              el('td', { class: 'num', text: fmt(r.tolerancePct) + '%' }),
              el('td', { class: 'verdict-' + r.verdict, text: r.verdict, title: dir })])));
      });
      // A chart of the metrics that moved beyond the tolerance.
      var moved = c.rows.filter(function (r) { return (r.verdict === 'worse' || r.verdict === 'better') && r.diffPct !== null; });
      moved.sort(function (a, b) { return Math.abs(b.diffPct) - Math.abs(a.diffPct); });
      moved = moved.slice(0, 16);
      var chart = null;
      if (moved.length) {
        chart = el('div', { id: 'compare-chart' }, barChart('Differences beyond the tolerance (new vs base median)', '% change',
          moved.map(shortName),
          [{ name: 'worse', values: moved.map(function (r) { return r.verdict === 'worse' ? r.diffPct : null; }) },
            { name: 'better', values: moved.map(function (r) { return r.verdict === 'better' ? r.diffPct : null; }) }],
          { width: Math.max(520, Math.min(1200, 160 + moved.length * 60)), height: 400, bottom: 130, colors: ['#c62828', '#1a7f37'] }));
      }
      render(nodes.concat([head, controls, chart, el('table', { id: 'compare-table' }, [el('thead', null, el('tr', null, headCells)), body])]));
    }).catch(function (e) {
      render(nodes.concat([el('div', { class: 'card problems', text: 'Cannot compare: ' + e.message }), el('a', { href: '#/runs', text: 'Runs' })]));
    });
  }

  // A compact name for chart labels: the label values and the statistic.
  function shortName(r) {
    var keys = Object.keys(r.labels).sort();
    var what = keys.length ? keys.map(function (k) { return r.labels[k]; }).join(' ') : r.summary;
    return what + ' ' + r.stat;
  }

  function render(nodes) {
    app.textContent = '';
    append(app, nodes);
  }

  function route() {
    var r = parseRoute();
    var name = r.parts[0] || 'runs';
    document.querySelectorAll('header nav a').forEach(function (a) { a.classList.toggle('active', a.getAttribute('data-nav') === name); });
    tip.hidden = true;
    if (name === 'run') viewRun(r);
    else if (name === 'metric') viewMetric(r);
    else if (name === 'compare') viewCompare(r);
    else viewRuns(r);
    document.body.setAttribute('data-view', name);
    document.getElementById('status').textContent = model.runs.length + ' runs' + (model.static ? ' · static report' : ' · live');
  }

  // Every navigation rescans (dashboard) so new runs show up.
  function refresh() {
    return loadModel().then(function (m) {
      model = m;
      route();
      document.body.setAttribute('data-ready', 'true');
    }).catch(function (e) {
      render([el('div', { class: 'card problems', text: 'Cannot load the runs: ' + e.message + '. Is the dashboard still running?' })]);
      document.body.setAttribute('data-ready', 'error');
    });
  }
  window.addEventListener('hashchange', function () {
    document.body.setAttribute('data-ready', 'false');
    if (embedded) { route(); document.body.setAttribute('data-ready', 'true'); } else refresh();
  });
  refresh();
  // The runs table also picks up new runs while it is open (the server
  // rescans its directories on every request).
  if (!embedded) {
    setInterval(function () {
      if (!model || document.body.getAttribute('data-view') !== 'runs' || document.querySelector('#runs-table input:checked')) return;
      loadModel().then(function (m) {
        var ids = function (x) { return x.runs.map(function (r) { return r.id; }).join('\n'); };
        if (ids(m) !== ids(model) || m.problems.length !== model.problems.length) { model = m; route(); }
      }).catch(function () { /* the next navigation reports it */ });
    }, 10000);
  }
})();
