/**
 * Lowercase image-caption-like sentences (the style of the COCO captions NI's sentence tasks use)
 * from a small seeded grammar, and a word pool for the string-list tasks.
 */
import type { Rng } from '../../util/rng.js';

interface Noun {
  one: string;
  many: string;
}

const noun = (one: string, many = `${one}s`): Noun => ({ one, many });

const AGENTS: Noun[] = [
  noun('man', 'men'), noun('woman', 'women'), noun('boy'), noun('girl'), noun('child', 'children'),
  noun('person', 'people'), noun('player'), noun('skier'), noun('surfer'), noun('skateboarder'),
  noun('dog'), noun('cat'), noun('horse'), noun('elephant'), noun('giraffe'), noun('zebra'),
  noun('cow'), noun('sheep', 'sheep'), noun('bear'), noun('bird'),
];

const RIDEABLE: Noun[] = [noun('bike'), noun('motorcycle'), noun('skateboard'), noun('surfboard'), noun('horse'), noun('wave')];
const EDIBLE: Noun[] = [noun('pizza'), noun('sandwich', 'sandwiches'), noun('cake'), noun('banana'), noun('apple'), noun('donut'), noun('orange')];
const HOLDABLE: Noun[] = [
  noun('umbrella'), noun('kite'), noun('frisbee'), noun('phone'), noun('racket'), noun('bat'),
  noun('cup'), noun('plate'), noun('bag'), noun('book'), noun('laptop'), noun('remote'),
];
const PLACES: Noun[] = [
  noun('street'), noun('road'), noun('field'), noun('beach', 'beaches'), noun('park'), noun('kitchen'),
  noun('room'), noun('table'), noun('hill'), noun('building'), noun('city', 'cities'), noun('sidewalk'),
  noun('fence'), noun('tree'), noun('window'), noun('counter'), noun('bench', 'benches'), noun('car'),
  noun('truck'), noun('bus', 'buses'), noun('train'), noun('boat'), noun('river'), noun('lake'),
];
const MASS_PLACES = ['the grass', 'the water', 'the snow', 'the ocean', 'the background', 'the air', 'the sand', 'the rain'];
const ADJECTIVES = [
  'young', 'old', 'small', 'large', 'big', 'white', 'black', 'red', 'blue', 'green', 'yellow', 'brown',
  'wooden', 'busy', 'little', 'tall', 'empty', 'cute', 'dirty', 'colorful', 'open', 'giant',
];
const AGENT_ADJECTIVES = ['young', 'old', 'little', 'small', 'large', 'big', 'tall', 'cute', 'happy', 'hungry'];
const VERBS: { verb: string; objects: Noun[] }[] = [
  { verb: 'riding', objects: RIDEABLE },
  { verb: 'eating', objects: EDIBLE },
  { verb: 'holding', objects: [...HOLDABLE, ...EDIBLE] },
  { verb: 'carrying', objects: HOLDABLE },
  { verb: 'flying', objects: [noun('kite')] },
  { verb: 'throwing', objects: [noun('frisbee'), noun('ball')] },
  { verb: 'catching', objects: [noun('frisbee'), noun('ball')] },
  { verb: 'watching', objects: [...AGENTS, noun('train'), noun('game')] },
  { verb: 'pushing', objects: [noun('cart'), noun('bike'), noun('stroller')] },
];
const INTRANSITIVE = ['standing', 'sitting', 'walking', 'running', 'laying', 'playing', 'waiting', 'resting', 'posing', 'looking'];
const PREPOSITIONS = ['on', 'in', 'near', 'next to', 'under', 'behind', 'in front of', 'at', 'by', 'along', 'across', 'down', 'with', 'on top of'];

/** `a` / `an` by the next word's first letter. */
function article(next: string): string {
  return /^[aeiou]/.test(next) ? 'an' : 'a';
}

/** A noun phrase: `a small dog`, `the bench`, `two young men`, `a group of people`. */
function nounPhrase(rng: Rng, n: Noun, allowPlural = true, adjectives = ADJECTIVES): string {
  const adj = rng.next() < 0.4 ? rng.pick(adjectives) : '';
  if (allowPlural && rng.next() < 0.25) {
    const det = rng.pick(['two', 'three', 'some', 'several', 'many', 'a group of', 'a couple of']);
    return [det, adj, n.many].filter(Boolean).join(' ');
  }
  const head = adj ? `${adj} ${n.one}` : n.one;
  const det = rng.next() < 0.8 ? article(head) : rng.pick(['the', 'his', 'her', 'their']);
  return `${det} ${head}`;
}

function prepPhrase(rng: Rng): string {
  const where = rng.next() < 0.25 ? rng.pick(MASS_PLACES) : nounPhrase(rng, rng.pick(PLACES), false);
  return `${rng.pick(PREPOSITIONS)} ${where}`;
}

/** One caption of 7 to 16 lowercase words, no punctuation. */
export function caption(rng: Rng): string {
  const subject = nounPhrase(rng, rng.pick(AGENTS), true, AGENT_ADJECTIVES);
  const plural = !/^(a|an|the|his|her|their) /.test(subject) || subject.startsWith('a group of') || subject.startsWith('a couple of');
  const parts: string[] = [];
  const form = rng.int(0, 3);
  if (form === 0) parts.push('there', plural ? 'are' : 'is', subject, rng.pick(INTRANSITIVE));
  else parts.push(subject);
  if (form === 1) parts.push(plural ? 'are' : 'is');
  if (form !== 0) {
    if (rng.next() < 0.6) {
      const v = rng.pick(VERBS);
      const object = rng.pick(v.objects);
      parts.push(v.verb, nounPhrase(rng, object, true, AGENTS.includes(object) ? AGENT_ADJECTIVES : ADJECTIVES));
    } else parts.push(rng.pick(INTRANSITIVE));
  }
  const target = rng.int(8, 14);
  let words = parts.join(' ').split(' ');
  while (words.length < target) {
    const next = [...words, ...prepPhrase(rng).split(' ')];
    if (next.length > 16) break;
    words = next;
  }
  return words.join(' ');
}

/** Words for the string-list tasks: caption words, some capitalised or with punctuation attached. */
const POOL = [
  ...new Set(
    [...AGENTS, ...RIDEABLE, ...EDIBLE, ...HOLDABLE, ...PLACES]
      .flatMap((n) => [n.one, n.many])
      .concat(ADJECTIVES, AGENT_ADJECTIVES, INTRANSITIVE, ['the', 'of', 'and', 'to', 'in', 'his', 'that', 'which', 'whale', 'sea', 'ship', 'captain', 'said', 'old', 'would', 'upon', 'into', 'never']),
  ),
].sort();

export function poolWord(rng: Rng): string {
  let w = rng.pick(POOL);
  if (rng.next() < 0.15) w = w[0].toUpperCase() + w.slice(1);
  if (rng.next() < 0.12) w += rng.pick([',', '.', '!', ';']);
  return w;
}
