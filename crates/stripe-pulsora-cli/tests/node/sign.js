// Prints the Stripe-Signature header stripe-node would send for the payload read from stdin.
// Usage: node sign.js <secret> [timestamp] < payload
'use strict';

const Stripe = require('stripe');

const [secret, timestamp] = process.argv.slice(2);
if (!secret) {
  console.error('usage: node sign.js <secret> [timestamp] < payload');
  process.exit(2);
}

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  // generateTestHeaderString signs a string; decoding UTF-8 here is what the SDK would do anyway.
  const payload = Buffer.concat(chunks).toString('utf8');
  const stripe = new Stripe('sk_test_unused_no_network_calls');
  const opts = { payload, secret };
  if (timestamp) {
    opts.timestamp = Number(timestamp);
  }
  process.stdout.write(stripe.webhooks.generateTestHeaderString(opts));
});
