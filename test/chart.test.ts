import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { chartToSvg, errorBarChart, lineChart, renderChart, svgToPng } from '../src/report/chart.js';
import { tempDir } from './helpers/temp.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function pngSize(png: Buffer): { width: number; height: number } {
  // IHDR is the first chunk: width and height are big-endian u32 at bytes 16 and 20.
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

const rows = [0, 1, 2, 3, 4].flatMap((it) => [
  { iteration: it, distance: Math.exp(-it), method: 'colora' },
  { iteration: it, distance: Math.exp(-it / 2), method: 'local' },
]);

test('renderChart writes an SVG with titles and legend, and a PNG of sane size', async () => {
  const dir = tempDir('chart-');
  try {
    const spec = lineChart({
      title: 'Distance per iteration',
      data: rows,
      x: { field: 'iteration', title: 'iteration (count)' },
      y: { field: 'distance', title: 'subspace distance (sin θ)', log: true },
      color: { field: 'method', title: 'method' },
    });
    const files = await renderChart(spec, join(dir, 'plots', 'dist'));
    const svg = readFileSync(files.svg, 'utf8');
    assert.match(svg, /^<svg[\s>]/);
    assert.match(svg, /<\/svg>\s*$/);
    assert.ok(svg.includes('iteration (count)'), 'x axis title');
    assert.ok(svg.includes('subspace distance (sin θ)'), 'y axis title');
    assert.ok(svg.includes('Distance per iteration'), 'chart title');
    assert.ok(svg.includes('>colora<') && svg.includes('>local<'), 'legend entries');
    assert.ok(svg.includes('DejaVu Sans'), 'default font family');
    const png = readFileSync(files.png);
    assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
    const { width, height } = pngSize(png);
    const svgW = Number(/width="(\d+(?:\.\d+)?)"/.exec(svg)![1]);
    assert.equal(width, Math.round(svgW * 2), 'PNG is the SVG at 2x');
    assert.ok(width > 300 && width < 4000 && height > 200 && height < 4000, `${width}x${height}`);
    assert.deepEqual(readdirSync(join(dir, 'plots')).sort(), ['dist.png', 'dist.svg'], 'no temp files left');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('errorBarChart and faceted lineChart compile and render', async () => {
  const bars = errorBarChart({
    title: 'Final error',
    data: [
      { xi: 0, method: 'colora', med: 0.1, lo: 0.05, hi: 0.2 },
      { xi: 1, method: 'colora', med: 0.01, lo: 0.005, hi: 0.02 },
    ],
    x: { field: 'xi', title: 'task similarity ξ' },
    y: { field: 'med', title: 'relative error', log: true },
    yLo: 'lo',
    yHi: 'hi',
    color: { field: 'method', title: 'method' },
  });
  const svg = await chartToSvg(bars);
  assert.ok(svg.includes('task similarity ξ') && svg.includes('relative error'));
  const faceted = lineChart({
    title: 'Faceted',
    data: rows.map((r) => ({ ...r, panel: r.method === 'colora' ? 'ξ = 1' : 'ξ = 0' })),
    x: { field: 'iteration', title: 'iteration' },
    y: { field: 'distance', title: 'distance' },
    color: { field: 'method', title: 'method' },
    column: { field: 'panel', title: 'similarity' },
  });
  assert.ok((await chartToSvg(faceted)).includes('ξ = 0'));
});

test('the PNG still renders, without text, when no font can be found', async () => {
  const svg = await chartToSvg({
    title: 'No font',
    data: { values: [{ a: 1, b: 2 }] },
    mark: 'point',
    encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } },
  });
  const png = svgToPng(svg, { fontDirs: ['/nonexistent-font-dir'], systemFonts: false, scale: 1 });
  assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
  assert.ok(pngSize(png).width > 50);
});
