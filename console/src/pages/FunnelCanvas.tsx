import { useMemo } from "react";
import { Background, Controls, Handle, Position, ReactFlow, type Edge, type Node, type NodeProps } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import type { FlowFunnelQuery } from "../gql/graphql";
import { summary } from "../flowModel";
import { useI18n } from "../i18n";

type Funnel = FlowFunnelQuery["flowAnalytics"];
type Counts = Funnel["nodes"][number];
type FunnelNodeType = Node<{ kind: string; data: Record<string, any>; counts: Counts | null }, "funnel">;

function FunnelNode({ id, data }: NodeProps<FunnelNodeType>) {
  const { t, number } = useI18n();
  const reached = data.counts?.reached ?? 0;
  const dropped = data.counts?.dropped ?? 0;
  return (
    <div className={`bb-node funnel-node${dropped ? " has-drops" : ""}`} data-testid={`funnel-${id}`}>
      {data.kind !== "start" && <Handle type="target" position={Position.Top} isConnectable={false} />}
      <div className="bb-kind">{data.kind} <code>{id}</code></div>
      <div className="bb-summary">{summary(data.data)}</div>
      <dl className="funnel-counts">
        <div><dt>{t("reached")}</dt><dd data-testid={`reached-${id}`}>{number(reached)}</dd></div>
        <div><dt>{t("dropped")}</dt><dd data-testid={`dropped-${id}`}>{number(dropped)}</dd></div>
      </dl>
      <Handle type="source" position={Position.Bottom} isConnectable={false} />
    </div>
  );
}

const NODE_TYPES = { funnel: FunnelNode };

/** The published definition, read-only, with each node's reached/dropped runs and each edge's visits. */
export function FunnelCanvas({ definition, funnel }: { definition: any; funnel: Funnel }) {
  const { number } = useI18n();
  const { nodes, edges } = useMemo(() => {
    const counts = new Map(funnel.nodes.map((n) => [n.nodeId, n]));
    const visits = new Map<string, number>();
    for (const e of funnel.edges) visits.set(e.edgeId ?? `${e.source}>${e.target}`, e.visits);
    const nodes: FunnelNodeType[] = (definition?.nodes ?? []).map((n: any) => ({
      id: n.id, type: "funnel", position: n.position ?? { x: 0, y: 0 }, draggable: false,
      data: { kind: n.type, data: n.data ?? {}, counts: counts.get(n.id) ?? null },
    }));
    const edges: Edge[] = (definition?.edges ?? []).map((e: any) => {
      const count = visits.get(e.id) ?? visits.get(`${e.source}>${e.target}`) ?? 0;
      return {
        id: e.id, source: e.source, target: e.target, label: number(count),
        className: count ? "visited" : "unvisited", data: { visits: count },
      };
    });
    return { nodes, edges };
  }, [definition, funnel, number]);
  return (
    <div className="funnel-canvas" data-testid="funnel">
      <ReactFlow nodes={nodes} edges={edges} nodeTypes={NODE_TYPES} fitView fitViewOptions={{ maxZoom: 1 }}
        nodesDraggable={false} nodesConnectable={false} elementsSelectable={false} edgesFocusable={false}>
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
