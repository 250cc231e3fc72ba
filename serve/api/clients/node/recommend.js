#!/usr/bin/env node
// recommend.js calls Discret's RecommendationService.Recommend over gRPC,
// loading the API from serve/api/discret/v1/discret.proto at run time (no
// generated code), and prints the response as JSON.
//
//   npm ci
//   node recommend.js --addr 127.0.0.1:9090 --key "$DISCRET_API_KEY" --customer demo@example.com [--limit 5] [--store S] [--tls]
//
// The key needs the recommend scope; it is sent as "authorization: Bearer
// KEY" metadata. The exit status is 0 on success, 1 on an RPC error (its
// gRPC code and message on stderr), 2 on bad usage.
'use strict';

const path = require('node:path');
const { parseArgs } = require('node:util');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO = path.join(__dirname, '..', '..', 'discret', 'v1', 'discret.proto');

const USAGE = 'usage: node recommend.js --addr HOST:PORT --key KEY --customer ID [--limit N] [--store S] [--category C] [--tls] [--timeout SECONDS]\n' +
  '  --addr defaults to $DISCRET_GRPC_ADDR or 127.0.0.1:9090, --key to $DISCRET_API_KEY (recommend scope), --limit to 10, --timeout to 10';

function usage(msg) {
  if (msg) console.error(`recommend.js: ${msg}`);
  console.error(USAGE);
  process.exit(2);
}

function main() {
  let args;
  try {
    ({ values: args } = parseArgs({
      options: {
        addr: { type: 'string', default: process.env.DISCRET_GRPC_ADDR || '127.0.0.1:9090' },
        key: { type: 'string', default: process.env.DISCRET_API_KEY || '' },
        customer: { type: 'string' },
        limit: { type: 'string', default: '10' },
        store: { type: 'string', default: '' },
        category: { type: 'string', default: '' },
        tls: { type: 'boolean', default: false },
        timeout: { type: 'string', default: '10' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    usage(err.message);
  }
  if (args.help) {
    console.log(USAGE);
    process.exit(0);
  }
  if (!args.customer) usage('--customer is required');
  if (!args.key) usage('--key (or DISCRET_API_KEY) is required');
  const limit = Number.parseInt(args.limit, 10);
  if (!(limit >= 1 && limit <= 100)) usage('--limit must be 1-100');

  const def = protoLoader.loadSync(PROTO, {
    keepCase: true, // field names as in the .proto: model_version, because_item
    longs: String,
    enums: String, // reason as its name, e.g. NON_PERSONALIZED_REASON_NO_CONSENT
    defaults: true, // unset scalars as their zero values; unset optional fields (reason) stay absent
  });
  const v1 = grpc.loadPackageDefinition(def).discret.v1;
  const creds = args.tls ? grpc.credentials.createSsl() : grpc.credentials.createInsecure();
  const client = new v1.RecommendationService(args.addr, creds);

  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${args.key}`);
  const req = { customer: args.customer, limit, store: args.store, category: args.category };
  const deadline = new Date(Date.now() + Number(args.timeout) * 1000);
  client.Recommend(req, md, { deadline }, (err, resp) => {
    client.close();
    if (err) {
      console.error(`recommend.js: ${grpc.status[err.code] || err.code}: ${err.details || err.message}`);
      process.exitCode = 1;
      return;
    }
    process.stdout.write(JSON.stringify(resp) + '\n');
  });
}

main();
