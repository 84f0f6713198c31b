// A dependency-free SVG chart of one scenario's results: on the left throughput (ops/s) against
// client count, on the right latency percentiles (p50, p99, p99.9; log scale) against client
// count, one colour per target (tetcd, etcd, fastify) and one dash pattern per percentile.
// Client counts are spaced evenly (1, 16, 64 would crowd at the left on a linear axis).
// `renderChart()` is pure: points in, SVG text out.

import assert from 'node:assert/strict';
import type { PointResult } from './stats.js';

const widthPx = 960;
const heightPx = 380;
const panelWidthPx = 400;
const panelHeightPx = 250;
const panelTopPx = 60;
const leftPanelXPx = 80;
const rightPanelXPx = 530;
const colours: Record<string, string> = { tetcd: '#d62728', etcd: '#1f77b4', fastify: '#2ca02c', given: '#9467bd' };
const percentiles = [
  { key: 'p50', label: 'p50', dash: '' },
  { key: 'p99', label: 'p99', dash: '6 4' },
  { key: 'p999', label: 'p99.9', dash: '2 3' },
] as const;

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const colourOf = (target: string): string => colours[target] ?? '#555555';

/** "Nice" axis maximum: 1, 2 or 5 times a power of ten, at or above `x`. */
export function niceCeil(x: number): number {
  if (x <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

export function formatCount(x: number): string {
  if (x >= 1e6) return `${+(x / 1e6).toFixed(1)}M`;
  if (x >= 1e3) return `${+(x / 1e3).toFixed(1)}k`;
  return String(+x.toFixed(2));
}

interface Axes {
  readonly xs: readonly number[];
  readonly xOf: (clients: number) => number;
}

function xAxis(x0: number, clientCounts: readonly number[], xLabel: string): { axes: Axes; svg: string[] } {
  const xs = [...new Set(clientCounts)].sort((a, b) => a - b);
  const step = xs.length === 1 ? 0 : panelWidthPx / (xs.length - 1);
  const xOf = (c: number): number => x0 + (xs.length === 1 ? panelWidthPx / 2 : xs.indexOf(c) * step);
  const bottom = panelTopPx + panelHeightPx;
  const svg = [`<line x1="${x0}" y1="${bottom}" x2="${x0 + panelWidthPx}" y2="${bottom}" stroke="#333"/>`];
  for (const c of xs) svg.push(`<text x="${xOf(c)}" y="${bottom + 18}" text-anchor="middle">${c}</text>`);
  svg.push(`<text x="${x0 + panelWidthPx / 2}" y="${bottom + 38}" text-anchor="middle">${esc(xLabel)}</text>`);
  return { axes: { xs, xOf }, svg };
}

function polyline(points: ReadonlyArray<[number, number]>, colour: string, dash: string): string {
  const d = points.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ');
  const dots = points.map(([x, y]) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="3" fill="${colour}"/>`).join('');
  return `<polyline points="${d}" fill="none" stroke="${colour}" stroke-width="2"${dash === '' ? '' : ` stroke-dasharray="${dash}"`}/>${dots}`;
}

function throughputPanel(byTarget: Map<string, PointResult[]>, clientCounts: number[], names: AxisNames): string[] {
  const { axes, svg } = xAxis(leftPanelXPx, clientCounts, names.x);
  const yMax = niceCeil(Math.max(...[...byTarget.values()].flat().map((p) => p.opsPerS)) * 1.05);
  const yOf = (v: number): number => Math.round(10 * (panelTopPx + panelHeightPx * (1 - v / yMax))) / 10;
  svg.push(`<line x1="${leftPanelXPx}" y1="${panelTopPx}" x2="${leftPanelXPx}" y2="${panelTopPx + panelHeightPx}" stroke="#333"/>`);
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    svg.push(`<line x1="${leftPanelXPx}" y1="${yOf(v)}" x2="${leftPanelXPx + panelWidthPx}" y2="${yOf(v)}" stroke="#eee"/>`,
      `<text x="${leftPanelXPx - 6}" y="${yOf(v) + 4}" text-anchor="end">${formatCount(v)}</text>`);
  }
  svg.push(`<text x="${leftPanelXPx + panelWidthPx / 2}" y="${panelTopPx - 10}" text-anchor="middle" font-weight="bold">throughput (${esc(names.throughput)})</text>`);
  for (const [target, pts] of byTarget) {
    svg.push(polyline(pts.map((p) => [axes.xOf(p.clients), yOf(p.opsPerS)]), colourOf(target), ''));
  }
  return svg;
}

function latencyPanel(byTarget: Map<string, PointResult[]>, clientCounts: number[], names: AxisNames): string[] {
  const { axes, svg } = xAxis(rightPanelXPx, clientCounts, names.x);
  const values = [...byTarget.values()].flat().flatMap((p) => percentiles.map((q) => p.latencyUs[q.key])).filter((v) => v > 0);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values, 1e9)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values, 1) * 1.01));
  const yOf = (us: number): number => Math.round(10 * (panelTopPx + panelHeightPx * (1 - Math.log10(Math.max(us, lo) / lo) / Math.log10(hi / lo)))) / 10;
  svg.push(`<line x1="${rightPanelXPx}" y1="${panelTopPx}" x2="${rightPanelXPx}" y2="${panelTopPx + panelHeightPx}" stroke="#333"/>`);
  for (let v = lo; v <= hi; v *= 10) {
    svg.push(`<line x1="${rightPanelXPx}" y1="${yOf(v)}" x2="${rightPanelXPx + panelWidthPx}" y2="${yOf(v)}" stroke="#eee"/>`,
      `<text x="${rightPanelXPx - 6}" y="${yOf(v) + 4}" text-anchor="end">${formatCount(v / 1000)}</text>`);
  }
  svg.push(`<text x="${rightPanelXPx + panelWidthPx / 2}" y="${panelTopPx - 10}" text-anchor="middle" font-weight="bold">latency (ms, log scale)</text>`);
  for (const [target, pts] of byTarget) {
    for (const q of percentiles) {
      svg.push(polyline(pts.filter((p) => p.latencyUs[q.key] > 0).map((p) => [axes.xOf(p.clients), yOf(p.latencyUs[q.key])]), colourOf(target), q.dash));
    }
  }
  return svg;
}

function legend(targets: readonly string[]): string[] {
  const svg: string[] = [];
  let x = leftPanelXPx;
  const y = heightPx - 16;
  for (const t of targets) {
    svg.push(`<line x1="${x}" y1="${y - 4}" x2="${x + 24}" y2="${y - 4}" stroke="${colourOf(t)}" stroke-width="3"/>`, `<text x="${x + 30}" y="${y}">${esc(t)}</text>`);
    x += 110;
  }
  for (const q of percentiles) {
    svg.push(`<line x1="${x}" y1="${y - 4}" x2="${x + 24}" y2="${y - 4}" stroke="#333" stroke-width="2"${q.dash === '' ? '' : ` stroke-dasharray="${q.dash}"`}/>`,
      `<text x="${x + 30}" y="${y}">${q.label}</text>`);
    x += 90;
  }
  return svg;
}

/** What the axes count: clients and ops/s, or (watch fan-out) watchers and events/s. */
export interface AxisNames {
  readonly x: string;
  readonly throughput: string;
}

/** The chart of `points` (merged points, one per target and client count). */
export function renderChart(title: string, subtitle: string, points: readonly PointResult[], names: AxisNames = { x: 'clients', throughput: 'ops/s' }): string {
  assert.ok(points.length >= 1, 'a chart needs at least one point');
  const byTarget = new Map<string, PointResult[]>();
  for (const p of [...points].sort((a, b) => a.clients - b.clients)) byTarget.set(p.target, [...(byTarget.get(p.target) ?? []), p]);
  const clientCounts = points.map((p) => p.clients);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${widthPx}" height="${heightPx}" viewBox="0 0 ${widthPx} ${heightPx}" font-family="sans-serif" font-size="12">`,
    `<rect width="${widthPx}" height="${heightPx}" fill="white"/>`,
    `<text x="${widthPx / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="${widthPx / 2}" y="38" text-anchor="middle" fill="#555">${esc(subtitle)}</text>`,
    ...throughputPanel(byTarget, clientCounts, names),
    ...latencyPanel(byTarget, clientCounts, names),
    ...legend([...byTarget.keys()]),
    '</svg>',
    '',
  ].join('\n');
}
