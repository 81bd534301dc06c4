import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { porterStem } from '../src/metrics/porter-stemmer.js';
import { REPO_ROOT } from './helpers/shared.js';

test('published Porter rules, step by step', () => {
  const cases: Record<string, string> = {
    caresses: 'caress', // 1a sses -> ss
    ponies: 'poni', // 1a ies -> i
    cats: 'cat', // 1a s ->
    feed: 'feed', // 1b (m>0) eed: m('f') = 0
    agreed: 'agre', // 1b eed -> ee, then 5a drops e
    hopping: 'hop', // 1b undouble
    falling: 'fall', // 1b keeps ll
    hissing: 'hiss',
    fizzed: 'fizz',
    failing: 'fail',
    filing: 'file', // 1b (m=1 and *o) -> e
    relational: 'relat', // 2 ational -> ate, 4 ate
    conditional: 'condit',
    rational: 'ration', // 2 tional needs m>0
    triplicate: 'triplic', // 3 icate -> ic
    formalize: 'formal', // 3 alize -> al
    hopeful: 'hope', // 3 ful
    goodness: 'good', // 3 ness
    allowance: 'allow', // 4 ance
    adoption: 'adopt', // 4 (*s or *t) ion
    effective: 'effect', // 4 ive
    probate: 'probat', // 5a (m>1) e
    cease: 'ceas', // 5a (m=1 and not *o) e
    roll: 'roll', // 5b needs m>1
    controlling: 'control', // 1b then 5b
    generously: 'gener', // 1c y -> i, 2 ousli -> ous, 4 ous
    running: 'run',
  };
  for (const [word, stem] of Object.entries(cases)) assert.equal(porterStem(word), stem, word);
});

test('NLTK_EXTENSIONS departures from the paper', () => {
  // Irregular-forms pool.
  assert.equal(porterStem('dying'), 'die');
  assert.equal(porterStem('lying'), 'lie');
  assert.equal(porterStem('tying'), 'tie');
  assert.equal(porterStem('sky'), 'sky');
  assert.equal(porterStem('skies'), 'sky');
  assert.equal(porterStem('news'), 'news');
  assert.equal(porterStem('innings'), 'inning');
  assert.equal(porterStem('proceed'), 'proceed');
  assert.equal(porterStem('proceeds'), 'proce'); // the pool holds 'proceed' only
  // Four-letter -ies / -ied keep 'ie'; longer ones give 'i'.
  assert.equal(porterStem('dies'), 'die');
  assert.equal(porterStem('ties'), 'tie');
  assert.equal(porterStem('flies'), 'fli');
  assert.equal(porterStem('died'), 'die');
  assert.equal(porterStem('spied'), 'spi');
  // Step 1c: y -> i only after a consonant that is not the whole stem.
  assert.equal(porterStem('happy'), 'happi');
  assert.equal(porterStem('enjoy'), 'enjoy');
  // Step 2: alli first (then step 2 again), logi keeps its l in the measure, fulli.
  assert.equal(porterStem('radically'), 'radic');
  assert.equal(porterStem('geology'), 'geolog');
  assert.equal(porterStem('fully'), 'fulli');
  // Words of length <= 2 are returned lowercased, untouched; output is always lowercase.
  assert.equal(porterStem('is'), 'is');
  assert.equal(porterStem('Running'), 'run');
  assert.equal(porterStem('ads'), 'ad');
  assert.equal(porterStem('1990s'), '1990');
});

test('agrees with NLTK on every word of the golden file', () => {
  const golden = JSON.parse(readFileSync(join(REPO_ROOT, 'test/fixtures/porter-golden.json'), 'utf8')) as {
    nltk_version: string;
    stems: Record<string, string>;
  };
  const entries = Object.entries(golden.stems);
  assert.ok(entries.length > 2500, `golden file holds ${entries.length} words`);
  const wrong = entries.filter(([word, stem]) => porterStem(word) !== stem);
  assert.deepEqual(
    wrong.slice(0, 10).map(([w, s]) => `${w}: nltk ${s}, ours ${porterStem(w)}`),
    [],
    `${wrong.length} of ${entries.length} differ from NLTK ${golden.nltk_version}`,
  );
});
