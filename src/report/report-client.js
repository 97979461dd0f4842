// The HTML report's script: draws one uPlot chart per metric from the embedded JSON
// (see ReportData in html-report.ts). Runs from file:// with no network; uPlot is inlined before it.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var COLORS = { line: '#1f6feb', band: 'rgba(31,111,235,0.13)', edge: 'rgba(31,111,235,0.35)', change: '#b45309', current: '#d6336c' };
  var charts = {};

  function fmt(v) {
    return v == null ? '' : String(Number(v.toPrecision(4)));
  }

  function runLabel(p) {
    return p.runId + ' (' + p.date.slice(0, 10) + (p.commit ? ' ' + p.commit.slice(0, 10) : '') + ')';
  }

  // Dashed lines: vertical ones where a regime starts, horizontal ones at each regime's mean.
  function regimesPlugin(chart) {
    var starts = [0].concat(chart.changePoints, [chart.points.length]);
    return {
      hooks: {
        draw: function (u) {
          var ctx = u.ctx;
          var top = u.bbox.top;
          var bottom = top + u.bbox.height;
          ctx.save();
          ctx.lineWidth = 1.5 * devicePixelRatio;
          ctx.setLineDash([6 * devicePixelRatio, 4 * devicePixelRatio]);
          ctx.strokeStyle = COLORS.change;
          for (var k = 0; k + 1 < starts.length; k++) {
            var from = starts[k];
            var to = starts[k + 1];
            if (k > 0) {
              var x = Math.round(u.valToPos(from - 0.5, 'x', true));
              ctx.beginPath();
              ctx.moveTo(x, top);
              ctx.lineTo(x, bottom);
              ctx.stroke();
            }
            var sum = 0;
            for (var i = from; i < to; i++) sum += chart.points[i].value;
            var y = Math.round(u.valToPos(sum / (to - from), 'y', true));
            ctx.beginPath();
            ctx.moveTo(u.valToPos(from - 0.4, 'x', true), y);
            ctx.lineTo(u.valToPos(to - 0.6, 'x', true), y);
            ctx.stroke();
          }
          ctx.restore();
        },
      },
    };
  }

  function only(chart, indices) {
    return chart.points.map(function (p, i) {
      return indices.indexOf(i) >= 0 ? p.value : null;
    });
  }

  function widthOf(fig) {
    return Math.max(280, fig.querySelector('.plot').clientWidth);
  }

  function draw(chart) {
    var fig = document.getElementById(chart.id);
    var points = chart.points;
    var pointsOnly = function () {
      return null;
    };
    var opts = {
      width: widthOf(fig),
      height: 240,
      plugins: [regimesPlugin(chart)],
      scales: {
        x: {
          time: false,
          range: function (u, min, max) {
            return [min - 0.5, max + 0.5];
          },
        },
      },
      axes: [
        {
          incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000],
          values: function (u, splits) {
            return splits.map(function (i) {
              var p = points[i];
              return p && Number.isInteger(i) ? p.date.slice(5, 10) : '';
            });
          },
        },
        { label: chart.unit, size: 64, values: function (u, splits) { return splits.map(fmt); } },
      ],
      series: [
        { label: 'run', value: function (u, i) { return i == null || !points[i] ? '' : runLabel(points[i]); } },
        { label: 'boot min', stroke: COLORS.edge, width: 1, points: { show: false }, value: function (u, v) { return fmt(v); } },
        { label: 'boot max', stroke: COLORS.edge, width: 1, points: { show: false }, value: function (u, v) { return fmt(v); } },
        { label: chart.metric, stroke: COLORS.line, width: 2, points: { show: true, size: 6 }, value: function (u, v) { return fmt(v) + ' ' + chart.unit; } },
        { label: 'change point', stroke: COLORS.change, fill: COLORS.change, width: 0, paths: pointsOnly, points: { show: true, size: 11, stroke: COLORS.change, fill: COLORS.change } },
        { label: 'current run', stroke: COLORS.current, fill: COLORS.current, width: 0, paths: pointsOnly, points: { show: true, size: 14, stroke: COLORS.current, fill: COLORS.current } },
      ],
      bands: [{ series: [2, 1], fill: COLORS.band }],
    };
    var series = [
      points.map(function (p, i) { return i; }),
      points.map(function (p) { return p.min; }),
      points.map(function (p) { return p.max; }),
      points.map(function (p) { return p.value; }),
      only(chart, chart.changePoints),
      only(chart, chart.current == null ? [] : [chart.current]),
    ];
    var u = new uPlot(opts, series, fig.querySelector('.plot'));
    charts[chart.id] = u;
    // What was actually handed to the chart, for readers and for the report's own browser test.
    fig.setAttribute('data-drawn-points', String(u.data[3].filter(function (v) { return v != null; }).length));
  }

  data.charts.forEach(draw);

  var pending = 0;
  window.addEventListener('resize', function () {
    cancelAnimationFrame(pending);
    pending = requestAnimationFrame(function () {
      data.charts.forEach(function (c) {
        charts[c.id].setSize({ width: widthOf(document.getElementById(c.id)), height: 240 });
      });
    });
  });

  window.tsuiteReport = { charts: charts, data: data };
})();
