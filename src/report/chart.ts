/**
 * Charts for every report: a Vega-Lite spec is compiled to Vega, rendered to SVG by vega's
 * headless View (no browser, no canvas), and the SVG is rasterised to PNG by resvg. Both files
 * are written atomically.
 *
 * Text needs a font. resvg is given the usual Debian/Fedora/Arch DejaVu directories plus the
 * system fonts; the charts ask for "DejaVu Sans". If no font exists at all the PNG still renders,
 * just without text (the SVG keeps the text either way).
 */
import { existsSync } from 'node:fs';
import { Resvg } from '@resvg/resvg-js';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { Config } from 'vega-lite/types_unstable/config.js';
import { writeFileAtomic } from '../util/atomic.js';

export const CHART_FONT = 'DejaVu Sans';

const FONT_DIRS = [
  '/usr/share/fonts/truetype/dejavu', // Debian / Ubuntu (fonts-dejavu-core)
  '/usr/share/fonts/dejavu', // Fedora / Alpine
  '/usr/share/fonts/TTF', // Arch
];

/** Defaults every chart gets; a spec's own `config` wins key by key. */
const BASE_CONFIG: Config = {
  font: CHART_FONT,
  background: 'white',
  padding: 8,
  view: { continuousWidth: 360, continuousHeight: 240 },
  axis: { labelFontSize: 11, titleFontSize: 12, grid: true },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 0 },
  title: { fontSize: 14, subtitleFontSize: 11, anchor: 'start' },
};

/** A chart must carry a title; axis titles and legends are the spec's job (the helpers set them). */
export type ChartSpec = TopLevelSpec & { title: NonNullable<TopLevelSpec['title']> };

export interface RenderOptions {
  /** PNG pixels per SVG pixel (default 2: crisp on high-density screens and in papers). */
  scale?: number;
  /** Font directories for the PNG (default: the DejaVu directories above that exist). */
  fontDirs?: string[];
  /** Also let resvg scan the system's fonts (default true). */
  systemFonts?: boolean;
}

export interface ChartFiles {
  svg: string;
  png: string;
}

function mergeConfig(spec: ChartSpec): ChartSpec {
  const own = (spec.config ?? {}) as Record<string, unknown>;
  const merged: Record<string, unknown> = { ...BASE_CONFIG };
  for (const [k, v] of Object.entries(own)) {
    const base = merged[k];
    merged[k] =
      base && typeof base === 'object' && v && typeof v === 'object' && !Array.isArray(v) ? { ...base, ...v } : v;
  }
  return { ...spec, config: merged as Config } as ChartSpec;
}

/** Vega-Lite → SVG text. */
export async function chartToSvg(spec: ChartSpec): Promise<string> {
  const vgSpec = compile(mergeConfig(spec)).spec;
  const view = new vega.View(vega.parse(vgSpec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** SVG text → PNG bytes. Without any usable font the text is simply left out. */
export function svgToPng(svg: string, opts: RenderOptions = {}): Buffer {
  const fontDirs = (opts.fontDirs ?? FONT_DIRS).filter((d) => existsSync(d));
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: opts.scale ?? 2 },
    background: 'white',
    font: {
      loadSystemFonts: opts.systemFonts ?? true,
      fontDirs,
      defaultFontFamily: CHART_FONT,
      sansSerifFamily: CHART_FONT,
    },
    logLevel: 'off',
  });
  return resvg.render().asPng();
}

/** Render `spec` to `outBase.svg` and `outBase.png` (atomic writes); returns the two paths. */
export async function renderChart(spec: ChartSpec, outBase: string, opts: RenderOptions = {}): Promise<ChartFiles> {
  const svg = await chartToSvg(spec);
  const png = svgToPng(svg, opts);
  const files = { svg: `${outBase}.svg`, png: `${outBase}.png` };
  writeFileAtomic(files.svg, svg);
  writeFileAtomic(files.png, png);
  return files;
}

// ---------------------------------------------------------------------------------------------
// Helpers for the shapes reports keep drawing.

export interface AxisField {
  field: string;
  /** Axis title, with the unit in parentheses where there is one. */
  title: string;
  /** Log scale (values must be > 0); labels in 1e-3 notation. */
  log?: boolean;
  /** 'quantitative' (default), 'ordinal' or 'nominal'; discrete values keep their data order. */
  type?: 'quantitative' | 'ordinal' | 'nominal';
}

export interface LegendField {
  field: string;
  title: string;
  type?: 'nominal' | 'ordinal';
}

export interface ChartText {
  title: string;
  /** A second, smaller title line: the setup the figure was made under. */
  subtitle?: string;
}

type Row = Record<string, string | number | null>;

/** Distinct values of `field` in order of first appearance: the order discrete scales keep. */
function dataOrder(data: Row[], field: string): (string | number | null)[] {
  return [...new Set(data.map((r) => r[field]))];
}

function enc(a: AxisField, data: Row[]): Record<string, unknown> {
  const discrete = a.type === 'ordinal' || a.type === 'nominal';
  return {
    field: a.field,
    type: a.type ?? 'quantitative',
    title: a.title,
    ...(a.log ? { scale: { type: 'log' }, axis: { format: '.0e' } } : {}),
    ...(discrete ? { sort: dataOrder(data, a.field), axis: { labelAngle: 0 } } : {}),
  };
}

function legend(c: LegendField, data: Row[]): Record<string, unknown> {
  return { field: c.field, type: c.type ?? 'nominal', title: c.title, sort: dataOrder(data, c.field) };
}

function titleOf(t: ChartText): ChartSpec['title'] {
  return t.subtitle ? { text: t.title, subtitle: t.subtitle } : t.title;
}

/** Lines (one per `color` value, optionally one panel per `column` value). */
export function lineChart(
  o: ChartText & {
    data: Row[];
    x: AxisField;
    y: AxisField;
    color: LegendField;
    /** A second grouping inside one colour, e.g. the seed: drawn as separate thin lines. */
    detail?: string;
    column?: LegendField;
    width?: number;
    height?: number;
  },
): ChartSpec {
  const unit = {
    mark: { type: 'line', point: o.data.length <= 200, strokeWidth: o.detail ? 1.2 : 2, opacity: o.detail ? 0.8 : 1 },
    encoding: {
      x: enc(o.x, o.data),
      y: enc(o.y, o.data),
      color: legend(o.color, o.data),
      ...(o.detail ? { detail: { field: o.detail, type: 'nominal' } } : {}),
    },
    width: o.width ?? (o.column ? 220 : 320),
    height: o.height ?? 220,
  };
  return facetOr(o, unit, o.column);
}

/**
 * Points joined by lines, with vertical error bars from `yLo` to `yHi` (the caller chooses what
 * the bars mean, e.g. ± one std or min–max over seeds, and says so in the title or subtitle);
 * optionally one panel per `column` value.
 */
export function errorBarChart(
  o: ChartText & {
    data: Row[];
    x: AxisField;
    y: AxisField;
    yLo: string;
    yHi: string;
    color: LegendField;
    column?: LegendField;
    width?: number;
    height?: number;
  },
): ChartSpec {
  const x = enc(o.x, o.data);
  const y = enc(o.y, o.data);
  const color = legend(o.color, o.data);
  const unit = {
    width: o.width ?? (o.column ? 220 : 360),
    height: o.height ?? 240,
    layer: [
      { mark: { type: 'line', point: { size: 50 }, strokeWidth: 2 }, encoding: { x, y, color } },
      { mark: { type: 'rule', strokeWidth: 1.5 }, encoding: { x, y: { ...y, field: o.yLo }, y2: { field: o.yHi }, color } },
    ],
  };
  return facetOr(o, unit, o.column);
}

function facetOr(o: ChartText & { data: Row[] }, unit: Record<string, unknown>, column: LegendField | undefined): ChartSpec {
  const title = titleOf(o);
  if (!column) return { title, data: { values: o.data }, ...unit } as unknown as ChartSpec;
  return {
    title,
    data: { values: o.data },
    facet: { column: { ...legend(column, o.data), header: { labelFontSize: 12, titleFontSize: 12 } } },
    spec: unit,
    resolve: { scale: { y: 'shared' } },
  } as unknown as ChartSpec;
}
