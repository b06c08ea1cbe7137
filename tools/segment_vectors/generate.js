#!/usr/bin/env node
// Writes tests/sms/segment_vectors.json: what Twilio's calculator (npm sms-segments-calculator,
// pinned in package.json) says about each input, so the Python port in
// src/messagecenter/sms/segments.py can be checked against it. Regenerate with `npm run generate`.
'use strict';

const fs = require('fs');
const path = require('path');
const { SegmentedMessage } = require('sms-segments-calculator');

const OUT = path.join(__dirname, '..', '..', 'tests', 'sms', 'segment_vectors.json');
const rep = (s, n) => s.repeat(n);
const cases = [];
const add = (name, text) => cases.push({ name, text });

// Basics and GSM-7 boundaries (160 septets single, 153 per part when concatenated).
add('empty', '');
add('one char', 'a');
add('at sign', '@');
add('euro alone', '€');
add('form feed is an extension char', 'a\fb');
for (const n of [159, 160, 161, 305, 306, 307, 459, 460, 461]) add(`${n} x a`, rep('a', n));
add('every basic GSM char', '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?' +
  '¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà');
add('every extension char', '\f^{}\\[~]|€');

// Extension chars (2 septets) straddling part boundaries must move whole.
for (const ch of ['€', '{', '^']) {
  add(`158 a + ${ch} (160 septets)`, rep('a', 158) + ch);
  add(`159 a + ${ch} (161 septets)`, rep('a', 159) + ch);
  add(`151 a + ${ch} + 10 a`, rep('a', 151) + ch + rep('a', 10));
  add(`152 a + ${ch} + 10 a (straddles 153)`, rep('a', 152) + ch + rep('a', 10));
  add(`153 a + ${ch} + 10 a`, rep('a', 153) + ch + rep('a', 10));
  add(`152 a + ${ch} + 151 a`, rep('a', 152) + ch + rep('a', 151));
  add(`152 a + ${ch} + 152 a (3 parts)`, rep('a', 152) + ch + rep('a', 152));
  add(`304 a + ${ch}`, rep('a', 304) + ch);
  add(`305 a + ${ch} (straddles 306)`, rep('a', 305) + ch);
}
add('80 x ^ (160 septets)', rep('^', 80));
add('81 x ^', rep('^', 81));
add('77 x { then a', rep('{', 77) + 'a');
add('153 x € (306 septets)', rep('€', 153));
add('154 x €', rep('€', 154));

// Characters that do or do not force UCS-2.
add('Ç is GSM', 'Ça va');
add('ç is not GSM', 'ça va');
add('161 x Ç', rep('Ç', 161));
add('Greek capitals in GSM', 'ΓΔΘΛΞΠΣΦΨΩ');
add('Greek Alpha looks like A but is not GSM', 'ΑΒΓ');
add('Greek lower case', 'αβγ');
add('é is GSM', 'café');
add('á is not GSM', 'cafá');
add('non-breaking space', 'see you\u00a0soon');
add('smart quotes', '\u201cHi\u201d, it\u2019s ready');
add('ellipsis', 'wait\u2026');
add('tab is not GSM', 'a\tb');
add('backtick is not GSM', 'a`b');
add('en dash', '9\u20135');
add('lone CR', 'a\rb');
add('lone high surrogate', 'a\ud83d');
add('zero width space', 'a\u200bb');

// CRLF: our rule turns it into LF before counting (the text stored here is the original).
// Stray CRs before the LF go too, so normalising twice is harmless (see normalize_newlines).
add('CRLF short', 'Hi\r\nthere');
add('a CRLF x 80', rep('a\r\n', 80));
add('a CRLF x 81', rep('a\r\n', 81));
add('CR CR LF', '\r\r\n');
add('CR CR LF between words', 'a\r\r\nb\r\r\r\nc');
add('mixed newlines', 'line1\nline2\r\nline3\r');
add('ç CRLF x 35 (70 units after CRLF->LF)', rep('ç\r\n', 35));
add('ç CRLF x 36', rep('ç\r\n', 36));

// UCS-2 boundaries (70 units single, 67 per part).
for (const n of [1, 67, 68, 69, 70, 71, 134, 135, 201, 202]) add(`${n} x ç`, rep('ç', n));
add('GSM chars in a UCS-2 message count 1 unit each', rep('a', 69) + 'ç');
add('extension chars in UCS-2 count 1 unit', rep('€', 69) + 'ç');
add('extension chars in UCS-2, 71 units', rep('{', 70) + 'ç');

// Surrogate pairs (2 units) straddling the 67-unit boundary.
add('one emoji', '😀');
add('35 emoji (70 units)', rep('😀', 35));
add('36 emoji', rep('😀', 36));
add('66 ç + emoji (68 units)', rep('ç', 66) + '😀');
add('68 ç + emoji (70 units)', rep('ç', 68) + '😀');
add('69 ç + emoji', rep('ç', 69) + '😀');
add('66 ç + emoji + 3 ç (straddles 67)', rep('ç', 66) + '😀' + rep('ç', 3));
add('65 ç + emoji + 4 ç', rep('ç', 65) + '😀' + rep('ç', 4));
add('133 ç + emoji + ç (straddles 134)', rep('ç', 133) + '😀' + 'ç');
add('65 a + emoji + 5 a', rep('a', 65) + '😀' + rep('a', 5));
add('emoji mixed in text', 'Hello 😀 world, see you at 5pm 👍');

// Grapheme clusters: the calculator never splits one and counts each as one character.
add('thumbs up + skin tone', '👍🏽');
add('family ZWJ sequence', '👨\u200d👩\u200d👧\u200d👦');
add('rainbow flag', '🏳\ufe0f\u200d🌈');
add('heart + VS16', '❤\ufe0f');
add('heart on fire (ZWJ glue newer than Unicode 10)', '❤\ufe0f\u200d🔥');
add('red-haired woman (newer than Unicode 10)', '👩\u200d🦰');
add('technologist', '🧑\u200d💻');
add('two flags', '🇺🇸🇬🇧');
add('three regional indicators', '🇺🇸🇬');
add('keycap', '#\ufe0f\u20e3 1\ufe0f\u20e3');
add('e + combining acute', 'cafe\u0301');
add('Scotland tag sequence', '🏴\udb40\udc67\udb40\udc62\udb40\udc73\udb40\udc63\udb40\udc74\udb40\udc7f');
add('Hangul syllables', '안녕하세요');
add('Hangul jamo', '\u1100\u1161\u11a8 \u1100\u1161');
add('Hangul syllables + jamo (LV+V joins, LVT+V does not)', '\uac00\u1161 \uac00\u11a8 \uac01\u11a8 \uac01\u1161');
add('Devanagari', 'नमस्ते दुनिया');
add('Thai', 'สวัสดีครับ');
add('Arabic', 'مرحبا بالعالم');
add('Arabic prepend', '\u0600\u0661');
add('CJK', '你好，世界');
add('60 ç + family + 10 ç', rep('ç', 60) + '👨\u200d👩\u200d👧\u200d👦' + rep('ç', 10));
add('62 a + family (straddles 67)', rep('a', 62) + '👨\u200d👩\u200d👧\u200d👦');
add('60 ç + 5 thumbs with skin tone', rep('ç', 60) + rep('👍🏽', 5));
add('a + 69 accents (70 units, one cluster)', 'a' + rep('\u0301', 69));
add('a + 70 accents (one cluster over 70 units)', 'a' + rep('\u0301', 70));
add('x + cluster of 70 units', 'x' + 'a' + rep('\u0301', 69));
add('cluster of 150 units then text', 'a' + rep('\u0301', 149) + 'bc');
add('text then two big clusters', 'hi ' + rep('a' + rep('\u0301', 60), 2) + ' there');

// Realistic messages.
add('appointment reminder', 'Hi Sam, this is Bright Smiles Dental: your cleaning is on Tue 3/14 at ' +
  '2:30pm. Reply C to confirm or call us at (555) 010-2233. Reply STOP to opt out.');
add('appointment reminder, smart apostrophe', 'Hi Sam, we\u2019re looking forward to seeing you on Tue ' +
  '3/14 at 2:30pm. Reply C to confirm or call (555) 010-2233. Reply STOP to opt out.');
add('price with euro and braces', 'Your total is €42.50 {incl. VAT} ~ thanks!');

// Seeded random strings from mixed alphabets (mulberry32, so output is stable).
let seed = 20240611;
const random = () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = (list) => list[Math.floor(random() * list.length)];
const gsm = [...'abcdefghijklmnopqrstuvwxyz ABCXYZ0123456789.,!?@£$¥èéùìòÇØøÅåΔ_ΦΓΩßÉÄÖÑÜ§¿äöñüà\n'];
const ext = [...'^{}\\[~]|€\f'];
const ucs = [...'çáíóú\u00a0\u201c\u201d\u2019\u2026\u2013ЖжΑαあ中\t`'];
const clusters = ['😀', '👍🏽', '❤\ufe0f', '👨\u200d👩\u200d👧', '🇫🇷', 'e\u0301', '\r\n', '한', '\u0915\u093f'];
const alphabets = {
  gsm: [gsm],
  'gsm+ext': [gsm, gsm, gsm, ext],
  'mostly gsm, rare ucs': [gsm, gsm, gsm, gsm, gsm, gsm, gsm, gsm, gsm, ext, ucs],
  mixed: [gsm, ext, ucs, clusters],
  'ucs+clusters': [ucs, clusters],
};
for (const [label, pools] of Object.entries(alphabets)) {
  for (let i = 0; i < 16; i++) {
    const length = Math.floor(random() * 420);
    let text = '';
    for (let j = 0; j < length; j++) text += pick(pick(pools));
    add(`random ${label} #${i}`, text);
  }
}

// Our rule (messagecenter.sms.segments.normalize_newlines): CRLF, and any CRs before it, -> LF.
const normalizeNewlines = (text) => text.replace(/\r+\n/g, '\n');

const vectors = cases.map(({ name, text }) => {
  const message = new SegmentedMessage(normalizeNewlines(text), 'auto', false);
  return {
    name,
    text,
    encoding: message.encodingName,
    segments: message.segmentsCount,
    characters: message.numberOfCharacters,
    unicode_characters: message.getNonGsmCharacters(),
  };
});

// One vector per line, ASCII only (\uXXXX escapes), so invisible characters stay visible.
const ascii = (value) => JSON.stringify(value).replace(/[\u007f-\uffff]/g,
  (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
fs.writeFileSync(OUT, `[\n${vectors.map((v) => `  ${ascii(v)}`).join(',\n')}\n]\n`);
console.log(`wrote ${vectors.length} vectors to ${path.relative(process.cwd(), OUT)}`);
