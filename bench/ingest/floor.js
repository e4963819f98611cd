#!/usr/bin/env node
/**
 * The ingest benchmark's floor: the least a durable NDJSON collector can do on this machine. A node:http server
 * that reads each POSTed body, parses every line with JSON.parse (a line that does not parse fails the batch: 400),
 * appends the body to one file and answers 200 only after fdatasync — with group commit: bodies that arrive while a
 * write + fdatasync runs go together in the next one (one writev, one fdatasync). No validation, no de-duplication,
 * no store. The file is cut back to empty once it passes 256 MiB, so a long run does not fill the disk.
 *
 *   node bench/ingest/floor.js --file PATH [--listen 127.0.0.1:0]
 *
 * Prints `floor listening on http://HOST:PORT` on stderr once it listens; stops on SIGTERM.
 */
'use strict';
const fs = require('node:fs');
const http = require('node:http');
const { parseArgs } = require('node:util');

const RECYCLE_BYTES = 256 * 1024 * 1024;

const { values } = parseArgs({
  options: { file: { type: 'string' }, listen: { type: 'string', default: '127.0.0.1:0' } },
});
if (!values.file) {
  process.stderr.write('floor: --file PATH is required\n');
  process.exit(2);
}
const [host, port] = values.listen.split(':');
const fd = fs.openSync(values.file, 'w');
let offset = 0;
/** Bodies waiting for the next write + fdatasync, with the answers to send once it is done. */
let pending = [];
let writing = false;

/** The group-commit loop: everything queued goes out in one writev and one fdatasync, then the next group. */
function drain() {
  if (writing || pending.length === 0) {
    return;
  }
  writing = true;
  const group = pending;
  pending = [];
  if (offset > RECYCLE_BYTES) {
    fs.ftruncateSync(fd, 0);
    offset = 0;
  }
  const buffers = group.map((entry) => entry.body);
  fs.writev(fd, buffers, offset, (writeError, written) => {
    offset += written ?? 0;
    fs.fdatasync(fd, (syncError) => {
      const error = writeError ?? syncError;
      for (const entry of group) {
        entry.done(error);
      }
      writing = false;
      drain();
    });
  });
}

/** Parses every non-empty line of an NDJSON body; returns the number of records. */
function parseLines(text) {
  let records = 0;
  for (let start = 0; start < text.length;) {
    let end = text.indexOf('\n', start);
    if (end < 0) {
      end = text.length;
    }
    if (end > start) {
      JSON.parse(text.slice(start, end));
      records += 1;
    }
    start = end + 1;
  }
  return records;
}

function answer(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}

const server = http.createServer((req, res) => {
  if (req.method !== 'POST') {
    answer(res, 200, { status: 'ok' });
    return;
  }
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    let records;
    try {
      records = parseLines(body.toString('utf8'));
    } catch (error) {
      answer(res, 400, { error: error.message });
      return;
    }
    pending.push({
      body,
      done: (error) => (error ? answer(res, 503, { error: error.message }) : answer(res, 200, { accepted: records })),
    });
    drain();
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(port), host, () => {
  const address = server.address();
  process.stderr.write(`floor listening on http://${address.address}:${address.port}\n`);
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
