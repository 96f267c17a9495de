import { useEffect, useMemo, useState, type FormEvent } from "react";
import { Background, Controls, ReactFlow, ReactFlowProvider, type Edge } from "@xyflow/react";
import { errorText, gql } from "../api";
import { graphql } from "../gql";
import type { CompareVersionsQuery } from "../gql/graphql";
import { toCanvas, type NodeTypeInfo } from "../flowModel";
import { useI18n, type Key } from "../i18n";
import { CanvasContext, FlowNode, type NodeChange } from "./FlowNode";

const Compare = graphql(`
  query CompareVersions($from: ID!, $to: ID!) {
    old: flowVersion(id: $from) { version definition }
    new: flowVersion(id: $to) { version definition }
    flowDiff(fromVersionId: $from, toVersionId: $to) {
      nodesAdded nodesRemoved nodesChanged { nodeId fields } edgesAdded edgesRemoved edgesChanged settingsChanged
    }
  }
`);

export interface Version { id: string; version: number; message: string }
export type Pair = { from: string; to: string };
const NODE_TYPES = { bb: FlowNode };
const LEGEND: [string, Key][] = [["added", "added"], ["removed", "removedWord"], ["changed", "changed"], ["unchanged", "unchanged"]];

/** Pick two versions to see the second's changes on the canvas. */
export function ComparePicker({ versions, onCompare }: { versions: Version[]; onCompare: (pair: Pair) => void }) {
  const { t } = useI18n();
  const [pair, setPair] = useState<Pair>({ from: versions[1]?.id ?? "", to: versions[0]?.id ?? "" });
  if (versions.length < 2) return null;
  const submit = (event: FormEvent) => { event.preventDefault(); onCompare(pair); };
  const options = versions.map((v) => <option key={v.id} value={v.id}>v{v.version} {v.message && `· ${v.message}`}</option>);
  return (
    <form className="compare-form" onSubmit={submit} aria-label={t("compareVersions")}>
      <label>{t("fromVersion")}<select value={pair.from} onChange={(e) => setPair({ ...pair, from: e.target.value })}>{options}</select></label>
      <label>{t("toVersion")}<select value={pair.to} onChange={(e) => setPair({ ...pair, to: e.target.value })}>{options}</select></label>
      <button type="submit" disabled={pair.from === pair.to}>{t("showOnCanvas")}</button>
    </form>
  );
}

/** Two versions drawn as one read-only graph: the newer one's nodes and edges plus what it removed,
 * coloured (and labelled) by change, with a legend and the list of changes. */
export function DiffCanvas({ pair, types, onClose }: { pair: Pair; types: Map<string, NodeTypeInfo>; onClose: () => void }) {
  const { t } = useI18n();
  const [data, setData] = useState<CompareVersionsQuery | null>(null);
  const [error, setError] = useState("");
  useEffect(() => { gql(Compare, pair).then(setData, (e) => setError(errorText(e))); }, [pair]);
  const graph = useMemo(() => {
    if (!data) return null;
    const { flowDiff: diff } = data;
    const older = toCanvas(data.old.definition);
    const newer = toCanvas(data.new.definition);
    const removedNodes = new Set(diff.nodesRemoved);
    const nodes = [...newer.nodes, ...older.nodes.filter((n) => removedNodes.has(n.id))]
      .map((n) => ({ ...n, draggable: false, connectable: false, selected: false }));
    const removedEdges = new Set(diff.edgesRemoved);
    const edgeState = new Map<string, string>([
      ...diff.edgesAdded.map((id) => [id, "added"] as [string, string]),
      ...diff.edgesRemoved.map((id) => [id, "removed"] as [string, string]),
      ...diff.edgesChanged.map((id) => [id, "changed"] as [string, string]),
    ]);
    const edges: Edge[] = [...newer.edges, ...older.edges.filter((e) => removedEdges.has(e.id))].map((e) => {
      const state = edgeState.get(e.id);
      return { ...e, className: `diff-${state ?? "unchanged"}` };
    });
    const nodeState = new Map<string, NodeChange>([
      ...diff.nodesAdded.map((id) => [id, { status: "added" }] as const),
      ...diff.nodesRemoved.map((id) => [id, { status: "removed" }] as const),
      ...diff.nodesChanged.map((c) => [c.nodeId, { status: "changed", fields: c.fields }] as const),
    ]);
    return { nodes, edges, nodeState, diff };
  }, [data]);
  const context = useMemo(() => ({ types, problems: new Map(), activeNode: null, diff: graph?.nodeState }), [types, graph]);
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!graph || !data) return <div className="canvas" aria-busy="true" />;
  const { diff } = graph;
  const parts = [
    [t("added"), [...diff.nodesAdded, ...diff.edgesAdded]],
    [t("removedWord"), [...diff.nodesRemoved, ...diff.edgesRemoved]],
    [t("changed"), [...diff.nodesChanged.map((c) => `${c.nodeId} (${c.fields.join(", ")})`), ...diff.edgesChanged, ...diff.settingsChanged]],
  ].filter(([, items]) => items.length > 0) as [string, string[]][];
  return (
    <section className="diff-view" aria-label={`${t("compareVersions")}: v${data.old.version} → v${data.new.version}`} data-testid="diff-view">
      <div className="diff-head">
        <h2>v{data.old.version} → v{data.new.version}</h2>
        <ul className="legend" aria-label={t("legend")}>
          {LEGEND.map(([state, label]) => <li key={state} className={`legend-${state}`}>{t(label)}</li>)}
        </ul>
        <button type="button" onClick={onClose}>{t("closeDiff")}</button>
      </div>
      <ul className="diff" data-testid="version-diff">
        {parts.length === 0 ? <li>{t("noChanges")}</li> : parts.map(([label, items]) => <li key={label}><strong>{label}:</strong> {items.join(", ")}</li>)}
      </ul>
      <div className="canvas diff-canvas">
        <ReactFlowProvider>
          <CanvasContext.Provider value={context}>
            <ReactFlow nodes={graph.nodes} edges={graph.edges} nodeTypes={NODE_TYPES} fitView fitViewOptions={{ maxZoom: 1 }}
              onInit={(instance) => instance.fitView({ maxZoom: 1 })} nodesDraggable={false} nodesConnectable={false} elementsSelectable={false} edgesFocusable={false}>
              <Background />
              <Controls showInteractive={false} />
            </ReactFlow>
          </CanvasContext.Provider>
        </ReactFlowProvider>
      </div>
    </section>
  );
}
