import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { cumulativeSums } from '../../src/dashboard/page/decimal-text';
import { h } from './dom';

export interface StackedSeries {
  label: string;
  /** Exact decimal text per x value. */
  values: string[];
}

// Distinguishable in both themes (3:1 against either background as graphical objects).
const COLORS = [
  '#2f6fdb',
  '#d9480f',
  '#2b8a3e',
  '#ae3ec9',
  '#c2255c',
  '#1098ad',
  '#e67700',
  '#5c7cfa',
];
const OTHER = '#868e96';

/**
 * A stacked area chart. Each series is drawn on top of the ones before it: the running totals
 * are summed exactly, then turned into numbers only to place pixels.
 */
export function stackedChart(
  parent: HTMLElement,
  options: {
    label: string;
    xs: number[];
    series: StackedSeries[];
    valueLabel: string;
    onDrawn?: () => void;
  },
): { destroy: () => void } {
  const { xs, series } = options;
  const stacked = series.map(() => [] as number[]);
  for (let x = 0; x < xs.length; x += 1) {
    const sums = cumulativeSums(series.map((one) => one.values[x] ?? '0'));
    sums.forEach((sum, index) => stacked[index].push(Number(sum)));
  }
  const element = h('div', { role: 'img', 'aria-label': options.label, class: 'chart' });
  const inner = h('div', { 'aria-hidden': 'true' });
  element.appendChild(inner);
  parent.appendChild(element);
  let drawn = false;
  const width = () => Math.max(320, Math.min(element.clientWidth || 900, 1200));
  const plot = new uPlot(
    {
      width: width(),
      height: 300,
      legend: { show: series.length > 0 },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, max > 0 ? max : 1] } },
      axes: [
        { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,0.25)' } },
        {
          stroke: 'currentColor',
          grid: { stroke: 'rgba(128,128,128,0.25)' },
          label: options.valueLabel,
          size: 70,
        },
      ],
      series: [
        {
          label: 'Time (UTC)',
          value: (_u, v) => (v == null ? '' : new Date(v * 1000).toISOString()),
        },
        ...series.map((one, index) => {
          const color = index < COLORS.length ? COLORS[index] : OTHER;
          return {
            label: one.label,
            stroke: color,
            fill: `${color}55`,
            width: 1.5,
            points: { show: xs.length < 40 },
            // The legend shows the series' own value, not the stacked height.
            value: (_u: uPlot, _v: number | null, _s: number, idx: number | null) =>
              idx == null ? '' : (one.values[idx] ?? '0'),
          };
        }),
      ],
      bands: series
        .slice(1)
        .map((_one, index) => ({ series: [index + 2, index + 1] as [number, number] })),
      hooks: {
        draw: [
          () => {
            if (drawn) return;
            drawn = true;
            options.onDrawn?.();
          },
        ],
      },
    },
    [xs.map((x) => x / 1000), ...stacked],
    inner,
  );
  const resize = () => plot.setSize({ width: width(), height: 300 });
  const observer = new ResizeObserver(resize);
  observer.observe(element);
  return {
    destroy: () => {
      observer.disconnect();
      plot.destroy();
    },
  };
}
