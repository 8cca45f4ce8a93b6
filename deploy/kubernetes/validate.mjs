// Validates every document of Kubernetes manifests against the API schemas
// offline, with the npm package kubernetes-models (no cluster needed).
// Usage: node validate.mjs FILE...   (NODE_PATH must reach kubernetes-models and js-yaml)
import { createRequire } from 'module';
import { readFileSync } from 'fs';
const require = createRequire(process.env.NODE_PATH ? process.env.NODE_PATH + '/' : import.meta.url);
const yaml = require('js-yaml');
const kinds = {
  'v1/Service': () => require('kubernetes-models/v1/Service').Service,
  'v1/Secret': () => require('kubernetes-models/v1/Secret').Secret,
  'v1/ConfigMap': () => require('kubernetes-models/v1/ConfigMap').ConfigMap,
  'apps/v1/StatefulSet': () => require('kubernetes-models/apps/v1/StatefulSet').StatefulSet,
  'policy/v1/PodDisruptionBudget': () => require('kubernetes-models/policy/v1/PodDisruptionBudget').PodDisruptionBudget,
};
let failed = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of yaml.loadAll(readFileSync(file, 'utf8'))) {
    if (!doc) continue;
    const key = `${doc.apiVersion}/${doc.kind}`;
    const make = kinds[key];
    if (!make) { console.log(`invalid ${file}: unsupported kind ${key}`); failed++; continue; }
    try {
      const Model = make();
      new Model(doc).validate();
      console.log(`ok ${doc.kind} ${doc.metadata.name}`);
    } catch (e) {
      console.log(`invalid ${doc.kind} ${doc.metadata?.name}: ${e.message}`);
      failed++;
    }
  }
}
process.exit(failed ? 1 : 0);
