// Charts with uPlot (served from its npm package): time series and x–y curves in the dashboard's colours, resized with their box.
import uPlot from '/vendor/uplot.js';

/** Okabe–Ito colours: told apart with every common colour-vision deficiency. */
export const COLOURS = { approved: '#0072B2', flagged: '#E69F00', rejected: '#D55E00', blue: '#56B4E9', green: '#009E73', purple: '#CC79A7', yellow: '#F0E442', grey: '#999999' };
/** Dash patterns for series beside colour, so lines differ in grey too. */
export const DASHES = [[], [6, 3], [2, 3], [8, 3, 2, 3]];

const axis = { stroke: '#c5ccd3', grid: { stroke: '#2a3642', width: 1 }, ticks: { stroke: '#2a3642' } };

/**
 * A uPlot chart in `container`: `series` as uPlot series after the x one, `data` as uPlot's
 * columns. `time` false makes x a number axis (curves). Returns the uPlot instance; it follows
 * the container's width.
 */
export function chart(container, { series, data, time = true, height = 220, yLabel, xLabel, options = {} }) {
  const plot = new uPlot(
    {
      width: Math.max(280, container.clientWidth),
      height,
      scales: { x: { time } },
      axes: [{ ...axis, label: xLabel }, { ...axis, label: yLabel, size: 60 }],
      series: [{}, ...series.map((s, i) => ({ width: 2, dash: DASHES[i % DASHES.length], points: { show: false }, ...s }))],
      legend: { live: true },
      ...options,
    },
    data,
    container,
  );
  const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(280, container.clientWidth), height }));
  resize.observe(container);
  const destroy = plot.destroy.bind(plot);
  plot.destroy = () => {
    resize.disconnect();
    destroy();
  };
  return plot;
}
