#!/usr/bin/env node
'use strict';
// torov-oci's JavaScript entry: bin/torov-oci (the native front end, src/launcher/oci-front.c)
// runs Node with this file for every command it does not do itself. The OCI runtime (runc's
// command line) that runs containers as torov VMs.
// See src/oci/main.ts and docs/oci.md.
require('../dist/src/oci/main.js').main(process.argv.slice(2)).then((status) => { process.exitCode = status; });
