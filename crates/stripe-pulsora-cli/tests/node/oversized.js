// Sends a body larger than the server's limit, with Content-Length, the way a plain Node.js
// client does (node:http, writing the whole body), and prints what it got back:
//   "status <code> <body>" when the answer was readable, "error <code>" when the connection was
// reset before it (EPIPE / ECONNRESET). Usage: node oversized.js <url> <bytes>
const http = require("node:http");

const [url, size] = [process.argv[2], Number(process.argv[3])];
const body = Buffer.alloc(size, "a");
const request = http.request(url, {
  method: "POST",
  headers: {
    "content-type": "application/json",
    "content-length": String(body.length),
    "stripe-signature": "t=1700000000,v1=" + "0".repeat(64),
  },
});
request.on("response", (response) => {
  const chunks = [];
  response.on("data", (chunk) => chunks.push(chunk));
  response.on("end", () => {
    console.log(`status ${response.statusCode} ${Buffer.concat(chunks).toString()}`);
    process.exit(0);
  });
});
request.on("error", (error) => {
  console.log(`error ${error.code}`);
  process.exit(0);
});
// Write in 64 KiB pieces, as a streaming upload would.
for (let offset = 0; offset < body.length; offset += 65536) {
  request.write(body.subarray(offset, offset + 65536));
}
request.end();
setTimeout(() => {
  console.log("error TIMEOUT");
  process.exit(0);
}, 10000);
