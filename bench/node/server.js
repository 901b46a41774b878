// The webhook endpoint of the original Node.js integration guide, for the load benchmark:
// express.raw() on the route, stripe.webhooks.constructEvent, express-rate-limit.
// Usage: PORT=4001 node server.js
'use strict';

const express = require('express');
const rateLimit = require('express-rate-limit');
const Stripe = require('stripe');

const stripe = new Stripe('sk_test_unused_no_network_calls');
const secret = process.env.STRIPE_WEBHOOK_SECRET || 'whsec_benchmark_secret';
const app = express();

// The guide limits to 100/min; the benchmark raises it so the limiter runs but never refuses.
const webhookLimiter = rateLimit({ windowMs: 60 * 1000, max: 100000000 });

app.post('/wh', webhookLimiter, express.raw({ type: 'application/json' }), (req, res) => {
  let event;
  try {
    event = stripe.webhooks.constructEvent(req.body, req.headers['stripe-signature'], secret);
  } catch (err) {
    return res.status(400).send(`Webhook Error: ${err.message}`);
  }
  res.json({ received: true, id: event.id });
});

const port = Number(process.env.PORT || 4001);
app.listen(port, '127.0.0.1', () => console.log(`ready node on 127.0.0.1:${port}`));
