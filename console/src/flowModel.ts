// The flow definition (the seeds' shape) ↔ React Flow's nodes and edges, and each node's handles.
import type { Edge, Node } from "@xyflow/react";

export interface NodeTypeInfo { type: string; description: string; dataSchema: any; handles: string[] }
export type BbNode = Node<{ kind: string; data: Record<string, any> }, "bb">;

export function toCanvas(definition: any): { nodes: BbNode[]; edges: Edge[] } {
  const nodes: BbNode[] = (definition?.nodes ?? []).map((n: any) => ({
    id: n.id, type: "bb", position: n.position ?? { x: 0, y: 0 }, data: { kind: n.type, data: n.data ?? {} },
  }));
  const edges: Edge[] = (definition?.edges ?? []).map((e: any) => ({
    id: e.id, source: e.source, target: e.target, sourceHandle: e.sourceHandle ?? "default", label: e.label,
  }));
  return { nodes, edges };
}

export function toDefinition(base: any, nodes: BbNode[], edges: Edge[]): any {
  return {
    ...base,
    nodes: nodes.map((n) => ({ id: n.id, type: n.data.kind, position: n.position, data: n.data.data })),
    edges: edges.map((e) => ({
      id: e.id, source: e.source, target: e.target, sourceHandle: e.sourceHandle ?? "default",
      ...(e.label ? { label: e.label } : {}),
    })),
  };
}

/** The node's outgoing handles, as the engine computes them (see workflows/nodes). */
export function handlesOf(info: NodeTypeInfo | undefined, kind: string, data: Record<string, any>): string[] {
  const handles = [...(info?.handles ?? ["default"])];
  if (Array.isArray(data.options)) {
    data.options.forEach((option: any, index: number) => handles.push(String(option?.id || index + 1)));
  }
  if (kind === "condition" && data.condition) handles.unshift("true", "false");
  return handles;
}

/** A fresh id such as `message-2`: readable, unique in the flow. */
export function newNodeId(kind: string, nodes: BbNode[]): string {
  const taken = new Set(nodes.map((n) => n.id));
  let n = 1;
  while (taken.has(`${kind}-${n}`)) n += 1;
  return `${kind}-${n}`;
}

/** What a node says on the canvas: its text, condition, variable or URL. */
export function summary(data: Record<string, any>): string {
  const text = data.content ?? data.condition ?? data.prompt ?? data.variable ?? data.apiUrl ?? data.webhookUrl ?? data.url ?? "";
  return String(text).slice(0, 80);
}

/** A name a `{{template}}` can use, and where it comes from. */
export interface FlowVariable { name: string; source: string }

/** What the engine puts in every template's scope (workflows/flow_run.py `scope`, the contact record). */
const BUILT_IN: FlowVariable[] = [
  { name: "last_reply", source: "last reply" },
  ...["name", "phone", "email", "external_id", "id"].map((field) => ({ name: `contact.${field}`, source: "contact" })),
];

/** The variables a flow defines: its own `variables`, every node's `variable` / `...Variable`
 * field (set, or its type's default), form fields and response mappings; then the built-ins. */
export function flowVariables(flowDefaults: Record<string, unknown> | undefined, nodes: BbNode[],
  types: Map<string, NodeTypeInfo>): FlowVariable[] {
  const found = new Map<string, string>();
  const add = (name: unknown, source: string) => {
    if (typeof name === "string" && name && !found.has(name)) found.set(name, source);
  };
  Object.keys(flowDefaults ?? {}).forEach((name) => add(name, "flow"));
  for (const node of nodes) {
    const data = node.data.data;
    const properties: Record<string, any> = types.get(node.data.kind)?.dataSchema?.properties ?? {};
    for (const [key, schema] of Object.entries(properties)) {
      if (key === "variable" || key.endsWith("Variable")) add(data[key] ?? schema?.default, node.id);
    }
    if (Array.isArray(data.fields)) data.fields.forEach((field: any) => add(field?.name, node.id));
    if (data.mappings && typeof data.mappings === "object") Object.keys(data.mappings).forEach((name) => add(name, node.id));
  }
  return [...[...found].map(([name, source]) => ({ name, source })), ...BUILT_IN.filter((v) => !found.has(v.name))];
}

/** The `{{partial` being typed just before the caret, if any. */
export function openTemplate(text: string, caret: number): string | null {
  const match = /\{\{\s*([\w.]*)$/.exec(text.slice(0, caret));
  return match ? match[1] : null;
}
