/** Both NI-official metrics of one prediction, as `colora score` and evaluation report them. */
import { exactMatch } from './exact-match.js';
import { rougeLMax } from './rouge.js';

export interface PredictionScore {
  /** Rouge-L F-measure, a fraction in [0, 1], maximised over the references. */
  rougeL: number;
  /** 1 when the normalized prediction equals some normalized reference. */
  exact_match: 0 | 1;
}

/** Scores a prediction against its references (at least one; throws RangeError on none). */
export function scorePrediction(prediction: string, references: readonly string[]): PredictionScore {
  return { rougeL: rougeLMax(prediction, references), exact_match: exactMatch(prediction, references) };
}
