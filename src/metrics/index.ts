/** The NI-official metrics: what evaluation and `colora score` import. */
export { porterStem } from './porter-stemmer.js';
export { rougeTokenize, lcsLength, rougeLScore, rougeL, rougeLMax, type RougeScore } from './rouge.js';
export { normalizeAnswer, exactMatch } from './exact-match.js';
export { scorePrediction, type PredictionScore } from './score-prediction.js';
