import { createContext, useContext, useEffect } from "react";
import { Handle, Position, useUpdateNodeInternals, type NodeProps } from "@xyflow/react";
import { handlesOf, summary, type BbNode, type NodeTypeInfo } from "../flowModel";

/** What every node on the canvas reads: the registry, the engine's problems, the Try run's node. */
export const CanvasContext = createContext<{
  types: Map<string, NodeTypeInfo>; problems: Map<string, string[]>; activeNode: string | null;
}>({ types: new Map(), problems: new Map(), activeNode: null });

export function FlowNode({ id, data, selected }: NodeProps<BbNode>) {
  const { types, problems, activeNode } = useContext(CanvasContext);
  const handles = handlesOf(types.get(data.kind), data.kind, data.data);
  const update = useUpdateNodeInternals();
  const key = handles.join("|");
  useEffect(() => update(id), [id, key, update]);
  const mine = problems.get(id) ?? [];
  const labels = new Map<string, string>(
    (Array.isArray(data.data.options) ? data.data.options : []).map((o: any, i: number) => [String(o?.id || i + 1), o?.label || String(i + 1)]),
  );
  const classes = ["bb-node", selected ? "selected" : "", mine.length ? "has-problems" : "", activeNode === id ? "active" : ""];
  return (
    <div className={classes.join(" ")} data-testid={`node-${id}`} data-kind={data.kind}>
      {data.kind !== "start" && <Handle type="target" position={Position.Top} />}
      <div className="bb-kind">{data.kind} <code>{id}</code></div>
      <div className="bb-summary">{summary(data.data)}</div>
      {mine.length > 0 && (
        <ul className="node-problems" role="alert">{mine.map((p) => <li key={p}>{withoutNodeName(p)}</li>)}</ul>
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
