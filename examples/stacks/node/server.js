// A Node.js HTTP server under tend: it listens on $PORT (tend.conf sets it), logs one line
// per request to stdout (captured by tend), and on SIGTERM stops accepting, lets the
// requests in flight finish, and exits 0.
'use strict';
const http = require('http');

const port = Number(process.env.PORT || 3000);
const server = http.createServer((req, res) => {
  console.log(`${req.method} ${req.url}`);
  res.writeHead(200, { 'Content-Type': 'text/plain' });
  res.end(`hello from node ${process.version} pid ${process.pid}\n`);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`listening on 127.0.0.1:${port}, pid ${process.pid}`);
});

process.on('SIGTERM', () => {
  console.log('SIGTERM: closing');
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
