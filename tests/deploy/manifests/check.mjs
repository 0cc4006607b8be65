// Checks Kubernetes manifests against the Kubernetes API's schema, without a cluster:
//   - each object against its kind's OpenAPI schema (kubernetes-models' validators:
//     types, required fields, enumerations, formats);
//   - no field the API does not know (the schemas above allow any; the field lists of
//     @kubernetes/client-node's generated models say which exist), as `kubectl apply`'s
//     strict field validation refuses them;
//   - what the API server checks across fields: a workload's selector matches its pod
//     template's labels, probes and Service target ports name ports the container has,
//     volume mounts name volumes;
//   - across the files: a Service selects some workload's pods, and every Secret a pod
//     reads is one the files define.
//
//   node check.mjs DIR_OR_FILE...     exits 1 and names each problem, 0 when all are valid
import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";

import * as k8s from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";

// Every YAML document in the given files and directories (*.yaml, *.yml), in order, as
// { where: "file#index", doc }. A document that does not parse is an error of its own.
export function loadManifests(paths) {
  const files = [];
  for (const p of paths) {
    if (fs.statSync(p).isDirectory()) {
      for (const name of fs.readdirSync(p).sort()) {
        if (/\.ya?ml$/.test(name)) files.push(path.join(p, name));
      }
    } else {
      files.push(p);
    }
  }
  const manifests = [];
  const errors = [];
  for (const file of files) {
    parseAllDocuments(fs.readFileSync(file, "utf8")).forEach((document, i) => {
      const where = `${file}#${i + 1}`;
      if (document.errors.length > 0) {
        errors.push(`${where}: not YAML: ${document.errors[0].message}`);
        return;
      }
      const doc = document.toJS();
      if (doc !== null && doc !== undefined) manifests.push({ where, doc });
    });
  }
  return { manifests, errors };
}

function objectName(doc) {
  return `${doc?.kind ?? "?"} ${doc?.metadata?.name ?? "(no name)"}`;
}

// The client-node model class of `doc` (apps/v1 Deployment: V1Deployment), or undefined.
function modelClass(doc) {
  const version = String(doc.apiVersion ?? "").split("/").pop();
  return k8s[`${version.charAt(0).toUpperCase()}${version.slice(1)}${doc.kind}`];
}

// Fields of `value` that the model `type` (a client-node type name) does not have, as
// JSON-pointer-like paths under `at`.
function unknownFields(value, type, at, found) {
  if (value === null || value === undefined) return;
  let m;
  if ((m = /^Array<(.+)>$/.exec(type))) {
    if (Array.isArray(value)) value.forEach((v, i) => unknownFields(v, m[1], `${at}/${i}`, found));
    return;
  }
  if ((m = /^\{ \[key: string\]: (.+); \}$/.exec(type))) {
    if (typeof value === "object") {
      for (const [k, v] of Object.entries(value)) unknownFields(v, m[1], `${at}/${k}`, found);
    }
    return;
  }
  const model = k8s[type];
  if (typeof model?.getAttributeTypeMap !== "function" || typeof value !== "object") return;
  const attributes = new Map(model.getAttributeTypeMap().map((a) => [a.baseName, a.type]));
  for (const [key, v] of Object.entries(value)) {
    if (!attributes.has(key)) {
      found.push(`${at}/${key}: no such field in ${type.replace(/^V\d\w*?(?=[A-Z])/, "")}`);
    } else {
      unknownFields(v, attributes.get(key), `${at}/${key}`, found);
    }
  }
}

// The kubernetes-models class for `doc`, imported by its apiVersion and kind.
async function schemaModel(doc) {
  const [group, version] = String(doc.apiVersion).includes("/")
    ? String(doc.apiVersion).split("/")
    : [null, String(doc.apiVersion)];
  const module = group ? `kubernetes-models/${group}/${version}/${doc.kind}` : `kubernetes-models/${version}/${doc.kind}`;
  try {
    return (await import(module))[doc.kind];
  } catch {
    return undefined;
  }
}

// The pod template of a workload (Deployment, StatefulSet, DaemonSet, Job), or undefined.
function podTemplate(doc) {
  return doc?.spec?.template;
}

function matches(selector, labels) {
  return Object.entries(selector ?? {}).every(([k, v]) => labels?.[k] === v);
}

// What the API server checks across one object's fields.
function crossFieldProblems(doc) {
  const problems = [];
  const template = podTemplate(doc);
  if (template && doc.spec?.selector) {
    const selector = doc.spec.selector.matchLabels ?? {};
    if (!matches(selector, template.metadata?.labels)) {
      problems.push("/spec/selector: does not match /spec/template/metadata/labels");
    }
  }
  const pod = template?.spec;
  if (!pod) return problems;
  const volumes = new Set([
    ...(pod.volumes ?? []).map((v) => v.name),
    ...(doc.spec.volumeClaimTemplates ?? []).map((v) => v.metadata?.name),
  ]);
  (pod.containers ?? []).forEach((c, i) => {
    const at = `/spec/template/spec/containers/${i}`;
    const ports = c.ports ?? [];
    const names = new Set(ports.map((p) => p.name).filter(Boolean));
    const numbers = new Set(ports.map((p) => p.containerPort));
    for (const probe of ["startupProbe", "readinessProbe", "livenessProbe"]) {
      const p = c[probe];
      if (!p) continue;
      const port = p.httpGet?.port ?? p.tcpSocket?.port ?? p.grpc?.port;
      if (port === undefined) continue;
      if (typeof port === "string" ? !names.has(port) : !numbers.has(port)) {
        problems.push(`${at}/${probe}: port ${port} is not one of the container's ports`);
      }
    }
    (c.volumeMounts ?? []).forEach((m, j) => {
      if (!volumes.has(m.name)) {
        problems.push(`${at}/volumeMounts/${j}: no volume named ${m.name}`);
      }
    });
  });
  return problems;
}

// Problems of one object, each a line naming the object and the field.
export async function checkDocument(doc, where) {
  const name = `${where} ${objectName(doc)}`;
  if (typeof doc !== "object" || !doc.apiVersion || !doc.kind) {
    return [`${name}: apiVersion and kind are required`];
  }
  const Model = await schemaModel(doc);
  if (!Model) return [`${name}: the Kubernetes API has no ${doc.apiVersion} ${doc.kind}`];
  const problems = [];
  try {
    new Model(doc).validate();
  } catch (e) {
    for (const err of e.errors ?? [{ instancePath: "", message: e.message }]) {
      const extra = err.params?.allowedValues ? ` (${err.params.allowedValues.join(", ")})` : "";
      problems.push(`${err.instancePath || "/"}: ${err.message}${extra}`);
    }
  }
  const model = modelClass(doc);
  if (model) unknownFields(doc, model.name, "", problems);
  problems.push(...crossFieldProblems(doc));
  return problems.map((p) => `${name}: ${p}`);
}

// Problems across the objects: Services that select no workload's pods, Secrets that a
// pod reads and no file defines.
export function checkTogether(manifests) {
  const problems = [];
  const docs = manifests.map((m) => m.doc);
  const templates = docs.map(podTemplate).filter(Boolean);
  const secrets = new Set(docs.filter((d) => d.kind === "Secret").map((d) => d.metadata?.name));
  for (const { where, doc } of manifests) {
    if (doc.kind === "Service" && doc.spec?.selector) {
      const selected = templates.filter((t) => matches(doc.spec.selector, t.metadata?.labels));
      if (selected.length === 0) {
        problems.push(`${where} ${objectName(doc)}: /spec/selector selects no workload's pods`);
      }
      for (const [i, port] of (doc.spec.ports ?? []).entries()) {
        if (typeof port.targetPort !== "string") continue;
        const named = selected.some((t) =>
          (t.spec?.containers ?? []).some((c) => (c.ports ?? []).some((p) => p.name === port.targetPort)),
        );
        if (!named) {
          problems.push(`${where} ${objectName(doc)}: /spec/ports/${i}/targetPort: no selected container has a port named ${port.targetPort}`);
        }
      }
    }
    const pod = podTemplate(doc)?.spec;
    (pod?.volumes ?? []).forEach((v, i) => {
      if (v.secret && !secrets.has(v.secret.secretName)) {
        problems.push(`${where} ${objectName(doc)}: /spec/template/spec/volumes/${i}: no file defines the Secret ${v.secret.secretName}`);
      }
    });
  }
  return problems;
}

// Every problem of the manifests under `paths`, and how many objects were read.
export async function checkPaths(paths) {
  const { manifests, errors } = loadManifests(paths);
  const problems = [...errors];
  for (const { where, doc } of manifests) problems.push(...(await checkDocument(doc, where)));
  problems.push(...checkTogether(manifests));
  return { problems, objects: manifests.length };
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const paths = process.argv.slice(2);
  if (paths.length === 0) {
    console.error("usage: node check.mjs DIR_OR_FILE...");
    process.exit(2);
  }
  const { problems, objects } = await checkPaths(paths);
  for (const p of problems) console.error(p);
  console.log(`${objects} objects in ${paths.join(", ")}: ${problems.length === 0 ? "valid" : `${problems.length} problems`}`);
  process.exit(problems.length === 0 ? 0 : 1);
}
