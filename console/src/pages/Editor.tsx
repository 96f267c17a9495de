import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent } from "react";
import {
  Background, Controls, ReactFlow, ReactFlowProvider, addEdge, applyEdgeChanges, applyNodeChanges,
  useReactFlow, type Connection, type Edge, type EdgeChange, type NodeChange,
} from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { gql, errorText } from "../api";
import { graphql } from "../gql";
import { useI18n } from "../i18n";
import { flowVariables, newNodeId, toCanvas, toDefinition, type BbNode, type NodeTypeInfo } from "../flowModel";
import { CanvasContext, FlowNode } from "./FlowNode";
import { PropertyPanel } from "./PropertyPanel";
import { TryPanel } from "./TryPanel";
import { ComparePicker, DiffCanvas, type Pair } from "./VersionCompare";

const FlowEditor = graphql(`
  query FlowEditor($id: ID!) {
    flow(id: $id) { id botId name definition publishedVersionId versions { id version message createdAt } }
    nodeTypes { type description dataSchema handles }
  }
`);
const SaveDraft = graphql(`
  mutation SaveDraft($id: ID!, $definition: JSON!) { updateFlowDraft(id: $id, input: { definition: $definition }) { id updatedAt } }
`);
const Validate = graphql(`query ValidateFlow($id: ID!) { validateFlow(id: $id) { code message nodeId edgeId } }`);
const Publish = graphql(`mutation PublishFlow($id: ID!, $message: String!) { publishFlow(id: $id, message: $message) { id version } }`);
const RollBack = graphql(`mutation RollBackFlow($id: ID!, $version: ID!) { rollBackFlow(id: $id, versionId: $version) { id version } }`);
const Flows = graphql(`query FlowPicker { bots { id name flows { id name } } }`);

const NODE_TYPES = { bb: FlowNode };
const AUTOSAVE_MS = 600;
const MIME = "application/x-botbuilder-node";

export function EditorPage({ route }: { route: string[] }) {
  return route[1] ? (
    <ReactFlowProvider key={route[1]}><Editor flowId={route[1]} /></ReactFlowProvider>
  ) : <FlowPicker />;
}

function FlowPicker() {
  const { t } = useI18n();
  const [bots, setBots] = useState<{ id: string; name: string; flows: { id: string; name: string }[] }[]>([]);
  useEffect(() => { gql(Flows, {}).then((d) => setBots(d.bots)); }, []);
  return (
    <section className="page">
      <h1>{t("editor")}</h1>
      {bots.map((bot) => (
        <div key={bot.id}><h2>{bot.name}</h2>
          <ul>{bot.flows.map((f) => <li key={f.id}><a href={`#/flows/${f.id}`}>{f.name}</a></li>)}</ul>
        </div>
      ))}
    </section>
  );
}

type Snapshot = { nodes: BbNode[]; edges: Edge[] };
type Problem = { code: string; message: string; nodeId?: string | null; edgeId?: string | null };

function Editor({ flowId }: { flowId: string }) {
  const { t, date } = useI18n();
  const flowApi = useReactFlow();
  const [flow, setFlow] = useState<any>(null);
  const [types, setTypes] = useState<NodeTypeInfo[]>([]);
  const [nodes, setNodes] = useState<BbNode[]>([]);
  const [edges, setEdges] = useState<Edge[]>([]);
  const [past, setPast] = useState<Snapshot[]>([]);
  const [future, setFuture] = useState<Snapshot[]>([]);
  const [problems, setProblems] = useState<Problem[]>([]);
  const [saveState, setSaveState] = useState<"saved" | "saving" | "unsaved">("saved");
  const [publishMessage, setPublishMessage] = useState("");
  const [notice, setNotice] = useState<{ ok: boolean; text: string } | null>(null);
  const [activeNode, setActiveNode] = useState<string | null>(null);
  const [fitOnLoad, setFitOnLoad] = useState(false);
  const [compare, setCompare] = useState<Pair | null>(null);
  const savedJson = useRef("");
  const dragStart = useRef<Snapshot | null>(null);

  const validate = useCallback(async () => setProblems((await gql(Validate, { id: flowId })).validateFlow), [flowId]);
  const load = useCallback(async () => {
    const data = await gql(FlowEditor, { id: flowId });
    setFlow(data.flow);
    setTypes(data.nodeTypes);
    return data.flow;
  }, [flowId]);
  useEffect(() => {
    load().then((loaded) => {
      const canvas = toCanvas(loaded.definition);
      setNodes(canvas.nodes);
      setEdges(canvas.edges);
      setFitOnLoad(canvas.nodes.length > 0);
      savedJson.current = JSON.stringify(toDefinition(loaded.definition, canvas.nodes, canvas.edges));
      validate();
    });
  }, [load, validate]);

  const definition = useMemo(() => (flow ? toDefinition(flow.definition, nodes, edges) : null), [flow, nodes, edges]);
  // Autosave: the draft is written shortly after the last change, then validated by the engine.
  useEffect(() => {
    if (!definition) return;
    const json = JSON.stringify(definition);
    if (json === savedJson.current) return;
    setSaveState("unsaved");
    const timer = setTimeout(async () => {
      setSaveState("saving");
      try {
        await gql(SaveDraft, { id: flowId, definition });
        savedJson.current = json;
        setSaveState("saved");
        await validate();
      } catch (err) {
        setSaveState("unsaved");
        setNotice({ ok: false, text: errorText(err) });
      }
    }, AUTOSAVE_MS);
    return () => clearTimeout(timer);
  }, [definition, flowId, validate]);

  /** Every user edit goes through here, so it can be undone. */
  const commit = useCallback((next: Snapshot, before?: Snapshot) => {
    setPast((p) => [...p.slice(-99), before ?? { nodes, edges }]);
    setFuture([]);
    setNodes(next.nodes);
    setEdges(next.edges);
  }, [nodes, edges]);
  const undo = useCallback(() => {
    const previous = past[past.length - 1];
    if (!previous) return;
    setPast(past.slice(0, -1));
    setFuture([{ nodes, edges }, ...future]);
    setNodes(previous.nodes);
    setEdges(previous.edges);
  }, [past, future, nodes, edges]);
  const redo = useCallback(() => {
    const next = future[0];
    if (!next) return;
    setFuture(future.slice(1));
    setPast([...past, { nodes, edges }]);
    setNodes(next.nodes);
    setEdges(next.edges);
  }, [past, future, nodes, edges]);
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement;
      if (!(event.ctrlKey || event.metaKey) || target.closest("input, textarea, select")) return;
      if (event.key.toLowerCase() === "z" && !event.shiftKey) { event.preventDefault(); undo(); }
      if ((event.key.toLowerCase() === "z" && event.shiftKey) || event.key.toLowerCase() === "y") { event.preventDefault(); redo(); }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [undo, redo]);

  const onNodesChange = useCallback((changes: NodeChange<BbNode>[]) => {
    const next = applyNodeChanges(changes, nodes);
    if (changes.some((c) => c.type === "remove")) {
      const gone = new Set(changes.flatMap((c) => (c.type === "remove" ? [c.id] : [])));
      commit({ nodes: next, edges: edges.filter((e) => !gone.has(e.source) && !gone.has(e.target)) });
    } else setNodes(next);
  }, [nodes, edges, commit]);
  const onEdgesChange = useCallback((changes: EdgeChange[]) => {
    const next = applyEdgeChanges(changes, edges);
    if (changes.some((c) => c.type === "remove")) commit({ nodes, edges: next });
    else setEdges(next);
  }, [nodes, edges, commit]);
  const onConnect = useCallback((connection: Connection) => {
    const handle = connection.sourceHandle ?? "default";
    const id = `e-${connection.source}-${handle}-${connection.target}`;
    // One edge per handle: a new connection from a handle replaces the old one.
    const others = edges.filter((e) => !(e.source === connection.source && (e.sourceHandle ?? "default") === handle));
    commit({ nodes, edges: addEdge({ ...connection, id, sourceHandle: handle }, others) });
  }, [nodes, edges, commit]);

  /** The keyboard's way to connect (the property panel's "Connections"): a handle to a node, or to none. */
  const link = useCallback((source: string, handle: string, target: string | null) => {
    if (target) onConnect({ source, sourceHandle: handle, target, targetHandle: null });
    else commit({ nodes, edges: edges.filter((e) => !(e.source === source && (e.sourceHandle ?? "default") === handle)) });
  }, [nodes, edges, commit, onConnect]);

  const addNode = useCallback((kind: string, position?: { x: number; y: number }) => {
    const id = newNodeId(kind, nodes);
    const at = position ?? { x: 80 + (nodes.length % 4) * 60, y: 60 + nodes.length * 110 };
    const node: BbNode = { id, type: "bb", position: at, data: { kind, data: {} }, selected: true };
    commit({ nodes: [...nodes.map((n) => ({ ...n, selected: false })), node], edges });
  }, [nodes, edges, commit]);
  const onDrop = useCallback((event: DragEvent) => {
    event.preventDefault();
    const kind = event.dataTransfer.getData(MIME);
    if (kind) addNode(kind, flowApi.screenToFlowPosition({ x: event.clientX, y: event.clientY }));
  }, [addNode, flowApi]);

  async function publish() {
    setNotice(null);
    try {
      const version = (await gql(Publish, { id: flowId, message: publishMessage })).publishFlow;
      await load();
      setNotice({ ok: true, text: `${t("published")} v${version.version}` });
      setPublishMessage("");
    } catch (err) {
      setNotice({ ok: false, text: `${t("publishRefused")}: ${errorText(err)}` });
      await validate();
    }
  }
  async function rollBack(versionId: string) {
    const version = (await gql(RollBack, { id: flowId, version: versionId })).rollBackFlow;
    await load();
    setNotice({ ok: true, text: `${t("published")} v${version.version}` });
  }

  const typeMap = useMemo(() => new Map(types.map((ty) => [ty.type, ty])), [types]);
  const problemMap = useMemo(() => {
    const map = new Map<string, string[]>();
    for (const p of problems) {
      const edge = p.edgeId ? edges.find((e) => e.id === p.edgeId) : undefined;
      const at = p.nodeId ?? edge?.source;
      if (at) map.set(at, [...(map.get(at) ?? []), p.message]);
    }
    return map;
  }, [problems, edges]);
  const badEdges = new Set(problems.map((p) => p.edgeId).filter(Boolean));
  const shownEdges = edges.map((e) => (badEdges.has(e.id) ? { ...e, className: "edge-problem" } : e));
  const selected = nodes.find((n) => n.selected);
  const variables = useMemo(() => flowVariables(flow?.definition?.variables, nodes, typeMap), [flow, nodes, typeMap]);
  const context = useMemo(() => ({ types: typeMap, problems: problemMap, activeNode }), [typeMap, problemMap, activeNode]);

  if (!flow) return <section className="page" aria-busy="true" />;
  return (
    <div className="editor">
      <aside className="palette" aria-label={t("palette")}>
        <h2>{t("palette")}</h2>
        <p className="hint">{t("paletteHint")}</p>
        <ul>
          {types.map((ty) => (
            <li key={ty.type}>
              <button draggable title={ty.description} data-testid={`palette-${ty.type}`}
                onDragStart={(e) => { e.dataTransfer.setData(MIME, ty.type); e.dataTransfer.effectAllowed = "move"; }}
                onClick={() => addNode(ty.type)}>{ty.type}</button>
            </li>
          ))}
        </ul>
      </aside>
      <section className="canvas-area">
        <div className="toolbar">
          <h1 className="flow-title">{flow.name}</h1>
          <button onClick={undo} disabled={!past.length} aria-keyshortcuts="Control+Z">{t("undo")}</button>
          <button onClick={redo} disabled={!future.length} aria-keyshortcuts="Control+Shift+Z">{t("redo")}</button>
          <span className="save-state" role="status" data-state={saveState}>{t(saveState === "saving" ? "saving" : saveState)}</span>
          <label>{t("publishMessage")}<input value={publishMessage} onChange={(e) => setPublishMessage(e.target.value)} /></label>
          <button className="primary" onClick={publish} disabled={saveState !== "saved"}>{t("publish")}</button>
        </div>
        {notice && <p role="alert" className={notice.ok ? "ok" : "error"} data-testid="editor-notice">{notice.text}</p>}
        {compare ? <DiffCanvas pair={compare} types={typeMap} onClose={() => setCompare(null)} /> : (
        <div className="canvas" onDragOver={(e) => { e.preventDefault(); e.dataTransfer.dropEffect = "move"; }} onDrop={onDrop}>
          <CanvasContext.Provider value={context}>
            <ReactFlow nodes={nodes} edges={shownEdges} nodeTypes={NODE_TYPES} onNodesChange={onNodesChange}
              onEdgesChange={onEdgesChange} onConnect={onConnect} fitView={fitOnLoad} fitViewOptions={{ maxZoom: 1 }}
              onNodeDragStart={() => { dragStart.current = { nodes, edges }; }}
              onNodeDragStop={() => { if (dragStart.current) commit({ nodes, edges }, dragStart.current); dragStart.current = null; }}>
              <Background />
              <Controls />
            </ReactFlow>
          </CanvasContext.Provider>
        </div>
        )}
        <div className="below-canvas">
          <section aria-label={t("problems")} data-testid="problems">
            <h2>{t("problems")}</h2>
            {problems.length === 0 ? <p className="ok">{t("noProblems")}</p> : (
              <ul className="problems">{problems.map((p, i) => <li key={i}><code>{p.nodeId ?? p.edgeId ?? "flow"}</code> {p.message}</li>)}</ul>
            )}
          </section>
          <section aria-label={t("versions")}>
            <h2>{t("versions")}</h2>
            <ComparePicker key={flow.versions[0]?.id} versions={flow.versions} onCompare={setCompare} />
            <ul className="versions">
              {flow.versions.map((v: any, i: number) => (
                <li key={v.id}>
                  v{v.version} · {v.message || "—"} · <small>{date(v.createdAt)}</small>{" "}
                  {v.id !== flow.publishedVersionId && <button onClick={() => rollBack(v.id)}>{t("rollBack")}</button>}
                  {flow.versions[i + 1] && (
                    <button onClick={() => setCompare({ from: flow.versions[i + 1].id, to: v.id })}>{t("compare")}</button>
                  )}
                </li>
              ))}
            </ul>
          </section>
        </div>
      </section>
      <aside className="side">
        {selected ? (
          <PropertyPanel key={selected.id} node={selected} info={typeMap.get(selected.data.kind)} problems={problemMap.get(selected.id) ?? []}
            variables={variables} edges={edges.filter((e) => e.source === selected.id)}
            targets={nodes.filter((n) => n.id !== selected.id && n.data.kind !== "start").map((n) => n.id)}
            onLink={(handle, target) => link(selected.id, handle, target)}
            onChange={(data) => commit({ nodes: nodes.map((n) => (n.id === selected.id ? { ...n, data: { ...n.data, data } } : n)), edges })}
            onDelete={() => onNodesChange([{ type: "remove", id: selected.id }])} />
        ) : <p className="hint">{t("selectNode")}</p>}
        <TryPanel botId={flow.botId} onPosition={setActiveNode} />
      </aside>
    </div>
  );
}
