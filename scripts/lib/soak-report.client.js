// Draws the soak report's two charts with uPlot (inlined beside this script by soak-report.ts).
// `SOAK` is the report's data: readings against requests served, the floor points after warm-up
// and the fitted slope with its 95% interval. When both charts are drawn, body[data-drawn] is set.
(function drawSoakCharts() {
  const COLORS = SOAK.colors;
  const width = Math.min(960, document.body.clientWidth - 32);
  const requests = SOAK.readings.map((r) => r.requests);
  const line = (label, stroke, extra = {}) => ({ label, stroke, width: 2, points: { show: false }, ...extra });
  const axes = (y) => [
    { label: 'requests served', values: (_u, ticks) => ticks.map((t) => t.toLocaleString('en-US')) },
    { label: y, size: 70 },
  ];

  // Warm-up (left out of the fit) shaded on both charts.
  const shadeWarmUp = (u) => {
    const right = u.valToPos(SOAK.warmupRequests, 'x', true);
    const left = u.bbox.left;
    if (right <= left) return;
    u.ctx.save();
    u.ctx.fillStyle = 'rgba(0, 0, 0, 0.06)';
    u.ctx.fillRect(left, u.bbox.top, Math.min(right, left + u.bbox.width) - left, u.bbox.height);
    u.ctx.restore();
  };

  /** One chart of `series` (after the x series) over `columns`, x being requests served. */
  const chart = (title, element, series, columns) =>
    new uPlot(
      {
        title,
        width,
        height: 340,
        scales: { x: { time: false } },
        axes: axes('MiB'),
        series: [{ label: 'requests' }, ...series],
        hooks: { drawClear: [shadeWarmUp] },
      },
      [requests, ...columns],
      document.getElementById(element),
    );

  const memory = chart(
    'Memory against requests served (MiB, read idle)',
    'memory-chart',
    [line('anonymous + swap', COLORS.anonSwap), line('RSS', COLORS.rss), line('V8 heap used', COLORS.heap)],
    [
      SOAK.readings.map((r) => r.anonSwapMiB),
      SOAK.readings.map((r) => r.rssMiB),
      SOAK.readings.map((r) => r.heapUsedMiB),
    ],
  );

  // The fit in MiB at each reading after warm-up: the line through the floor's centroid, and the
  // interval's two slopes through the same point.
  const { slope, interval, centroid } = SOAK.fit;
  const judged = (r) => r.requests >= SOAK.warmupRequests;
  const at = (kibPer1000) => (r) =>
    judged(r) ? centroid.anonSwapMiB + (kibPer1000 * (r.requests - centroid.requests)) / 1000 / 1024 : null;
  const floor = new Map(SOAK.floor.map((p) => [p.requests, p.anonSwapMiB]));
  const fitChart = chart(
    'Anonymous + swap after warm-up: the floor and its fitted slope',
    'fit-chart',
    [
      line('anonymous + swap', COLORS.anonSwap, { width: 1 }),
      { label: 'floor readings', stroke: COLORS.floor, width: 0, points: { show: true, size: 9, fill: COLORS.floor } },
      line('fitted slope', COLORS.fit, { dash: [8, 4] }),
      line('95% interval, low end', COLORS.interval, { dash: [2, 4] }),
      line('95% interval, high end', COLORS.interval, { dash: [2, 4] }),
    ],
    [
      SOAK.readings.map((r) => (judged(r) ? r.anonSwapMiB : null)),
      SOAK.readings.map((r) => floor.get(r.requests) ?? null),
      SOAK.readings.map(at(slope)),
      SOAK.readings.map(at(interval[0])),
      SOAK.readings.map(at(interval[1])),
    ],
  );

  window.soakCharts = [memory, fitChart];
  document.body.dataset.drawn = 'true';
})();
