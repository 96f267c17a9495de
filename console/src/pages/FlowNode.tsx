import { createContext, useContext, useEffect } from "react";
import { Handle, Position, useUpdateNodeInternals, type NodeProps } from "@xyflow/react";
import { handlesOf, summary, type BbNode, type NodeTypeInfo } from "../flowModel";
import { useI18n } from "../i18n";

export interface NodeChange { status: "added" | "removed" | "changed"; fields?: string[] }

/** What every node on the canvas reads: the registry, the engine's problems, the Try run's node. */
export const CanvasContext = createContext<{
  types: Map<string, NodeTypeInfo>; problems: Map<string, string[]>; activeNode: string | null;
  /** On a versions diff: each node's change (unchanged nodes are absent). */
  diff?: Map<string, NodeChange>;
}>({ types: new Map(), problems: new Map(), activeNode: null });

export function FlowNode({ id, data, selected }: NodeProps<BbNode>) {
  const { types, problems, activeNode, diff } = useContext(CanvasContext);
  const handles = handlesOf(types.get(data.kind), data.kind, data.data);
  const update = useUpdateNodeInternals();
  const key = handles.join("|");
  useEffect(() => update(id), [id, key, update]);
  const mine = problems.get(id) ?? [];
  const labels = new Map<string, string>(
    (Array.isArray(data.data.options) ? data.data.options : []).map((o: any, i: number) => [String(o?.id || i + 1), o?.label || String(i + 1)]),
  );
  const { t } = useI18n();
  const change = diff?.get(id);
  const status = diff ? change?.status ?? "unchanged" : undefined;
  const classes = ["bb-node", selected ? "selected" : "", mine.length ? "has-problems" : "", activeNode === id ? "active" : "",
    status ? `diff-${status}` : ""];
  return (
    <div className={classes.join(" ")} data-testid={`node-${id}`} data-kind={data.kind} data-diff={status}>
      {data.kind !== "start" && <Handle type="target" position={Position.Top} />}
      <div className="bb-kind">{data.kind} <code>{id}</code></div>
      <div className="bb-summary">{summary(data.data)}</div>
      {change && (
        <div className="diff-badge">{t(change.status === "removed" ? "removedWord" : change.status)}{change.fields ? `: ${change.fields.join(", ")}` : ""}</div>
      )}
      {mine.length > 0 && (
        <div role="alert"><ul className="node-problems">{mine.map((p) => <li key={p}>{withoutNodeName(p)}</li>)}</ul></div>
      )}
      <div className="bb-handles">
        {handles.map((handle) => (
          <div key={handle} className="bb-handle">
            <span>{labels.get(handle) ?? handle}</span>
            <Handle type="source" position={Position.Bottom} id={handle} />
          </div>
        ))}
      </div>
    </div>
  );
}

/** The engine names the node in each message ("node 'x' (message): ..."); on the node it is implied. */
function withoutNodeName(problem: string): string {
  return problem.replace(/^node '[^']*' \([^)]*\):\s*/, "");
}
