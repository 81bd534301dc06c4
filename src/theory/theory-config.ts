/**
 * The `colora theory` config: problem dimensions, the sweep grid (ξ, k, n per task, seeds),
 * which estimators to run and for how long. Validated with located, one-line errors.
 */
import { z } from 'zod';
import { YamlSource } from '../config/yaml-source.js';
import { validateYaml } from '../config/validate.js';

export const THEORY_METHODS = ['coaltmin', 'local', 'shared'] as const;
export type TheoryMethod = (typeof THEORY_METHODS)[number];

const posInt = z.number().int().positive();
const distinct = <T extends z.ZodType>(el: T) =>
  z
    .array(el)
    .min(1)
    .refine((a) => new Set(a).size === a.length, 'expected distinct values');

export const theoryConfigSchema = z
  .strictObject({
    name: z.string().default('theory'),
    dims: z
      .strictObject({
        /** Rows of Θ (the adapter's output dimension, B is d_out × r). */
        d_out: posInt.default(20),
        /** Columns of Θ (input dimension, A is r × d_in). */
        d_in: posInt.default(16),
        rank: posInt.default(2),
      })
      .prefault({}),
    /** Ratio of the largest to the smallest singular value of every S*_i. */
    condition_number: z.number().min(1).default(2),
    /** σ of the additive Gaussian noise; ||Θ*_i||_F = 1, so the noise-to-signal ratio is σ². */
    noise_std: z.number().min(0).default(0.001),
    sweep: z
      .strictObject({
        xi: distinct(z.number().min(0).max(1)).default([0, 0.5, 0.9, 0.99, 1]),
        k: distinct(posInt).default([4, 16]),
        n_per_task: distinct(posInt).default([20, 60, 200]),
        seeds: distinct(z.number().int().min(0)).default([0, 1, 2]),
      })
      .prefault({}),
    methods: distinct(z.enum(THEORY_METHODS)).default([...THEORY_METHODS]),
    /** Alternating-minimisation iterations after the spectral initialisation. */
    iterations: posInt.default(30),
    /** Stop early once every fitted Θ̂_i moves by less than this (relative Frobenius norm). */
    tol: z.number().min(0).default(1e-6),
  })
  .superRefine((c, ctx) => {
    const { d_out, d_in, rank } = c.dims;
    if (rank > Math.min(d_out, d_in)) {
      ctx.addIssue({ code: 'custom', path: ['dims', 'rank'], message: `expected rank ≤ min(d_out, d_in) = ${Math.min(d_out, d_in)}, got ${rank}` });
    }
    // ξ < 1 draws task-specific directions orthogonal to the shared ones: needs 2r ≤ d.
    if (c.sweep.xi.some((x) => x < 1) && 2 * rank > Math.min(d_out, d_in)) {
      ctx.addIssue({ code: 'custom', path: ['dims', 'rank'], message: `ξ < 1 needs 2·rank ≤ min(d_out, d_in) = ${Math.min(d_out, d_in)}, got rank ${rank}` });
    }
  });

export type TheoryConfig = z.output<typeof theoryConfigSchema>;

export function loadTheoryConfig(file: string): TheoryConfig {
  return validateYaml(YamlSource.read(file, 'theory config'), theoryConfigSchema);
}

export function parseTheoryConfig(file: string, text: string): TheoryConfig {
  return validateYaml(YamlSource.parse(file, text), theoryConfigSchema);
}
