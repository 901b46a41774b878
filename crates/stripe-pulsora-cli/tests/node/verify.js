// Verifies a delivery with stripe-node's constructEvent and prints the event id.
// Usage: node verify.js <secret> <stripe-signature header> < payload
// Exit status: 0 when the SDK accepts the delivery, 1 when it throws (message on stderr).
'use strict';

const Stripe = require('stripe');

const [secret, header] = process.argv.slice(2);
if (!secret || !header) {
  console.error('usage: node verify.js <secret> <header> < payload');
  process.exit(2);
}

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  // The raw bytes as a Buffer, as an Express `express.raw()` route would pass them.
  const payload = Buffer.concat(chunks);
  const stripe = new Stripe('sk_test_unused_no_network_calls');
  try {
    const event = stripe.webhooks.constructEvent(payload, header, secret);
    process.stdout.write(event.id);
  } catch (err) {
    console.error(`${err.type || err.name}: ${err.message}`);
    process.exit(1);
  }
});
