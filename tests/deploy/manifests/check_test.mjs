// deploy/k8s/ is valid against the Kubernetes API's schema, and the check refuses each
// kind of mistake it is there for (a copy of the manifests with one edit each).
//   node --test tests/deploy/manifests/check_test.mjs      (from the repository root)
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

import { checkPaths } from "./check.mjs";

const k8sDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "../../../deploy/k8s");

test("the manifests are valid, the probes and grace periods included", async () => {
  const { problems, objects } = await checkPaths([k8sDir]);
  assert.deepEqual(problems, []);
  assert.ok(objects >= 6, `${objects} objects`);
});

// A copy of deploy/k8s with `file`'s text passed through `edit`; its problems.
async function problemsAfter(file, edit) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "deepevolve-k8s-"));
  try {
    for (const name of fs.readdirSync(k8sDir)) fs.copyFileSync(path.join(k8sDir, name), path.join(dir, name));
    const before = fs.readFileSync(path.join(dir, file), "utf8");
    const after = edit(before);
    assert.notEqual(after, before, "the edit changed nothing");
    fs.writeFileSync(path.join(dir, file), after);
    return (await checkPaths([dir])).problems;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const mistakes = [
  ["a misspelt field", "master.yaml", (t) => t.replace("readinessProbe:", "readinesProbe:"),
    /containers\/0\/readinesProbe: no such field in Container/],
  ["a field at the wrong level", "worker.yaml", (t) => t.replace("  replicas: 2\n", "  replicas: 2\n  terminationGracePeriodSeconds: 600\n"),
    /\/spec\/terminationGracePeriodSeconds: no such field in DeploymentSpec/],
  ["a number where the API wants a number, given as text", "worker.yaml", (t) => t.replace("terminationGracePeriodSeconds: 600", 'terminationGracePeriodSeconds: "600"'),
    /terminationGracePeriodSeconds: must be integer/],
  ["a gRPC probe on a named port (the API wants its number)", "master.yaml", (t) => t.replace("grpc: {port: 50052}", "grpc: {port: health}"),
    /startupProbe\/grpc\/port: must be integer/],
  ["a missing required field", "worker.yaml", (t) => t.replace("- name: worker\n", "- \n"),
    /containers\/0: must have required property '?name'?/],
  ["an unknown kind", "worker.yaml", (t) => t.replace("kind: Deployment", "kind: Deploymint"),
    /the Kubernetes API has no apps\/v1 Deploymint/],
  ["a probe on a port the container lacks", "master.yaml", (t) => t.replace("grpc: {port: 50052}", "grpc: {port: 50053}"),
    /startupProbe: port 50053 is not one of the container's ports/],
  ["a selector that misses its pods", "worker.yaml", (t) => t.replace("matchLabels: {app.kubernetes.io/name: deepevolve, app.kubernetes.io/component: worker}", "matchLabels: {app.kubernetes.io/name: deepevolve, app.kubernetes.io/component: workers}"),
    /\/spec\/selector: does not match/],
  ["a Service that selects nothing", "master.yaml", (t) => t.replace("  selector: {app.kubernetes.io/name: deepevolve, app.kubernetes.io/component: master}", "  selector: {app.kubernetes.io/name: deepevolve, app.kubernetes.io/component: mastr}"),
    /Service deepevolve-master: \/spec\/selector selects no workload's pods/],
  ["a Service port aimed at no container port", "master.yaml", (t) => t.replace("targetPort: http}", "targetPort: https}"),
    /targetPort: no selected container has a port named https/],
  ["a mount of no volume", "worker.yaml", (t) => t.replace("- {name: certs, mountPath: /certs", "- {name: cert, mountPath: /certs"),
    /volumeMounts\/0: no volume named cert/],
  ["a Secret that no file defines", "secrets.example.yaml", (t) => t.replace("name: deepevolve-worker-tls", "name: deepevolve-workers-tls"),
    /no file defines the Secret deepevolve-worker-tls/],
  ["a document that is not YAML", "worker.yaml", (t) => `${t}\n---\nkind: [unclosed\n`,
    /worker.yaml#2: not YAML/],
];

for (const [what, file, edit, expected] of mistakes) {
  test(`refused: ${what}`, async () => {
    const problems = await problemsAfter(file, edit);
    assert.ok(problems.some((p) => expected.test(p)), `expected ${expected} among:\n${problems.join("\n")}`);
  });
}
