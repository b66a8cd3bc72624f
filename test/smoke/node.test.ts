import t from 'tap';
const v: string = process.versions.node;
t.match(v, /^24\./, 'tests run on Node 24');
