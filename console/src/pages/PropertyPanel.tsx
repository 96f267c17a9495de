import { useState } from "react";
import { useI18n } from "../i18n";
import type { Edge } from "@xyflow/react";
import { handlesOf, type BbNode, type FlowVariable, type NodeTypeInfo } from "../flowModel";
import { TemplateField } from "../components/TemplateField";

const LONG_TEXT = new Set(["content", "prompt", "body", "message", "condition", "expression", "systemPrompt"]);

function resolve(schema: any, root: any): any {
  if (schema?.$ref) return resolve(root.$defs?.[schema.$ref.split("/").pop()], root);
  if (schema?.anyOf) return resolve(schema.anyOf.find((s: any) => s.type !== "null") ?? schema.anyOf[0], root);
  return schema ?? {};
}

/** A form for the node's `data`, generated from its type's JSON Schema. */
export function PropertyPanel({ node, info, problems, variables, edges, targets, onLink, onChange, onDelete }: {
  node: BbNode; info?: NodeTypeInfo; problems: string[]; variables: FlowVariable[];
  edges: Edge[]; targets: string[]; onLink: (handle: string, target: string | null) => void;
  onChange: (data: Record<string, any>) => void; onDelete: () => void;
}) {
  const { t } = useI18n();
  const schema = info?.dataSchema ?? { properties: {} };
  const required = new Set<string>(schema.required ?? []);
  const data = node.data.data;
  const set = (key: string, value: any) => {
    const next = { ...data };
    if (value === "" || value === undefined) delete next[key];
    else next[key] = value;
    onChange(next);
  };
  return (
    <div className="properties" aria-label={t("properties")}>
      <h2>{node.data.kind} <small><code>{node.id}</code></small></h2>
      <p className="hint">{info?.description}</p>
      {problems.length > 0 && (
        <ul className="problems" aria-label={t("problems")}>{problems.map((p) => <li key={p}>{p}</li>)}</ul>
      )}
      {Object.entries<any>(schema.properties ?? {}).map(([key, raw]) => {
        const prop = resolve(raw, schema);
        const label = `${prop.title ?? raw.title ?? key}${required.has(key) ? ` (${t("required")})` : ""}`;
        const id = `prop-${node.id}-${key}`;
        if (key === "options" && prop.type === "array") {
          return <OptionsEditor key={key} id={id} value={data.options ?? []} onChange={(v) => set(key, v)} />;
        }
        if (prop.enum) {
          return (
            <label key={key} htmlFor={id}>{label}
              <select id={id} value={data[key] ?? ""} onChange={(e) => set(key, e.target.value)}>
                <option value="">—</option>
                {prop.enum.map((v: string) => <option key={v} value={v}>{v}</option>)}
              </select>
            </label>
          );
        }
        if (prop.type === "boolean") {
          return (
            <label key={key} className="check" htmlFor={id}>
              <input id={id} type="checkbox" checked={Boolean(data[key] ?? prop.default)} onChange={(e) => set(key, e.target.checked)} />{label}
            </label>
          );
        }
        if (prop.type === "integer" || prop.type === "number") {
          return (
            <label key={key} htmlFor={id}>{label}
              <input id={id} type="number" value={data[key] ?? ""} placeholder={prop.default?.toString()}
                onChange={(e) => set(key, e.target.value === "" ? undefined : Number(e.target.value))} />
            </label>
          );
        }
        if (prop.type === "string") {
          return (
            <label key={key} htmlFor={id}>{label}
              <TemplateField id={id} long={LONG_TEXT.has(key)} value={data[key] ?? ""} variables={variables}
                placeholder={prop.default ?? (LONG_TEXT.has(key) ? "{{variable}}" : "")} onChange={(v) => set(key, v)} />
            </label>
          );
        }
        return <JsonField key={key} id={id} label={label} value={data[key]} onChange={(v) => set(key, v)} />;
      })}
      <Connections handles={handlesOf(info, node.data.kind, data)} edges={edges} targets={targets} onLink={onLink} />
      <button className="danger" onClick={onDelete}>{t("deleteNode")}</button>
    </div>
  );
}

/** Where each outgoing handle leads: the canvas's connections, editable without a pointer. */
function Connections({ handles, edges, targets, onLink }: {
  handles: string[]; edges: Edge[]; targets: string[]; onLink: (handle: string, target: string | null) => void;
}) {
  const { t } = useI18n();
  if (handles.length === 0) return null;
  return (
    <fieldset className="connections">
      <legend>{t("connections")}</legend>
      {handles.map((handle) => {
        const target = edges.find((e) => (e.sourceHandle ?? "default") === handle)?.target ?? "";
        return (
          <label key={handle}>{handle} →
            <select value={target} onChange={(e) => onLink(handle, e.target.value || null)}>
              <option value="">{t("nowhere")}</option>
              {targets.map((id) => <option key={id} value={id}>{id}</option>)}
            </select>
          </label>
        );
      })}
    </fieldset>
  );
}

function OptionsEditor({ id, value, onChange }: { id: string; value: any[]; onChange: (v: any[]) => void }) {
  const { t } = useI18n();
  const update = (index: number, patch: Record<string, string>) =>
    onChange(value.map((o, i) => (i === index ? { ...o, ...patch } : o)));
  return (
    <fieldset id={id}>
      <legend>{t("options")}</legend>
      {value.map((option, index) => (
        <div key={index} className="option-row">
          <label>id<input value={option.id ?? ""} placeholder={String(index + 1)} onChange={(e) => update(index, { id: e.target.value })} /></label>
          <label>{t("label")}<input value={option.label ?? ""} onChange={(e) => update(index, { label: e.target.value })} /></label>
          <button type="button" aria-label={`${t("remove")} ${index + 1}`} onClick={() => onChange(value.filter((_, i) => i !== index))}>×</button>
        </div>
      ))}
      <button type="button" onClick={() => onChange([...value, { id: String(value.length + 1), label: "" }])}>{t("addOption")}</button>
    </fieldset>
  );
}

function JsonField({ id, label, value, onChange }: { id: string; label: string; value: any; onChange: (v: any) => void }) {
  const [text, setText] = useState(value === undefined ? "" : JSON.stringify(value, null, 2));
  const [bad, setBad] = useState(false);
  return (
    <label htmlFor={id}>{label} (JSON)
      <textarea id={id} value={text} aria-invalid={bad} onChange={(e) => setText(e.target.value)}
        onBlur={() => {
          try { onChange(text.trim() ? JSON.parse(text) : undefined); setBad(false); } catch { setBad(true); }
        }} />
    </label>
  );
}
